// Runs `lora-lab finetune` in-process with console.log captured, for the CLI tests: the exit code and every printed
// line (`onLine` sees each as it is printed, e.g. to abort a run mid-way).
import { finetuneCommand } from '../../src/cli/finetune.js';

export async function runFinetune(
  args: string[],
  onLine?: (l: string) => void,
): Promise<{ code: number; lines: string[] }> {
  const log = console.log;
  const lines: string[] = [];
  console.log = (...a: unknown[]) => {
    for (const l of a.join(' ').split('\n')) {
      lines.push(l);
      onLine?.(l);
    }
  };
  try {
    return { code: await finetuneCommand.run(args), lines };
  } finally {
    console.log = log;
  }
}
