// `npm run pretrain [-- flags]`: trains the bundled base models and writes data/checkpoints (see
// `lora-lab pretrain --help`). Same code path as the CLI command.
import { pretrainCommand } from '../src/cli/pretrain.js';
import { UsageError } from '../src/cli/command.js';

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  console.log(pretrainCommand.help);
  process.exit(0);
}
try {
  process.exit(await pretrainCommand.run(args));
} catch (e) {
  console.error(`pretrain: ${(e as Error).message.split('\n')[0]}`);
  process.exit(e instanceof UsageError ? 2 : 1);
}
