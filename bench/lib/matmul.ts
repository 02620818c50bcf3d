// matMul throughput on the active backend: GFLOP/s = 2·n³ / time for square n×n float32 products, plain (A·B,
// a forward pass) and with A transposed (Aᵀ·B, what every weight gradient computes). Time includes reading the
// result back, so a GPU's queue is drained. Sizes grow until one product takes longer than `maxMsPerRep`.
import * as tf from '@tensorflow/tfjs';
import { interleaved, median } from './timing.js';

export interface MatMulRow {
  n: number;
  /** Median milliseconds of A·B and of Aᵀ·B. */
  ms: number;
  msTransposed: number;
  gflops: number;
  gflopsTransposed: number;
}

export interface MatMulOptions {
  sizes: readonly number[];
  /** Timed rounds per size. @default 3 */
  reps?: number;
  /** Stop before a size expected (×8 per doubling) to take longer than this per product. @default 1500 */
  maxMsPerRep?: number;
}

export async function benchMatMul(options: MatMulOptions): Promise<MatMulRow[]> {
  const rows: MatMulRow[] = [];
  const limit = options.maxMsPerRep ?? 1500;
  let lastMs = 0;
  let lastN = 0;
  // Warm up first: JIT, and V8 runs new WebAssembly on its baseline compiler until the code is hot.
  const w = tf.randomNormal([256, 256]); // [256, 256]
  for (let i = 0; i < 3; i++) {
    for (const ta of [false, true]) {
      const c = tf.matMul(w, w, ta, false); // [256, 256]
      await c.data();
      c.dispose();
    }
  }
  w.dispose();
  for (const n of options.sizes) {
    if (lastN > 0 && lastMs * (n / lastN) ** 3 > limit) break;
    const a = tf.randomNormal([n, n], 0, 1, 'float32', 1); // [n, n]
    const b = tf.randomNormal([n, n], 0, 1, 'float32', 2); // [n, n]
    const run = (ta: boolean) => async () => {
      const c = tf.matMul(a, b, ta, false); // [n, n]
      await c.data();
      c.dispose();
    };
    const t = await interleaved({ plain: run(false), transposed: run(true) }, options.reps ?? 3, 1);
    a.dispose();
    b.dispose();
    const flops = 2 * n ** 3;
    const ms = median(t.plain);
    const msTransposed = median(t.transposed);
    rows.push({ n, ms, msTransposed, gflops: flops / ms / 1e6, gflopsTransposed: flops / msTransposed / 1e6 });
    lastMs = Math.max(ms, msTransposed);
    lastN = n;
  }
  return rows;
}
