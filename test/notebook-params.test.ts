// The runner's --param: an override runs right after the `parameters` cell that declares the name, an unknown
// name is an error listing the notebook's parameters, and `execute --param` never writes over the notebook.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.join(import.meta.dirname, '..');
const fixture = path.join(import.meta.dirname, 'fixtures', 'params', 'knobs.ipynb');

function runner(...args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'scripts', 'notebooks.ts'), ...args, '--no-build'], {
    encoding: 'utf8',
    timeout: 120_000,
    cwd: root,
  });
}

describe('timing lines', () => {
  it('execute writes "takes about N s" before a cell over 10 s, and removes it from a faster one', () => {
    const script = [
      'import sys, json, nbformat',
      `sys.path.insert(0, ${JSON.stringify(path.join(root, 'scripts'))})`,
      'import nbrun',
      'nb = nbformat.v4.new_notebook()',
      "nb.cells = [nbformat.v4.new_markdown_cell('Slow.\\n\\n*⏱ takes about 90 s on 2 cores*'), nbformat.v4.new_code_cell('a')," +
        " nbformat.v4.new_markdown_cell('Fast.\\n\\n*⏱ takes about 40 s on 2 cores*'), nbformat.v4.new_code_cell('b')]",
      "nb.cells[1].metadata['lora_lab'] = {'seconds': 41.2}",
      "nb.cells[3].metadata['lora_lab'] = {'seconds': 0.4}",
      'nbrun.mark_slow_cells(nb)',
      'print(json.dumps([nb.cells[0].source, nb.cells[2].source]))',
    ].join('\n');
    const r = spawnSync('/usr/bin/python3', ['-c', script], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const [slow, fast] = JSON.parse(r.stdout) as [string, string];
    assert.match(slow, /^Slow\.\n\n\*⏱ takes about 40 s on \d+ cores?\*$/);
    assert.equal(fast, 'Fast.');
  });
});

describe('notebook parameters', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'nbparams-'));
  mkdirSync(path.join(root, 'out'), { recursive: true });

  it('runs with the defaults, then with overrides (a number, a bare word, a JSON list)', () => {
    const report = path.join(tmp, 'report.json');
    const r = runner('check', fixture, '--param', 'r=8', '--param', 'task=reverse', '--param', 'targets=["o_proj"]', '--report', report);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const [res] = JSON.parse(readFileSync(report, 'utf8')) as { checks: number; params: Record<string, unknown> }[];
    assert.deepEqual(res!.params, { r: 8, task: 'reverse', targets: ['o_proj'] });
    assert.equal(res!.checks, 1, 'the default-only check does not run under the override');
    assert.match(r.stdout, /ok .*knobs\.ipynb \(.* s, 1 checks, r=8 task="reverse" targets=\["o_proj"\]\)/);
    const d = runner('check', fixture, '--report', report);
    assert.equal(d.status, 0, d.stdout + d.stderr);
    assert.equal((JSON.parse(readFileSync(report, 'utf8')) as { checks: number }[])[0]!.checks, 2);
  });

  it('takes the notebooks after the options too (npm run notebooks:check -- --param r=8 NOTEBOOK)', () => {
    const report = path.join(tmp, 'report-order.json');
    const r = runner('check', '--param', 'r=8', '--report', report, fixture);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const [res] = JSON.parse(readFileSync(report, 'utf8')) as { params: Record<string, unknown> }[];
    assert.deepEqual(res!.params, { r: 8 });
  });

  it('an unknown name fails and lists the parameters', () => {
    const r = runner('check', fixture, '--param', 'rank=8');
    assert.equal(r.status, 1);
    assert.match(r.stdout, /knobs\.ipynb has no parameter 'rank'; its parameters are: r, task, targets/);
  });

  it('execute --param writes the executed copy elsewhere and leaves the notebook as it was', () => {
    const before = readFileSync(fixture, 'utf8');
    const out = path.join(tmp, 'knobs.r8.ipynb');
    const r = runner('execute', fixture, '--param', 'r=8', '--output', out);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.equal(readFileSync(fixture, 'utf8'), before);
    const nb = JSON.parse(readFileSync(out, 'utf8')) as { cells: { source: string | string[]; metadata: { tags?: string[] }; outputs?: { text?: string | string[] }[] }[] };
    const injected = nb.cells[2]!;
    assert.deepEqual(injected.metadata.tags, ['injected-parameters']);
    assert.equal([injected.source].flat().join(''), 'r = 8;');
    const printed = nb.cells[3]!.outputs!.map((o) => [o.text ?? ''].flat().join('')).join('');
    assert.match(printed, /r = 8, task = shift/);
    assert.match(printed, /✓ 2 × 8 = 8 \+ 8/);
  });

  it('overrides: a notebook passes with its test parameters only if >= 80 % of its default checks still run', () => {
    // The fixture's committed run printed 2 checks; under r = 8 one is default-only: 50 %, too few.
    const nb = JSON.parse(readFileSync(fixture, 'utf8')) as { metadata: Record<string, unknown>; cells: { outputs?: unknown[] }[] };
    nb.cells[2]!.outputs = [{ output_type: 'stream', name: 'stdout', text: '✓ 2 × 4 = 4 + 4\n' }];
    nb.cells[3]!.outputs = [{ output_type: 'stream', name: 'stdout', text: '✓ at the default r = 4, r² = 16\n' }];
    // Inside the repository (out/ is ignored), where a notebook resolves 'lora-lab'.
    const here = mkdtempSync(path.join(root, 'out', 'nbparams-'));
    const few = path.join(here, 'few.ipynb');
    writeFileSync(few, JSON.stringify({ ...nb, metadata: { ...nb.metadata, lora_lab: { test_parameters: { r: 8 } } } }));
    const enough = path.join(here, 'enough.ipynb');
    writeFileSync(enough, JSON.stringify({ ...nb, metadata: { ...nb.metadata, lora_lab: { test_parameters: { task: 'swap' } } } }));
    const bad = runner('overrides', few);
    assert.equal(bad.status, 1, bad.stdout);
    assert.match(bad.stdout, /only 1 of the default run's 2 checks ran under its test parameters \(50 % < 80 %\)/);
    const good = runner('overrides', enough);
    assert.equal(good.status, 0, good.stdout + good.stderr);
    assert.match(good.stdout, /2 of the default run's 2 checks ran \(100 %\)/);
    rmSync(here, { recursive: true, force: true });
  });
});
