// The runner's --param: an override runs right after the `parameters` cell that declares the name, an unknown
// name is an error listing the notebook's parameters, and `execute --param` never writes over the notebook.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
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

describe('notebook parameters', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'nbparams-'));

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
});
