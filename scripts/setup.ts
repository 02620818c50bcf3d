// `npm run setup` (also run by `npm start` and before `npm test`): makes a fresh clone ready for the notebooks.
// 1. builds the library into dist/ and links node_modules/lora-lab to this clone, so a notebook imports
//    `lora-lab` exactly as a reader's own project would; 2. finds Jupyter, installing it when it can;
// 3. registers the project-local tslab kernel (.jupyter/kernels/lora-lab) and marks the repository's notebooks
//    trusted; 4. for the tests only (--for-tests): gives the webgpu backend an adapter, installing the Vulkan loader
//    and Mesa's lavapipe where it can (Debian 12, root). `npm start` needs no software GPU.
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import * as path from 'node:path';
import { findJupyterPython, INSTALL_JUPYTER_HELP, ROOT, trustNotebooks, writeKernelSpec } from './lib/jupyter.js';
import { cannotInstallVulkan, vulkanDriverOverride } from './lib/vulkan.js';
import { probeWebgpu } from '../src/backend/webgpu-probe.js';

const forTests = process.argv.includes('--for-tests');

function fail(message: string): never {
  console.error(`setup: ${message}`);
  process.exit(1);
}

const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
if (major < 20 || (major === 20 && minor < 19)) {
  fail(`Node ${process.versions.node} is too old: lora-lab needs Node >= 20.19 (require of ES modules)`);
}

// 1. Build and link.
const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const build = spawnSync(process.execPath, [tsc, '-p', path.join(ROOT, 'tsconfig.build.json')], { stdio: 'inherit' });
if (build.status !== 0) fail('building the library (tsc -p tsconfig.build.json) failed; see the errors above');

const link = path.join(ROOT, 'node_modules', 'lora-lab');
let linked = false;
try {
  linked = lstatSync(link).isSymbolicLink() && path.resolve(path.dirname(link), readlinkSync(link)) === ROOT;
} catch {
  linked = false;
}
if (!linked) {
  rmSync(link, { recursive: true, force: true });
  symlinkSync('..', link, 'dir');
}

// 2. Jupyter.
let python = findJupyterPython();
if (python === undefined) {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (isRoot && existsSync('/usr/bin/apt-get')) {
    console.log('setup: Jupyter not found; installing it from Debian packages (apt-get) ...');
    const r = spawnSync('bash', [path.join(ROOT, 'scripts', 'install-system.sh'), '--jupyter'], { stdio: 'inherit' });
    if (r.status !== 0) fail(`installing Jupyter failed.\n${INSTALL_JUPYTER_HELP}`);
  } else if (!forTests && !process.env['CI']) {
    console.log('setup: Jupyter not found; trying `python3 -m pip install --user notebook ipykernel` ...');
    spawnSync('python3', ['-m', 'pip', 'install', '--user', 'notebook', 'ipykernel'], { stdio: 'inherit' });
  }
  python = findJupyterPython();
  if (python === undefined) fail(INSTALL_JUPYTER_HELP);
}

// 3. Kernel spec, and trust: a notebook committed with outputs opens "Not Trusted" until it is signed in this
// user's Jupyter database (`jupyter trust`, here `python3 -m nbformat.sign`), which is done for what is there now.
const kernelDir = writeKernelSpec();
const notebooksDir = path.join(ROOT, 'notebooks');
if (existsSync(notebooksDir)) {
  trustNotebooks(python, readdirSync(notebooksDir).filter((f) => f.endsWith('.ipynb')).map((f) => path.join(notebooksDir, f)));
}
console.log(`setup: library built; kernel 'lora-lab' registered in ${path.relative(ROOT, kernelDir)}; Jupyter: ${python}`);

// 4. A WebGPU adapter for the webgpu tests. Quiet when there is one; where none can be had, the tests say so
// in one line (test/webgpu.test.ts).
if (forTests) {
  const probe = await probeWebgpu();
  const why = cannotInstallVulkan();
  if (probe.adapter === null && why === undefined && vulkanDriverOverride() === undefined) {
    const r = spawnSync('bash', [path.join(ROOT, 'scripts', 'install-system.sh'), '--vulkan', '--quiet'], { stdio: 'inherit' });
    if (r.status !== 0) console.log('setup: installing the Vulkan loader and Mesa lavapipe failed (see above)');
  }
}
