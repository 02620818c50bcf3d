// `lora-lab backends`: which TF.js backends load on this machine, and what `auto` would pick.
import { BACKENDS, releaseBackend, useBackend } from '../backend/index.js';
import { parseFlags, type Command } from './command.js';

export const backendsCommand: Command = {
  name: 'backends',
  summary: 'list the TF.js backends that load here and the one `auto` picks',
  help: [
    'usage: lora-lab backends',
    '',
    'Tries each backend (node-gpu, node, webgpu, wasm, cpu) and prints whether it loads, and why not.',
    'Set LORA_LAB_BACKEND (or pass --backend to other commands) to choose one.',
  ].join('\n'),
  async run(args) {
    parseFlags(args, {});
    for (const name of BACKENDS) {
      try {
        const info = await useBackend(name);
        console.log(`${name.padEnd(9)} ok${info.adapter ? `  (${info.adapter})` : ''}`);
      } catch (e) {
        console.log(`${name.padEnd(9)} no  ${(e as Error).message}`);
      }
    }
    const auto = await useBackend('auto', { log: null });
    console.log(`auto      -> ${auto.name} (${auto.reason})`);
    releaseBackend();
    return 0;
  },
};
