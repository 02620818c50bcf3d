// The notebook runner must fail on every way a tslab notebook can go wrong (test/fixtures/notebooks), name the
// failing cell, and pass a good notebook. Runs all fixtures in one runner call (one kernel start each).
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const fixtures = path.join(import.meta.dirname, 'fixtures', 'notebooks');

/** What each broken fixture's failure must say, and which cell it must name. */
const expected: Record<string, { cell: string | null; says: RegExp }> = {
  'type-error.ipynb': { cell: 'cell 2', says: /Type 'string' is not assignable to type 'number'/ },
  'thrown-error.ipynb': { cell: 'cell 2', says: /thrown on purpose/ },
  'error-after-await.ipynb': { cell: 'cell 1', says: /thrown after an await/ },
  'failing-check.ipynb': { cell: 'cell 1', says: /✗ one plus one is three/ },
  'raises-exception-tag.ipynb': { cell: 'cell 1', says: /raises-exception still fails/ },
  'uncaught-async.ipynb': { cell: 'cell 2', says: /UncaughtException: Error: thrown from a timer/ },
  'unhandled-rejection.ipynb': { cell: null, says: /a promise nobody awaited/ },
  'unexpected-stderr.ipynb': { cell: 'cell 1', says: /unexpected stderr: something went to stderr/ },
};

interface Result {
  notebook: string;
  ok: boolean;
  failures: string[];
}

describe('notebook runner', () => {
  let results: Map<string, Result>;
  let status: number | null;
  let stdout: string;

  before(() => {
    const report = path.join(mkdtempSync(path.join(os.tmpdir(), 'nbrun-')), 'report.json');
    const notebooks = readdirSync(fixtures).filter((f) => f.endsWith('.ipynb')).map((f) => path.join(fixtures, f));
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', path.join(import.meta.dirname, '..', 'scripts', 'notebooks.ts'), 'check', ...notebooks, '--report', report],
      { encoding: 'utf8', timeout: 300_000 },
    );
    status = r.status;
    stdout = r.stdout;
    results = new Map(
      (JSON.parse(readFileSync(report, 'utf8')) as Result[]).map((x) => [path.basename(x.notebook), x]),
    );
  });

  it('exits non-zero and prints the closing count when any notebook fails', () => {
    assert.equal(status, 1);
    assert.match(stdout, /^notebooks: 1 passed, 8 failed$/m);
  });

  it('passes the good notebook (output, silent cell, await, chart, check)', () => {
    assert.deepEqual(results.get('good.ipynb'), { ...results.get('good.ipynb'), ok: true, failures: [] });
  });

  for (const [name, want] of Object.entries(expected)) {
    it(`fails ${name} and says why`, () => {
      const r = results.get(name);
      assert.ok(r, `no result for ${name}`);
      assert.equal(r.ok, false);
      assert.equal(r.failures.length, 1);
      assert.match(r.failures[0]!, want.says);
      if (want.cell) assert.ok(r.failures[0]!.startsWith(want.cell + ' '), `should name ${want.cell}: ${r.failures[0]}`);
      assert.doesNotMatch(r.failures[0]!, /must never be reached/);
    });
  }

  it('every fixture is covered by this test', () => {
    assert.deepEqual([...results.keys()].sort(), [...Object.keys(expected), 'good.ipynb'].sort());
  });
});
