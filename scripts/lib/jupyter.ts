// Where Jupyter is and how our kernel is registered: shared by setup, start and the notebook runner.
// The kernel spec lives in this clone (.jupyter/kernels/lora-lab) and runs this clone's tslab with this Node,
// so notebooks never pick up a global tslab; JUPYTER_PATH points Jupyter at it.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const JUPYTER_DIR = path.join(ROOT, '.jupyter');
export const KERNEL_NAME = 'lora-lab';

const NEEDED = 'import jupyter_client, ipykernel, nbformat, notebook';

/** A Python that has Jupyter: $LORA_LAB_PYTHON, then /usr/bin/python3 (Debian's), then python3 on PATH. */
export function findJupyterPython(): string | undefined {
  const candidates = [process.env['LORA_LAB_PYTHON'], '/usr/bin/python3', 'python3'].filter(
    (c): c is string => typeof c === 'string' && c !== '',
  );
  for (const py of candidates) {
    const r = spawnSync(py, ['-c', NEEDED], { stdio: 'ignore' });
    if (r.status === 0) return py;
  }
  return undefined;
}

/** The exact commands that install Jupyter, for messages. */
export const INSTALL_JUPYTER_HELP = [
  'Jupyter is not installed (a Python with jupyter_client, ipykernel, nbformat and notebook). Install it with one of:',
  '  sudo apt-get install -y jupyter-notebook python3-ipykernel python3-jupyter-client python3-nbclient   (Debian/Ubuntu)',
  '  python3 -m pip install --user notebook ipykernel   (anywhere with PyPI access)',
  'or point LORA_LAB_PYTHON at a Python that has them.',
].join('\n');

/** Writes the project-local kernel spec that runs this clone's tslab with this Node binary. */
export function writeKernelSpec(): string {
  const dir = path.join(JUPYTER_DIR, 'kernels', KERNEL_NAME);
  mkdirSync(dir, { recursive: true });
  const tslabMain = path.join(ROOT, 'node_modules', 'tslab', 'bin', 'tslab');
  if (!existsSync(tslabMain)) throw new Error(`tslab is missing at ${tslabMain}: run \`npm install\` first`);
  const spec = {
    argv: [process.execPath, tslabMain, 'kernel', '--config-path', '{connection_file}'],
    display_name: 'TypeScript (lora-lab)',
    language: 'typescript',
    env: { XDG_RUNTIME_DIR: process.env['XDG_RUNTIME_DIR'] ?? '/tmp' },
  };
  writeFileSync(path.join(dir, 'kernel.json'), JSON.stringify(spec, null, 2) + '\n');
  return dir;
}

/**
 * The environment Jupyter needs to find our kernel spec. PYDEVD_DISABLE_FILE_VALIDATION silences the debugger
 * warning ("frozen modules ...") that Debian's Jupyter prints on its terminal when a notebook opens.
 */
export function jupyterEnv(): NodeJS.ProcessEnv {
  const existing = process.env['JUPYTER_PATH'];
  return {
    ...process.env,
    JUPYTER_PATH: existing ? `${JUPYTER_DIR}${path.delimiter}${existing}` : JUPYTER_DIR,
    XDG_RUNTIME_DIR: process.env['XDG_RUNTIME_DIR'] ?? '/tmp',
    PYDEVD_DISABLE_FILE_VALIDATION: process.env['PYDEVD_DISABLE_FILE_VALIDATION'] ?? '1',
  };
}

/**
 * Marks notebooks trusted in this user's Jupyter database (`jupyter trust`), so that Jupyter shows their committed
 * outputs without "Not Trusted". Prints one line if it cannot.
 */
export function trustNotebooks(python: string, files: string[]): void {
  if (files.length === 0) return;
  const r = spawnSync(python, ['-m', 'nbformat.sign', ...files], { env: jupyterEnv(), encoding: 'utf8' });
  if (r.status !== 0) {
    console.log(`could not mark the notebooks trusted (python3 -m nbformat.sign): ${r.stderr.trim().split('\n').pop()}`);
  }
}
