#!/usr/bin/env node
// `lora-lab <command>`: parses the command word and hands the rest to that command (see command.ts).
// Bad input is one line on stderr and exit code 2; a failure is one line and exit code 1
// (LORA_LAB_DEBUG=1 adds the stack trace).
import { createRequire } from 'node:module';
import { adapterCommand } from './adapter.js';
import { backendsCommand } from './backends.js';
import { finetuneCommand } from './finetune.js';
import { pretrainCommand } from './pretrain.js';
import { UsageError, type Command } from './command.js';

const commands: Command[] = [finetuneCommand, pretrainCommand, adapterCommand, backendsCommand];

function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'usage: lora-lab <command> [flags]     (lora-lab <command> --help for its flags)',
    '',
    'commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'environment: LORA_LAB_BACKEND=auto|node-gpu|node|webgpu|wasm|cpu chooses the TF.js backend.',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version') {
    const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };
    console.log(pkg.version);
    return 0;
  }
  const command = commands.find((c) => c.name === name);
  if (command === undefined) {
    console.error(`lora-lab: unknown command '${name}'; commands: ${commands.map((c) => c.name).join(', ')}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(command.help);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (e) {
    const err = e as Error;
    if (process.env['LORA_LAB_DEBUG'] === '1') console.error(err.stack);
    console.error(`lora-lab ${name}: ${err.message.split('\n')[0]}`);
    return err instanceof UsageError ? 2 : 1;
  }
}

// Run when executed directly (bin or `tsx src/cli/main.ts`), not when imported by a test.
const invokedAs = process.argv[1] ?? '';
if (/(?:^|[\\/])(?:main\.[jt]s|lora-lab)$/.test(invokedAs)) {
  main(process.argv.slice(2)).then(
    (code) => {
      // Exit explicitly: a webgpu device or a worker would otherwise keep the process alive.
      process.exit(code);
    },
    (e: unknown) => {
      console.error(`lora-lab: ${(e as Error).message}`);
      process.exit(1);
    },
  );
}
