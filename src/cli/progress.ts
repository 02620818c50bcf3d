// Training progress on a terminal: a bar redrawn in place on a TTY, else one stable log line every few steps
// (`step 100/500  loss 0.4123  val 0.4410  12.3 ms/step`), for `finetune` and `pretrain`.
import { formatProgress, formatProgressBar } from '../train/format.js';
import type { Progress } from '../train/loop.js';

/** A progress callback for a terminal: a bar redrawn in place on a TTY, else one log line every `every` steps. */
export function terminalProgress(label: string, every = 100): (p: Progress) => void {
  const tty = process.stdout.isTTY === true;
  return (p) => {
    if (tty) {
      process.stdout.write(`\r${label} ${formatProgressBar(p)}\x1b[K`);
      if (p.step === p.steps) process.stdout.write('\n');
    } else if (p.step % every === 0 || p.step === p.steps || p.valLoss !== undefined) {
      console.log(`${label} ${formatProgress(p)}`);
    }
  };
}
