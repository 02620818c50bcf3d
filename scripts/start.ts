// `npm start`: opens classic Jupyter Notebook on notebooks/ with the lora-lab kernel (after setup has run).
// Jupyter keeps its defaults: token authentication, listening on localhost only. Extra arguments pass through,
// e.g. `npm start -- --port 9999` or `npm start -- --no-browser`.
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { findJupyterPython, INSTALL_JUPYTER_HELP, jupyterEnv, ROOT } from './lib/jupyter.js';

const python = findJupyterPython();
if (python === undefined) {
  console.error(INSTALL_JUPYTER_HELP);
  process.exit(1);
}
const extra = process.argv.slice(2);
// Jupyter refuses to start as root (containers, CI-like machines) unless told; say so rather than fail.
if (typeof process.getuid === 'function' && process.getuid() === 0 && !extra.includes('--allow-root')) {
  console.log('Running as root: passing --allow-root to Jupyter.');
  extra.push('--allow-root');
}
const args = ['-m', 'notebook', `--notebook-dir=${path.join(ROOT, 'notebooks')}`, ...extra];
console.log(`Starting Jupyter on notebooks/ (kernel: TypeScript (lora-lab)). Stop with Ctrl-C.`);
const child = spawn(python, args, { stdio: 'inherit', env: jupyterEnv() });
const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
process.on('SIGINT', forward('SIGINT'));
process.on('SIGTERM', forward('SIGTERM'));
child.on('exit', (code) => process.exit(code ?? 0));
