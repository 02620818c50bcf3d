// Rotary position embeddings (Su et al. 2021, RoFormer) as transformers' Llama applies them: for head width
// d_h, inv_freq_i = θ^(−2i/d_h), i < d_h/2; angle(p, i) = p·inv_freq_i; q' = q·cos + rotate_half(q)·sin with
// cos/sin = cat(angles, angles) and rotate_half(x) = cat(−x₂, x₁) (the halves of the last axis, not pairs).
// 'llama3' scaling (Llama 3.1): wavelengths above original/low_freq_factor divide by factor, below
// original/high_freq_factor are kept, in between interpolate smoothly; 'linear' divides positions by factor.
import * as tf from '@tensorflow/tfjs';
import type { RopeScaling } from './config.js';

/** inv_freq [d_h / 2] for head width `headDim`, base θ and the scaling (float64; rounded where used). */
export function ropeInverseFrequencies(headDim: number, theta: number, scaling: RopeScaling): Float64Array {
  if (!Number.isInteger(headDim) || headDim < 2 || headDim % 2 !== 0) {
    throw new Error(`RoPE needs an even head width, got ${headDim}`);
  }
  const half = headDim / 2;
  const inv = new Float64Array(half);
  for (let i = 0; i < half; i++) inv[i] = 1 / theta ** ((2 * i) / headDim);
  if (scaling.ropeType === 'linear') {
    for (let i = 0; i < half; i++) inv[i]! /= scaling.factor;
  } else if (scaling.ropeType === 'llama3') {
    const { factor, lowFreqFactor, highFreqFactor, originalMaxPositionEmbeddings: old } = scaling;
    const lowFreqWavelen = old / lowFreqFactor;
    const highFreqWavelen = old / highFreqFactor;
    for (let i = 0; i < half; i++) {
      const f = inv[i]!;
      const wavelen = (2 * Math.PI) / f;
      if (wavelen > lowFreqWavelen) inv[i] = f / factor; // long wavelengths: interpolate positions
      else if (wavelen >= highFreqWavelen) {
        // medium: blend between scaled and unscaled by where the wavelength falls
        const smooth = (old / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
        inv[i] = (1 - smooth) * (f / factor) + smooth * f;
      } // short wavelengths: unchanged
    }
  }
  return inv;
}

/** cos and sin [T, d_h] for positions start .. start + T − 1 (angles repeated over both halves). */
export function ropeTables(invFreq: Float64Array, start: number, t: number): { cos: tf.Tensor2D; sin: tf.Tensor2D } {
  const half = invFreq.length;
  const d = 2 * half;
  const cos = new Float32Array(t * d);
  const sin = new Float32Array(t * d);
  for (let p = 0; p < t; p++) {
    for (let i = 0; i < half; i++) {
      const a = (start + p) * invFreq[i]!;
      const c = Math.cos(a);
      const s = Math.sin(a);
      cos[p * d + i] = c;
      cos[p * d + half + i] = c;
      sin[p * d + i] = s;
      sin[p * d + half + i] = s;
    }
  }
  return { cos: tf.tensor2d(cos, [t, d]), sin: tf.tensor2d(sin, [t, d]) };
}

/** Rotates x [B, h, T, d_h] by the tables [T, d_h]: x·cos + rotate_half(x)·sin. */
export function applyRope(x: tf.Tensor4D, cos: tf.Tensor2D, sin: tf.Tensor2D): tf.Tensor4D {
  return tf.tidy(() => {
    const half = x.shape[3] / 2;
    const [x1, x2] = tf.split(x, [half, half], 3); // [B, h, T, d_h/2] each
    const rotated = tf.concat([x2.neg(), x1], 3); // [B, h, T, d_h]
    return x.mul(cos).add(rotated.mul(sin)) as tf.Tensor4D;
  });
}
