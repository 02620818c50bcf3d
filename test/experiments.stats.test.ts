// Seed statistics and the "beats" rule; array comparisons; interleaved timings; the spread chart renders.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { compareSeeds, describeComparison, median, seedSummary, spread, spreadBy, unbeaten } from '../src/experiments/stats.js';
import { maxAbsDiff, relativeError } from '../src/linalg/compare.js';
import { Matrix } from 'ml-matrix';
import { interleavedMedians } from '../src/notebook/timing.js';
import { renderSvg, spreadChart } from '../src/charts/index.js';

describe('seed statistics', () => {
  it('spread and median', () => {
    assert.deepEqual(spread([3, 1, 2]), { n: 3, mean: 2, min: 1, max: 3, range: 2, values: [3, 1, 2] });
    assert.equal(median([5, 1, 3]), 3);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.throws(() => spread([1, NaN]), /value 1 is NaN, not a finite number/);
    assert.throws(() => median([]), /median of no values/);
  });

  it('one setting beats another only when the ranges do not overlap', () => {
    const lower = compareSeeds([1.0, 1.1, 1.2], [1.3, 1.4, 1.5], { lowerIsBetter: true });
    assert.equal(lower.better, 'a');
    assert.ok(Math.abs(lower.diff - -0.3) < 1e-12);
    const overlap = compareSeeds([1.0, 1.1, 1.35], [1.3, 1.4, 1.5], { lowerIsBetter: true });
    assert.equal(overlap.separated, false);
    assert.equal(overlap.better, null);
    assert.equal(compareSeeds([0.9, 0.8, 0.85], [0.5, 0.6, 0.7], { lowerIsBetter: false }).better, 'a');
    assert.equal(compareSeeds([0.9, 0.8, 0.85], [0.5, 0.6, 0.7], { lowerIsBetter: true }).better, 'b');
  });

  it('describes a comparison in one line: means, ranges, and a winner only beyond the spread', () => {
    const lower = compareSeeds([1.0, 1.1, 1.2], [1.3, 1.4, 1.5], { lowerIsBetter: true });
    assert.equal(lower.lowerIsBetter, true);
    assert.equal(
      describeComparison(lower, ['r = 8', 'r = 2']),
      "r = 8 1.10 [1.00, 1.20] vs r = 2 1.40 [1.30, 1.50]: r = 8 lower, beyond the seeds' spread",
    );
    const acc = compareSeeds([0.5, 0.6, 0.7], [0.8, 0.9, 0.85], { lowerIsBetter: false });
    assert.equal(describeComparison(acc, ['a', 'b'], { digits: 1 }), "a 0.6 [0.5, 0.7] vs b 0.9 [0.8, 0.9]: b higher, beyond the seeds' spread");
    const overlap = compareSeeds([1.0, 1.1, 1.35], [1.3, 1.4, 1.5], { lowerIsBetter: true });
    assert.match(describeComparison(overlap, ['x', 'y']), /: no difference at this scale \(the ranges overlap\)$/);
  });

  it('refuses a comparison on fewer than 3 seeds', () => {
    assert.throws(() => compareSeeds([1, 2], [3, 4, 5], { lowerIsBetter: true }), /'a' has 2 seed\(s\); a comparison needs at least 3/);
  });

  it('seedSummary gives one row per setting: the mean and min–max range of each field over its seeds', () => {
    const rows = [
      { r: 8, rule: 'a', seed: 0, loss: 1, em: 0.5 },
      { r: 2, rule: 'a', seed: 0, loss: 2.5, em: 0 },
      { r: 8, rule: 'a', seed: 1, loss: 2, em: 0.25 },
      { r: 8, rule: 'b', seed: 0, loss: 3, em: 0 },
    ];
    assert.deepEqual(seedSummary(rows, ['r', 'rule'], ['loss', 'em']), [
      { r: 8, rule: 'a', seeds: 2, loss: 1.5, 'loss range': '1–2', em: 0.375, 'em range': '0.25–0.5' },
      { r: 2, rule: 'a', seeds: 1, loss: 2.5, 'loss range': '2.5–2.5', em: 0, 'em range': '0–0' },
      { r: 8, rule: 'b', seeds: 1, loss: 3, 'loss range': '3–3', em: 0, 'em range': '0–0' },
    ]);
    assert.equal(seedSummary([{ k: 1, v: 1 / 3 }], ['k'], ['v'], { digits: 2 })[0]!['v'], 0.33);
    assert.throws(() => seedSummary([{ k: 1, v: 'x' }], ['k'], ['v']), /field 'v' is "x", not a number/);
  });

  it('unbeaten keeps the settings that no other setting beat beyond the spread', () => {
    const rows = [1, 1.1, 1.2].flatMap((v, seed) => [
      { r: 2, seed, loss: v + 1 }, // beaten by both others
      { r: 8, seed, loss: v }, // best mean
      { r: 32, seed, loss: v + (seed === 0 ? 0.3 : 0.05) }, // overlaps r = 8
    ]);
    assert.deepEqual(unbeaten(rows, 'r', 'loss', { lowerIsBetter: true }), [8, 32]);
    assert.deepEqual(unbeaten(rows, 'r', 'loss', { lowerIsBetter: false }), [2]);
    assert.throws(() => unbeaten(rows.slice(0, 4), 'r', 'loss', { lowerIsBetter: true }), /has 1 seed\(s\)/);
  });

  it('spreadBy groups rows in first-seen order', () => {
    const rows = [
      { r: 8, seed: 0, loss: 1 },
      { r: 4, seed: 0, loss: 3 },
      { r: 8, seed: 1, loss: 2 },
    ];
    const s = spreadBy(rows, 'r', 'loss');
    assert.deepEqual([...s.keys()], [8, 4]);
    assert.equal(s.get(8)!.mean, 1.5);
    assert.throws(() => spreadBy([{ r: 1, loss: 'x' }], 'r', 'loss'), /field 'loss' is "x", not a number/);
  });
});

