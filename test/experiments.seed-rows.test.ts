// The loop and memo SeedRuns and FineTuneRuns share: rows per point × seed in order, errors naming point and seed,
// identical runs answered from memory (and re-run when not usable), failed runs forgotten, keys independent of order.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { canonical, RunMemo, seedRows } from '../src/experiments/seed-rows.js';

describe('seedRows', () => {
  it('gives the rows point by point, seeds in order, one or several per run, with a report per run', async () => {
    const steps: string[] = [];
    const rows = await seedRows(
      [{ r: 1 }, { r: 2 }],
      [5, 6],
      async (p, seed) => ({ result: p.r * 10 + seed, reused: seed === 6 }),
      (v, p) => (p.r === 2 ? [{ v }, { v: -v }] : { v }),
      (s) => steps.push(`${s.done}/${s.total} ${s.seed} ${s.reused}`),
    );
    assert.deepEqual(rows, [
      { r: 1, seed: 5, v: 15 }, { r: 1, seed: 6, v: 16 },
      { r: 2, seed: 5, v: 25 }, { r: 2, seed: 5, v: -25 }, { r: 2, seed: 6, v: 26 }, { r: 2, seed: 6, v: -26 },
    ]);
    assert.deepEqual(steps, ['1/4 5 false', '2/4 6 true', '3/4 5 false', '4/4 6 true']);
  });

  it('refuses no seeds and repeated seeds, and names the point and seed of a failed run', async () => {
    const ok = async () => ({ result: 1, reused: false });
    await assert.rejects(seedRows([{ r: 1 }], [], ok, () => ({})), /needs at least one seed/);
    await assert.rejects(seedRows([{ r: 1 }], [1, 1], ok, () => ({})), /seeds must differ, got \[1,1\]/);
    const bad = async () => { throw new Error('NaN loss'); };
    await assert.rejects(seedRows([{ r: 3 }], [2], bad, () => ({})), /run \{"r":3\} at seed 2 failed: NaN loss/);
  });
});

describe('RunMemo', () => {
  it('trains a key once, answers it again, re-runs it when not usable, forgets a failure', async () => {
    const memo = new RunMemo<number>();
    let made = 0;
    const make = async () => ++made;
    assert.deepEqual(await memo.get('a', make), { result: 1, reused: false });
    assert.deepEqual(await memo.get('a', make), { result: 1, reused: true });
    assert.deepEqual(await memo.get('a', make, (v) => v > 1), { result: 2, reused: false });
    await assert.rejects(memo.get('b', async () => { throw new Error('boom'); }), /boom/);
    assert.deepEqual(await memo.get('b', make), { result: 3, reused: false });
    assert.deepEqual(memo.counts, { trained: 3, reused: 1 });
  });

  it('keys equal settings alike whatever order their fields were written in', () => {
    assert.equal(canonical({ b: 1, a: { d: [2, { y: 1, x: 0 }], c: 3 } }), canonical({ a: { c: 3, d: [2, { x: 0, y: 1 }] }, b: 1 }));
    assert.notEqual(canonical({ a: 1 }), canonical({ a: 2 }));
  });
});
