// Choosing the next token from one row of logits, as transformers' generate() does with its logits warpers in
// their order: temperature (logits / T), top-k (keep the k largest), top-p / nucleus (Holtzman et al. 2020: keep
// the most likely tokens until their probability reaches p, at least one), then a draw from the softmax.
// Temperature 0 (the default) is greedy: the argmax, ties to the lowest id.
import type { Random } from '../../data/rng.js';

export interface SampleOptions {
  /** 0 = greedy (argmax); > 0 samples from softmax(logits / temperature). @default 0 */
  temperature?: number;
  /** Keep only the k most likely tokens before sampling (0 = all). @default 0 */
  topK?: number;
  /** Keep the smallest set of most likely tokens whose probability reaches p (1 = all). @default 1 */
  topP?: number;
}

/** Checks the options once, before decoding starts. */
export function validateSampleOptions(o: SampleOptions): void {
  const t = o.temperature ?? 0;
  if (!(Number.isFinite(t) && t >= 0)) throw new Error(`temperature must be a number ≥ 0 (0 = greedy), got ${t}`);
  const k = o.topK ?? 0;
  if (!Number.isInteger(k) || k < 0) throw new Error(`topK must be a non-negative integer (0 = off), got ${k}`);
  const p = o.topP ?? 1;
  if (!(p > 0 && p <= 1)) throw new Error(`topP must be in (0, 1] (1 = off), got ${p}`);
}

function argmax(x: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i]! > x[best]!) best = i;
  return best;
}

/** The next token id from `logits` [V]; `rng` is used only when sampling. */
export function sampleToken(logits: ArrayLike<number>, options: SampleOptions, rng: Random): number {
  const temperature = options.temperature ?? 0;
  if (temperature === 0) return argmax(logits);
  const V = logits.length;
  // Candidates in descending logit order (ties: lower id first), so top-k and top-p are prefixes of it.
  let order = Array.from({ length: V }, (_, i) => i).sort((a, b) => logits[b]! - logits[a]! || a - b);
  const k = options.topK ?? 0;
  if (k > 0 && k < V) {
    const kth = logits[order[k - 1]!]!;
    order = order.filter((i) => logits[i]! >= kth); // ties with the k-th stay, as TopKLogitsWarper keeps them
  }
  const max = logits[order[0]!]! / temperature;
  const weights = order.map((i) => Math.exp(logits[i]! / temperature - max));
  const total = weights.reduce((a, b) => a + b, 0);
  const p = options.topP ?? 1;
  let keep = order.length;
  if (p < 1) {
    let cum = 0;
    keep = 0;
    while (keep < order.length && cum < p) cum += weights[keep++]! / total;
  }
  const kept = weights.slice(0, keep);
  const sum = kept.reduce((a, b) => a + b, 0);
  let u = rng.next() * sum;
  for (let j = 0; j < keep; j++) {
    u -= kept[j]!;
    if (u < 0) return order[j]!;
  }
  return order[keep - 1]!;
}
