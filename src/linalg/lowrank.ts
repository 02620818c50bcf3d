// Low-rank approximation and how much of a matrix it keeps: the Eckart–Young–Mirsky theorem (1936)
// says the truncated SVD M_k = U_k·diag(σ_1..σ_k)·V_kᵀ is the best rank-k approximation in both norms,
// with ‖M − M_k‖_F = sqrt(Σ_{i>k} σᵢ²) and ‖M − M_k‖₂ = σ_{k+1}. Effective rank: Roy & Vetterli (2007).
import { Matrix } from 'ml-matrix';
import { reconstruct, singularValues, svd } from './svd.js';
import { asMatrix, assertRank, assertSpectrum, type MatrixInput } from './validate.js';

/** The best rank-k approximation M_k of M (Eckart–Young), 1 <= k <= min(m, n). */
export function lowRankApprox(input: MatrixInput, k: number): Matrix {
  const M = asMatrix(input);
  assertRank(k, Math.min(M.rows, M.columns), `min(m, n) for a ${M.rows}×${M.columns} matrix`);
  return reconstruct(svd(M), k);
}

/** Share of the energy Σσᵢ² (= ‖M‖²_F) held by the top k singular values, in [0, 1]. All-zero σ gives 1. */
export function energy(sigma: ArrayLike<number>, k: number): number {
  assertSpectrum(sigma);
  assertRank(k, sigma.length, `the number of singular values`);
  const s = sortedDesc(sigma);
  let top = 0, total = 0;
  for (let i = 0; i < s.length; i++) {
    const e = s[i] * s[i];
    total += e;
    if (i < k) top += e;
  }
  return total === 0 ? 1 : top / total;
}

/** What Eckart–Young predicts for dropping all but the top k: ‖M − M_k‖_F and ‖M − M_k‖₂. */
export function truncationError(sigma: ArrayLike<number>, k: number): { frobenius: number; spectral: number } {
  assertSpectrum(sigma);
  assertRank(k, sigma.length, `the number of singular values`);
  const s = sortedDesc(sigma);
  let tail = 0;
  for (let i = k; i < s.length; i++) tail += s[i] * s[i];
  return { frobenius: Math.sqrt(tail), spectral: k < s.length ? s[k] : 0 };
}

/** ‖M‖_F = sqrt(Σ mᵢⱼ²). */
export function frobeniusNorm(input: MatrixInput): number {
  const M = asMatrix(input);
  let s = 0;
  for (let i = 0; i < M.rows; i++) for (let j = 0; j < M.columns; j++) s += M.get(i, j) ** 2;
  return Math.sqrt(s);
}

/** ‖M‖₂ = σ₁, the largest singular value. */
export function spectralNorm(input: MatrixInput): number {
  return singularValues(input)[0];
}

/** ‖M − approx‖_F. */
export function frobeniusError(input: MatrixInput, approx: MatrixInput): number {
  return frobeniusNorm(difference(input, approx));
}

/** ‖M − approx‖₂ (largest singular value of the difference). */
export function spectralError(input: MatrixInput, approx: MatrixInput): number {
  return spectralNorm(difference(input, approx));
}

/**
 * Smallest k whose top-k energy share reaches `threshold` (default 0.99 = "99 % of ‖M‖²_F").
 * An all-zero spectrum has effective rank 0.
 */
export function effectiveRank(sigma: ArrayLike<number>, threshold = 0.99): number {
  assertSpectrum(sigma);
  if (!(threshold > 0 && threshold <= 1)) {
    throw new Error(`threshold must be in (0, 1], got ${String(threshold)}: use e.g. 0.9 or 0.99`);
  }
  const s = sortedDesc(sigma);
  let total = 0;
  for (const x of s) total += x * x;
  if (total === 0) return 0;
  let top = 0;
  for (let i = 0; i < s.length; i++) {
    top += s[i] * s[i];
    // A relative 1e-12 slack so that threshold 1 is reached despite rounding in the running sum.
    if (top >= threshold * total * (1 - 1e-12)) return i + 1;
  }
  return s.length;
}

/**
 * Entropy effective rank (Roy & Vetterli 2007, Def. 1): exp(H(p)) with pᵢ = σᵢ / Σσⱼ, a real number
 * between 1 (one direction) and the count of non-zero σ (all equal). An all-zero spectrum gives 0.
 */
export function entropyEffectiveRank(sigma: ArrayLike<number>): number {
  assertSpectrum(sigma);
  let l1 = 0;
  for (let i = 0; i < sigma.length; i++) l1 += sigma[i];
  if (l1 === 0) return 0;
  let h = 0;
  for (let i = 0; i < sigma.length; i++) {
    const p = sigma[i] / l1;
    if (p > 0) h -= p * Math.log(p); // 0·log 0 = 0
  }
  return Math.exp(h);
}

function difference(input: MatrixInput, approx: MatrixInput): Matrix {
  const M = asMatrix(input, 'M');
  const A = asMatrix(approx, 'approx');
  if (M.rows !== A.rows || M.columns !== A.columns) {
    throw new Error(
      `approx is ${A.rows}×${A.columns} but M is ${M.rows}×${M.columns}: compare matrices of the same shape`,
    );
  }
  // Matrix.sub works in place, so subtract into a fresh matrix to leave both inputs untouched.
  return Matrix.sub(M, A);
}

function sortedDesc(sigma: ArrayLike<number>): Float64Array {
  return Float64Array.from(sigma).sort().reverse();
}
