// Learning-rate sweeps read per seed: the best learning rate of each seed's sweep (refined between grid points by a
// parabola in log lr through the best point and its two neighbours), and the ratio of two methods' best rates paired
// by seed, with its spread — "LoRA's best learning rate is about 10× full fine-tuning's" (Schulman et al. 2025,
// "LoRA Without Regret", https://thinkingmachines.ai/blog/lora/) as a measurement with error bars.
import { spread, type Spread } from './stats.js';

export interface BestRate {
  /** The best learning rate: the grid point, or the parabola's vertex between its neighbours. */
  lr: number;
  /** The best value measured on the grid (not the parabola's). */
  value: number;
  /** The grid point that measured best. */
  gridLr: number;
  /** True when the best grid point is the smallest or largest rate tried: the true best may lie beyond it. */
  atEdge: boolean;
}

/**
 * The best learning rate of one sweep. Points need distinct, positive rates (any order). With `refine` (the
 * default) and an interior best, the vertex of the parabola through log lr of the best point and its neighbours,
 * kept between those neighbours. At least 2 points; a non-finite value is an error naming it.
 */
export function bestLearningRate(
  points: readonly { lr: number; value: number }[],
  options: { lowerIsBetter?: boolean; refine?: boolean } = {},
): BestRate {
  if (points.length < 2) throw new Error(`a learning-rate sweep needs at least 2 rates, got ${points.length}`);
  const lower = options.lowerIsBetter ?? true;
  const sorted = [...points].sort((a, b) => a.lr - b.lr);
  for (const [i, p] of sorted.entries()) {
    if (!(p.lr > 0) || !Number.isFinite(p.lr)) throw new Error(`learning rates must be positive numbers, got ${p.lr}`);
    if (i > 0 && p.lr === sorted[i - 1]!.lr) throw new Error(`learning rate ${p.lr} appears twice in one sweep`);
    if (!Number.isFinite(p.value)) throw new Error(`the value at lr ${p.lr} is ${p.value}, not a finite number`);
  }
  const score = (v: number) => (lower ? v : -v);
  let b = 0;
  for (let i = 1; i < sorted.length; i++) if (score(sorted[i]!.value) < score(sorted[b]!.value)) b = i;
  const best = sorted[b]!;
  const atEdge = b === 0 || b === sorted.length - 1;
  let lr = best.lr;
  if (!atEdge && (options.refine ?? true)) {
    const [x0, x1, x2] = [sorted[b - 1]!.lr, best.lr, sorted[b + 1]!.lr].map(Math.log) as [number, number, number];
    const ys = [sorted[b - 1]!.value, best.value, sorted[b + 1]!.value].map(score);
    const [y0, y1, y2] = ys as [number, number, number];
    // Vertex of the parabola through (x0, y0), (x1, y1), (x2, y2) (Lagrange form); y1 is lowest, so it opens up
    // unless all three are equal.
    const num = (x1 - x0) ** 2 * (y1 - y2) - (x1 - x2) ** 2 * (y1 - y0);
    const den = (x1 - x0) * (y1 - y2) - (x1 - x2) * (y1 - y0);
    if (den !== 0) lr = Math.exp(Math.min(x2, Math.max(x0, x1 - num / (2 * den))));
  }
  return { lr, value: best.value, gridLr: best.lr, atEdge };
}

/**
 * The best rate of each seed's sweep: rows hold one (lr, value) per seed and rate; `lr`, `value` and `seed` name
 * their fields. Returned in ascending seed order.
 */
export function bestRatesBySeed<R extends Record<string, unknown>>(
  rows: readonly R[],
  fields: { lr: keyof R; value: keyof R; seed?: keyof R },
  options: { lowerIsBetter?: boolean; refine?: boolean } = {},
): Map<number, BestRate> {
  const seedField = fields.seed ?? ('seed' as keyof R);
  const bySeed = new Map<number, { lr: number; value: number }[]>();
  for (const row of rows) {
    const [s, lr, value] = [row[seedField], row[fields.lr], row[fields.value]];
    if (typeof s !== 'number' || typeof lr !== 'number' || typeof value !== 'number') {
      throw new Error(
        `bestRatesBySeed: a row's ${String(seedField)}, ${String(fields.lr)} and ${String(fields.value)} ` +
          'must be numbers, ' +
          `got ${JSON.stringify([s, lr, value])}`,
      );
    }
    if (!bySeed.has(s)) bySeed.set(s, []);
    bySeed.get(s)!.push({ lr, value });
  }
  if (bySeed.size === 0) throw new Error('bestRatesBySeed: no rows');
  const seeds = [...bySeed.keys()].sort((a, b) => a - b);
  return new Map(seeds.map((s) => [s, bestLearningRate(bySeed.get(s)!, options)]));
}

export interface RateRatio {
  /** Seeds present in both sweeps, ascending. */
  seeds: number[];
  /** best(a) / best(b) per seed. */
  ratios: number[];
  spread: Spread;
  /** Seeds whose best rate was at an edge of either grid: for those the ratio is only a bound. */
  atEdge: number[];
}

/** The ratio of two methods' best learning rates, seed by seed (seed s of one against seed s of the other). */
export function rateRatio(a: ReadonlyMap<number, BestRate>, b: ReadonlyMap<number, BestRate>): RateRatio {
  const seeds = [...a.keys()].filter((s) => b.has(s)).sort((x, y) => x - y);
  if (seeds.length === 0) {
    throw new Error(`the two sweeps share no seed (${[...a.keys()]} vs ${[...b.keys()]}): run the same seeds`);
  }
  const ratios = seeds.map((s) => a.get(s)!.lr / b.get(s)!.lr);
  return {
    seeds,
    ratios,
    spread: spread(ratios),
    atEdge: seeds.filter((s) => a.get(s)!.atEdge || b.get(s)!.atEdge),
  };
}
