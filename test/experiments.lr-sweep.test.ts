// Learning-rate sweeps: the best rate of a sweep (the parabola in log lr recovers the vertex of an exact parabola,
// a best at the grid's edge is flagged and not extrapolated), per-seed bests, and the ratio of two methods' bests
// paired by seed with its spread.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bestLearningRate, bestRatesBySeed, rateRatio } from '../src/experiments/lr-sweep.js';

/** value = (ln lr − ln centre)² + floor: a parabola in log lr with its minimum at `centre`. */
const bowl = (lrs: number[], centre: number, floor = 1) =>
  lrs.map((lr) => ({ lr, value: (Math.log(lr) - Math.log(centre)) ** 2 + floor }));

describe('bestLearningRate()', () => {
  it('recovers the vertex of a parabola in log lr between grid points, on an uneven grid, in any order', () => {
    const b = bestLearningRate(bowl([3e-2, 1e-3, 2e-3, 1e-2, 1e-4], 4e-3));
    assert.ok(Math.abs(b.lr / 4e-3 - 1) < 1e-9, `${b.lr}`);
    assert.equal(b.gridLr, 2e-3); // |ln(2e-3/4e-3)| < |ln(1e-2/4e-3)|
    assert.equal(b.atEdge, false);
    assert.ok(Math.abs(b.value - (1 + Math.log(2) ** 2)) < 1e-12); // the grid's value, not the parabola's floor
  });

  it('without refine, or for higher-is-better values, picks the right grid point', () => {
    assert.equal(bestLearningRate(bowl([1e-3, 2e-3, 1e-2], 4e-3), { refine: false }).lr, 2e-3);
    const acc = bowl([1e-3, 3e-3, 1e-2], 3e-3).map((p) => ({ lr: p.lr, value: -p.value }));
    const b = bestLearningRate(acc, { lowerIsBetter: false });
    assert.ok(Math.abs(b.lr / 3e-3 - 1) < 1e-9);
  });

  it('flags a best at either edge of the grid and keeps the grid point there', () => {
    const low = bestLearningRate(bowl([1e-3, 3e-3, 1e-2], 1e-4));
    assert.deepEqual([low.lr, low.atEdge], [1e-3, true]);
    const high = bestLearningRate(bowl([1e-3, 3e-3, 1e-2], 1));
    assert.deepEqual([high.lr, high.atEdge], [1e-2, true]);
  });

  it('keeps the refined rate between the best point\'s neighbours; equal values stay on the grid', () => {
    // A V shape, not a parabola: the vertex may move but never past a neighbour.
    const v = [{ lr: 1e-3, value: 3 }, { lr: 1e-2, value: 1 }, { lr: 1e-1, value: 1.0001 }];
    const b = bestLearningRate(v);
    assert.ok(b.lr > 1e-3 && b.lr < 1e-1, `${b.lr}`);
    const flat = [{ lr: 1e-3, value: 1 }, { lr: 1e-2, value: 1 }, { lr: 1e-1, value: 1 }];
    assert.equal(bestLearningRate(flat).lr, 1e-3); // the first of equals, an edge
  });

  it('names bad sweeps', () => {
    assert.throws(() => bestLearningRate([{ lr: 1e-3, value: 1 }]), /at least 2 rates, got 1/);
    assert.throws(() => bestLearningRate([{ lr: 1e-3, value: 1 }, { lr: 1e-3, value: 2 }]), /0.001 appears twice/);
    assert.throws(() => bestLearningRate([{ lr: 0, value: 1 }, { lr: 1e-3, value: 2 }]), /positive numbers, got 0/);
    assert.throws(() => bestLearningRate([{ lr: 1e-2, value: NaN }, { lr: 1e-3, value: 2 }]), /at lr 0.01 is NaN/);
  });
});

describe('bestRatesBySeed() and rateRatio()', () => {
  const rows = (centres: number[], lrs: number[], method: string) =>
    centres.flatMap((c, seed) => bowl(lrs, c).map((p) => ({ method, seed, lr: p.lr, loss: p.value })));

  it('finds each seed\'s best and divides them seed by seed', () => {
    const fields = { lr: 'lr', value: 'loss' } as const;
    const lora = bestRatesBySeed(rows([1e-2, 2e-2, 5e-3], [1e-3, 3e-3, 1e-2, 3e-2, 1e-1], 'lora'), fields);
    const full = bestRatesBySeed(rows([1e-3, 1e-3, 1e-3], [1e-4, 3e-4, 1e-3, 3e-3, 1e-2], 'full'), fields);
    assert.deepEqual([...lora.keys()], [0, 1, 2]);
    const r = rateRatio(lora, full);
    assert.deepEqual(r.seeds, [0, 1, 2]);
    r.ratios.forEach((x, i) => assert.ok(Math.abs(x - [10, 20, 5][i]!) < 1e-6, `${i}: ${x}`));
    assert.ok(Math.abs(r.spread.min - 5) < 1e-6 && Math.abs(r.spread.max - 20) < 1e-6);
    assert.deepEqual(r.atEdge, []);
  });

  it('reports the seeds whose best sat at a grid edge, and pairs only shared seeds', () => {
    const a = bestRatesBySeed(rows([1e-2, 1], [1e-3, 1e-2, 1e-1], 'a'), { lr: 'lr', value: 'loss' });
    const b = bestRatesBySeed(rows([1e-3, 1e-3, 1e-3], [1e-4, 1e-3, 1e-2], 'b'), { lr: 'lr', value: 'loss' });
    const r = rateRatio(a, b);
    assert.deepEqual(r.seeds, [0, 1]);
    assert.deepEqual(r.atEdge, [1]);
    assert.throws(() => rateRatio(a, new Map([[7, b.get(0)!]])), /share no seed/);
  });

  it('names rows whose fields are not numbers', () => {
    const bad = [{ seed: 0, lr: '1e-3', loss: 1 }];
    assert.throws(() => bestRatesBySeed(bad, { lr: 'lr', value: 'loss' }), /must be numbers/);
    assert.throws(() => bestRatesBySeed([], { lr: 'lr', value: 'loss' }), /no rows/);
  });
});
