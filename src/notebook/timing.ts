// Timings for notebooks to show (never to check: a check must not depend on the machine's speed). Calls are
// interleaved round by round, so a slow moment of the machine hits every variant alike, and the median of the
// rounds after a warm-up is reported.
import * as tf from '@tensorflow/tfjs';
import { median } from '../experiments/stats.js';

export interface TimingOptions {
  /** Rounds, each calling every variant once. @default 31 */
  rounds?: number;
  /** Rounds dropped first (kernel compilation, caches). @default 1 */
  warmup?: number;
}

/**
 * Median milliseconds per call of each variant, calls interleaved. A variant that returns a tensor (or tensors)
 * has it read back (so asynchronous backends finish) and disposed inside the timing; a promise is awaited; any
 * other result (a plain computation, an SVD) is timed as the call itself.
 */
export async function interleavedMedians<K extends string>(
  variants: Record<K, () => unknown>,
  options: TimingOptions = {},
): Promise<Record<K, number>> {
  const rounds = options.rounds ?? 31;
  const warmup = options.warmup ?? 1;
  if (!Number.isInteger(rounds) || !Number.isInteger(warmup) || warmup < 0 || rounds <= warmup) {
    throw new Error(`rounds must be an integer > warmup (${warmup}), got ${rounds}: use e.g. { rounds: 5, warmup: 1 }`);
  }
  const keys = Object.keys(variants) as K[];
  const samples = new Map<K, number[]>(keys.map((k) => [k, []]));
  for (let round = 0; round < rounds; round++) {
    for (const k of keys) {
      const t0 = performance.now();
      let out = variants[k]();
      if (out instanceof Promise) out = await out;
      const tensors = out instanceof tf.Tensor ? [out] : isTensorList(out) ? out : [];
      for (const t of tensors) await t.data();
      tf.dispose(tensors);
      if (round >= warmup) samples.get(k)!.push(performance.now() - t0);
    }
  }
  return Object.fromEntries(keys.map((k) => [k, median(samples.get(k)!)])) as Record<K, number>;
}

function isTensorList(x: unknown): x is tf.Tensor[] {
  return Array.isArray(x) && x.length > 0 && x.every((t) => t instanceof tf.Tensor);
}
