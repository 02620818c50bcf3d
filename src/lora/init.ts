// Seeds for each layer's adapter, and PiSSA's initialisation (the default ones live with the branch, branch.ts).
// PEFT orientation: W = [out, in], lora_A [r, in], lora_B [out, r].
// PiSSA (Meng et al. 2024, §3): W = U·diag(σ)·Vᵀ; A = diag(√(σ_r/scaling))·V_rᵀ, B = U_r·diag(√(σ_r/scaling)),
// base replaced by the residual W − scaling·B·A, so base + LoRA = W at step 0.
import * as tf from '@tensorflow/tfjs';
import { svd } from '../linalg/index.js';
import { loraScaling, type LoraConfig } from './config.js';

/** A deterministic 31-bit seed from a base seed and names (FNV-1a), so each layer's init is independent of order. */
export function deriveSeed(...parts: (string | number)[]): number {
  let h = 0x811c9dc5;
  for (const ch of parts.join('\u0000')) {
    h ^= ch.codePointAt(0)!;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h & 0x7fffffff;
}

export interface PissaWeights {
  lora_A: tf.Tensor2D; // [r, in]
  lora_B: tf.Tensor2D; // [out, r]
  /** The residual base kernel [in, out] that replaces the base's kernel. */
  residualKernel: tf.Tensor2D;
}

/**
 * PiSSA's A, B and residual kernel for a base kernel K [in, out] (W = Kᵀ). The caller owns the tensors. Reads K
 * synchronously (`arraySync`) for the SVD, so it needs a backend with synchronous reads (cpu, wasm, tfjs-node):
 * initialise PiSSA before switching to webgpu.
 */
export function pissaWeights(kernel: tf.Tensor2D, config: LoraConfig): PissaWeights {
  const [dIn, dOut] = kernel.shape;
  const r = config.r;
  if (r > Math.min(dIn, dOut)) {
    throw new Error(`PiSSA needs r <= min(in, out) = ${Math.min(dIn, dOut)} for a ${dOut}×${dIn} weight, got r = ${r}: lower r`);
  }
  const s = loraScaling(config);
  const K = kernel.arraySync(); // [in, out]
  const W = Array.from({ length: dOut }, (_, o) => Array.from({ length: dIn }, (_, i) => K[i]![o]!)); // [out, in]
  const { U, sigma, V } = svd(W); // W = U·diag(σ)·Vᵀ, U [out, k], V [in, k]
  const root = Array.from({ length: r }, (_, j) => Math.sqrt(sigma[j]! / s)); // √(σ_j / scaling)
  const A = new Float32Array(r * dIn); // [r, in]: row j = √(σ_j/s)·v_jᵀ
  const B = new Float32Array(dOut * r); // [out, r]: column j = √(σ_j/s)·u_j
  for (let j = 0; j < r; j++) {
    for (let i = 0; i < dIn; i++) A[j * dIn + i] = root[j]! * V.get(i, j);
    for (let o = 0; o < dOut; o++) B[o * r + j] = root[j]! * U.get(o, j);
  }
  // Residual in float64: W_res = W − s·B·A = Σ_{j>r} σ_j u_j v_jᵀ, stored as a kernel [in, out].
  const res = new Float32Array(dIn * dOut);
  for (let i = 0; i < dIn; i++) {
    for (let o = 0; o < dOut; o++) {
      let top = 0;
      for (let j = 0; j < r; j++) top += sigma[j]! * U.get(o, j) * V.get(i, j);
      res[i * dOut + o] = W[o]![i]! - top;
    }
  }
  return {
    lora_A: tf.tensor2d(A, [r, dIn]),
    lora_B: tf.tensor2d(B, [dOut, r]),
    residualKernel: tf.tensor2d(res, [dIn, dOut]),
  };
}
