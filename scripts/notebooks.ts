// `npm run notebooks:check -- a.ipynb b.ipynb` / `npm run notebooks:execute -- ...`: runs notebooks in real
// Jupyter with the lora-lab kernel (scripts/nbrun.py does the protocol work) and fails on any error, skipped
// cell or unexpected stderr, naming the notebook and the cell. `execute` also saves the outputs into the files.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { findJupyterPython, INSTALL_JUPYTER_HELP, jupyterEnv, ROOT, trustNotebooks, writeKernelSpec } from './lib/jupyter.js';

const [mode, ...args] = process.argv.slice(2);
// The notebooks import the built library (dist/): rebuild it first so they never run stale code.
const noBuild = args.includes('--no-build');
const rest = args.filter((a) => a !== '--no-build');
if ((mode !== 'check' && mode !== 'execute') || rest.filter((a) => !a.startsWith('--')).length === 0) {
  console.error('usage: npm run notebooks:check -- NOTEBOOK.ipynb...   (or notebooks:execute to save outputs)');
  console.error('       options: --timeout SECONDS (per cell, default 600), --report FILE (JSON results),');
  console.error('                --no-build (skip rebuilding dist/ first),');
  console.error('                --param NAME=VALUE (override a knob of a parameters cell; repeatable),');
  console.error('                --output FILE (with execute --param: where the executed copy goes)');
  process.exit(2);
}
const python = findJupyterPython();
if (python === undefined) {
  console.error(INSTALL_JUPYTER_HELP);
  process.exit(1);
}
if (!noBuild) {
  const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const build = spawnSync(process.execPath, [tsc, '-p', path.join(ROOT, 'tsconfig.build.json')], { stdio: 'inherit' });
  if (build.status !== 0) {
    console.error('building the library failed (see above); fix it, or pass --no-build to run on the existing dist/');
    process.exit(1);
  }
}
writeKernelSpec();
const r = spawnSync(python, [path.join(ROOT, 'scripts', 'nbrun.py'), mode, ...rest], {
  stdio: 'inherit',
  env: jupyterEnv(),
});
// A file the runner rewrote has a new signature: sign it again so Jupyter keeps it trusted.
if (mode === 'execute' && !rest.includes('--param')) trustNotebooks(python, rest.filter((a) => a.endsWith('.ipynb')));
process.exit(r.status ?? 1);
