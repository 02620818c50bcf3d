// `npm run notebooks:check -- a.ipynb b.ipynb` / `npm run notebooks:execute -- ...`: runs notebooks in real
// Jupyter with the lora-lab kernel (scripts/nbrun.py does the protocol work) and fails on any error, skipped
// cell or unexpected stderr, naming the notebook and the cell. `execute` also saves the outputs into the files.
// `overrides` runs each notebook that names a test parameter set (metadata.lora_lab.test_parameters) with it:
// every check must hold, and at least 80 % as many checks must run as the committed (default) run printed.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { findJupyterPython, INSTALL_JUPYTER_HELP, jupyterEnv, ROOT, trustNotebooks, writeKernelSpec } from './lib/jupyter.js';

const [mode, ...args] = process.argv.slice(2);
// The notebooks import the built library (dist/): rebuild it first so they never run stale code.
const noBuild = args.includes('--no-build');
const rest = args.filter((a) => a !== '--no-build');
const MODES = ['check', 'execute', 'overrides'];
/** Share of the default run's checks that must also run under a notebook's test parameters. */
const MIN_CHECK_SHARE = 0.8;
if (!MODES.includes(mode ?? '') || rest.filter((a) => !a.startsWith('--')).length === 0) {
  console.error('usage: npm run notebooks:check -- NOTEBOOK.ipynb...   (or notebooks:execute to save outputs)');
  console.error('       tsx scripts/notebooks.ts overrides NOTEBOOK.ipynb...  (run each with its test_parameters)');
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
// exitCode, not exit(): a piped stdout is written asynchronously, and exit() would cut off the last lines.
if (mode === 'overrides') {
  process.exitCode = runOverrides(python, rest);
} else {
  const r = spawnSync(python, [path.join(ROOT, 'scripts', 'nbrun.py'), mode!, ...rest], { stdio: 'inherit', env: jupyterEnv() });
  // A file the runner rewrote has a new signature: sign it again so Jupyter keeps it trusted.
  if (mode === 'execute' && !rest.includes('--param')) trustNotebooks(python, rest.filter((a) => a.endsWith('.ipynb')));
  process.exitCode = r.status ?? 1;
}

interface NotebookFile {
  metadata?: { lora_lab?: { test_parameters?: Record<string, unknown> } };
  cells: { cell_type: string; outputs?: { output_type: string; name?: string; text?: string | string[] }[] }[];
}

/** check() lines (✓) in a notebook's saved outputs: what its committed, default run proved. */
function committedChecks(nb: NotebookFile): number {
  let n = 0;
  for (const c of nb.cells) {
    for (const o of c.outputs ?? []) {
      if (o.output_type !== 'stream' || o.name !== 'stdout') continue;
      n += [o.text ?? ''].flat().join('').split('\n').filter((l) => l.startsWith('✓ ')).length;
    }
  }
  return n;
}

function runOverrides(python: string, args: string[]): number {
  const files = args.filter((a) => a.endsWith('.ipynb'));
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'lora-lab-overrides-'));
  let failed = 0;
  let ran = 0;
  try {
    for (const file of files) {
      const nb = JSON.parse(readFileSync(file, 'utf8')) as NotebookFile;
      const params = nb.metadata?.lora_lab?.test_parameters;
      if (params === undefined) continue;
      ran++;
      const report = path.join(tmp, `${path.basename(file)}.json`);
      const flags = Object.entries(params).flatMap(([k, v]) => ['--param', `${k}=${JSON.stringify(v)}`]);
      const r = spawnSync(python, [path.join(ROOT, 'scripts', 'nbrun.py'), 'check', file, ...flags, '--report', report], {
        stdio: 'inherit',
        env: jupyterEnv(),
      });
      const [res] = JSON.parse(readFileSync(report, 'utf8')) as { ok: boolean; checks: number }[];
      const defaults = committedChecks(nb);
      const share = defaults === 0 ? 1 : res!.checks / defaults;
      if (r.status !== 0 || !res!.ok) {
        failed++;
      } else if (share < MIN_CHECK_SHARE) {
        failed++;
        console.log(
          `FAIL ${file}: only ${res!.checks} of the default run's ${defaults} checks ran under its test parameters ` +
            `(${(100 * share).toFixed(0)} % < ${100 * MIN_CHECK_SHARE} %): write the checks in terms of the parameters`,
        );
      } else {
        console.log(`     ${res!.checks} of the default run's ${defaults} checks ran (${(100 * share).toFixed(0)} %)`);
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  console.log(`notebook overrides: ${ran - failed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}
