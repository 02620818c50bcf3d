// What the decoders share around attention: the forward options (cache, last position only) and the causal
// mask of T new queries over S = past + T keys: query t (absolute position past + t) sees keys 0 .. past + t.
// Additive −1e9 above that diagonal: after the row max is subtracted, exp underflows to exactly 0 in float32.
import * as tf from '@tensorflow/tfjs';
import type { KvCache } from './kv-cache.js';

export interface HfForwardOptions {
  /** Training mode (passed to layers, e.g. LoRA dropout). @default false */
  training?: boolean;
  /** Read earlier positions from this cache and append the new ones to it. */
  cache?: KvCache;
  /** Return logits of the last position only, [B, 1, V] (decoding needs no more). @default false */
  lastOnly?: boolean;
}

/** Additive mask [T, past + T]: 0 where key j ≤ past + t, −1e9 elsewhere. */
export function causalMaskWithPast(t: number, past: number): tf.Tensor2D {
  const s = past + t;
  const m = new Float32Array(t * s);
  for (let i = 0; i < t; i++) for (let j = past + i + 1; j < s; j++) m[i * s + j] = -1e9;
  return tf.tensor2d(m, [t, s]);
}