describe('array comparisons', () => {
  it('max |Δ| and relative error over flat, nested and Matrix inputs', () => {
    assert.equal(maxAbsDiff([1, 2, 3], [1, 2.5, 2]), 1);
    assert.equal(maxAbsDiff([[1, 2], [3, 4]], new Matrix([[1, 2], [3, 5]])), 1);
    assert.ok(Math.abs(relativeError([3, 4], [0, 5]) - Math.sqrt(10) / 5) < 1e-15);
    assert.equal(relativeError([0, 0], [0, 0]), 0);
    assert.equal(relativeError([1], [0]), Infinity);
    assert.throws(() => maxAbsDiff([1, 2], [1]), /cannot compare 2 numbers with 1/);
  });
});

describe('interleaved timings', () => {
  it('gives a median per variant, runs each round-robin, and leaks nothing', async () => {
    await tf.setBackend('cpu');
    const order: string[] = [];
    const before = tf.memory().numTensors;
    const ms = await interleavedMedians(
      {
        a: () => (order.push('a'), tf.ones([4])),
        b: () => (order.push('b'), [tf.zeros([2]), tf.ones([2])]),
      },
      { rounds: 3, warmup: 1 },
    );
    assert.deepEqual(order, ['a', 'b', 'a', 'b', 'a', 'b']);
    assert.deepEqual(Object.keys(ms), ['a', 'b']);
    assert.ok(ms.a >= 0 && ms.b >= 0);
    assert.equal(tf.memory().numTensors, before);
    await assert.rejects(interleavedMedians({ a: () => tf.ones([1]) }, { rounds: 1, warmup: 1 }), /rounds must be an integer > warmup/);
  });

  it('times plain computations and promises too, leaving the warm-up rounds out', async () => {
    let calls = 0;
    /** Busy for at least `ms`: a lower bound on the time a call takes, on any machine. */
    const spin = (ms: number) => {
      const end = performance.now() + ms;
      while (performance.now() < end);
      return { calls: ++calls };
    };
    // The warm-up call returns at once, the measured one takes >= 20 ms: with the warm-up counted, the median of
    // the two would be about 10 ms.
    const ms = await interleavedMedians(
      {
        plain: () => spin(calls === 0 ? 0 : 20),
        promise: () => new Promise((resolve) => setTimeout(() => resolve(1), 30)),
      },
      { rounds: 2, warmup: 1 },
    );
    assert.equal(calls, 2);
    assert.ok(ms.plain >= 20, `the warm-up round is left out: ${ms.plain} ms`);
    assert.ok(ms.promise >= 25, `the promise was awaited: ${ms.promise} ms`);
    await assert.rejects(interleavedMedians({ a: () => 1 }, { rounds: 3, warmup: -1 }), /rounds must be an integer > warmup \(-1\)/);
  });
});

describe('spread chart', () => {
  it('draws band, mean and seeds for numeric and nominal x', async () => {
    const rows = [0, 1, 2].flatMap((seed) => [1, 8].map((r) => ({ r, seed, loss: r + seed * 0.1, name: `r${r}` })));
    const numeric = spreadChart(rows, { x: 'r', y: 'loss', title: 'rank' });
    assert.equal((numeric['layer'] as unknown[]).length, 3);
    assert.match(await renderSvg(numeric), /<svg/);
    const nominal = spreadChart(rows, { x: 'name', y: 'loss', xType: 'nominal', sortByMean: true });
    const enc = ((nominal['layer'] as { encoding: { x: { sort?: unknown } } }[])[1]!).encoding.x;
    assert.deepEqual(enc.sort, ['r1', 'r8']);
    const tilted = spreadChart(rows, { x: 'name', y: 'loss', xType: 'nominal', labelAngle: -30 });
    const axis = ((tilted['layer'] as { encoding: { x: { axis: { labelAngle: number } } } }[])[0]!).encoding.x.axis;
    assert.equal(axis.labelAngle, -30);
    assert.match(await renderSvg(nominal), /<svg/);
  });
});
