// `lora-lab backends`: which TF.js backends load on this machine, and what `auto` would pick.
import { BACKENDS, probeWebgpu, releaseBackend, useBackend } from '../backend/index.js';
import { parseFlags, type Command } from './command.js';

export const backendsCommand: Command = {
  name: 'backends',
  summary: 'list the TF.js backends that load here and the one `auto` picks',
  help: [
    'usage: lora-lab backends',
    '',
    'Tries each backend (node-gpu, node, webgpu, wasm, cpu) and prints whether it loads, and why not',
    '(webgpu is asked for its adapter in a child process, so Dawn\'s driver messages stay out of the terminal).',
    'Set LORA_LAB_BACKEND (or pass --backend to other commands) to choose one.',
  ].join('\n'),
  async run(args) {
    parseFlags(args, {});
    for (const name of BACKENDS) {
      if (name === 'webgpu') {
        // Asked in a child process: loading Dawn here would print its native warnings to this terminal.
        const p = await probeWebgpu();
        const software = p.software ? ' (a CPU rasteriser: `auto` prefers wasm)' : '';
        console.log(p.adapter === null ? `webgpu    no  no GPU adapter: ${p.reason}` : `webgpu    ok  (${p.adapter})${software}`);
        continue;
      }
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
