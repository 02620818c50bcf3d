// How a learned update ΔW relates to the frozen W (Hu et al. 2021, §7.3, Table 7): project W onto ΔW's top-r
// singular directions, ‖Uᵀ·W·V‖_F with ΔW ≈ U·diag(σ)·Vᵀ (U [out, r], V [in, r]), and compare with W's own top-r
// directions and with random orthonormal ones. Amplification factor = ‖ΔW‖_F / ‖Uᵀ·W·V‖_F (21.5 for r = 4 on
// GPT-3's W_q, layer 48). PEFT orientation throughout: W and ΔW are [out, in].
import { Matrix } from 'ml-matrix';
import { svd, randomOrthogonal, frobeniusNorm, asMatrix, type MatrixInput } from '../linalg/index.js';

export interface Amplification {
  /** Directions used: the top-r of ΔW (and of W, and random). */
  r: number;
  /** ‖W‖_F. */
  weightNorm: number;
  /** ‖ΔW‖_F. */
  deltaNorm: number;
  /** ‖Uᵀ·W·V‖_F with U, V the top-r singular vectors of ΔW. */
  projDelta: number;
  /** ‖Uᵀ·W·V‖_F with U, V the top-r singular vectors of W (= √(σ₁² + … + σ_r²) of W). */
  projWeight: number;
  /** ‖Uᵀ·W·V‖_F with U, V random orthonormal columns (seeded). */
  projRandom: number;
  /** ‖ΔW‖_F / projDelta: how strongly ΔW boosts the directions of W it works on. */
  amplification: number;
}

/** The LoRA paper's Table 7 numbers for W [out, in] and its update ΔW [out, in], using r directions. */
export function amplification(W: MatrixInput, deltaW: MatrixInput, r: number, seed = 0): Amplification {
  const Wm = asMatrix(W, 'W');
  const D = asMatrix(deltaW, 'ΔW');
  if (Wm.rows !== D.rows || Wm.columns !== D.columns) {
    throw new Error(`W is ${Wm.rows}×${Wm.columns} but ΔW is ${D.rows}×${D.columns}: both must be [out, in] of the same layer`);
  }
  const k = Math.min(Wm.rows, Wm.columns);
  if (!Number.isInteger(r) || r < 1 || r > k) throw new Error(`r must be an integer in 1..${k} (min(out, in)), got ${r}`);
  const top = (M: Matrix): [Matrix, Matrix] => {
    const f = svd(M);
    return [f.U.subMatrix(0, f.U.rows - 1, 0, r - 1), f.V.subMatrix(0, f.V.rows - 1, 0, r - 1)];
  };
  const proj = ([U, V]: [Matrix, Matrix]) => frobeniusNorm(U.transpose().mmul(Wm).mmul(V)); // ‖Uᵀ·W·V‖_F, [r, r]
  const projDelta = proj(top(D));
  const projWeight = proj(top(Wm));
  const projRandom = proj([randomOrthogonal(Wm.rows, seed, r), randomOrthogonal(Wm.columns, seed + 1, r)]);
  const deltaNorm = frobeniusNorm(D);
  return {
    r,
    weightNorm: frobeniusNorm(Wm),
    deltaNorm,
    projDelta,
    projWeight,
    projRandom,
    amplification: deltaNorm / projDelta,
  };
}

/**
 * The LoRA paper's Table 7 (Hu et al. 2021, §7.3): GPT-3 175B, W_q of layer 48, ‖Uᵀ·W_q·V‖_F for U, V from ΔW_q,
 * from W_q, or random, and the norms of W_q and ΔW_q, for the r = 4 and r = 64 adapters.
 */
export const LORA_PAPER_TABLE_7 = Object.freeze([
  Object.freeze({ r: 4, projDelta: 0.32, projWeight: 21.67, projRandom: 0.02, weightNorm: 61.95, deltaNorm: 6.91, amplification: 21.5 }),
  Object.freeze({ r: 64, projDelta: 1.9, projWeight: 37.71, projRandom: 0.33, weightNorm: 61.95, deltaNorm: 3.57, amplification: 3.57 / 1.9 }),
]);
