// Floating-point operation counts (a multiply and an add are 2 flops) of the SVDs in this library, so their costs
// can be compared by what they compute rather than by a stopwatch. Full SVD: Golub & Van Loan, Matrix
// Computations (3rd ed. p. 254; 4th ed. Fig. 8.6.1), Golub–Reinsch for U₁ [m, n], Σ, V: 14mn² + 8n³ (m ≥ n), an
// estimate because its QR phase iterates; its first, finite phase, Householder bidiagonalisation, costs
// 4mn² − 4n³/3 (Trefethen & Bau, Lecture 31). Randomized SVD (rsvd.ts, Halko, Martinsson & Tropp): counted.
import { type RandomizedSvdOptions } from './rsvd.js';

function assertShape(m: number, n: number): void {
  if (!Number.isInteger(m) || !Number.isInteger(n) || m < 1 || n < 1) {
    throw new Error(`a matrix shape is two integers >= 1, got ${String(m)}×${String(n)}`);
  }
}

/**
 * Golub & Van Loan's estimate for the thin SVD of an m×n matrix (U₁, Σ and V, as `svd` returns them):
 * 14·M·N² + 8·N³ with M = max(m, n), N = min(m, n) (a wide matrix is decomposed through its transpose).
 */
export function svdFlops(m: number, n: number): number {
  assertShape(m, n);
  const [M, N] = m >= n ? [m, n] : [n, m];
  return 14 * M * N * N + 8 * N ** 3;
}

/** Householder bidiagonalisation of an m×n matrix, 4·M·N² − 4·N³/3: the first phase of every full SVD here. */
export function bidiagonalizationFlops(m: number, n: number): number {
  assertShape(m, n);
  const [M, N] = m >= n ? [m, n] : [n, m];
  return 4 * M * N * N - (4 * N ** 3) / 3;
}

/** The parts of a randomized SVD's cost, in flops. */
export interface RandomizedSvdFlops {
  /** Sketch width l = min(k + p, min(m, n)). */
  readonly l: number;
  /** The 2q + 2 products of M or Mᵀ [m, n] with l vectors: (2q + 2)·2mnl. */
  readonly products: number;
  /** Gram–Schmidt (twice, CGS2) after each of the first 2q + 1 products: 4·rows·l(l − 1) + 5·rows·l each. */
  readonly orthonormalization: number;
  /** U = Q·Ũ_k [m, k]: 2mlk. */
  readonly recombination: number;
  /** The small SVD of B = QᵀM [l, n], by svdFlops (an estimate). */
  readonly smallSvd: number;
  /** All of the above. */
  readonly total: number;
}

/**
 * What randomizedSvd(M, k, options) costs on an m×n matrix, part by part. All but `smallSvd` is exactly what
 * its `counter` option counts as it runs (when no Gram–Schmidt column needs a refill, i.e. M·Ω has full rank).
 */
export function randomizedSvdFlops(
  m: number,
  n: number,
  k: number,
  options: Pick<RandomizedSvdOptions, 'oversampling' | 'powerIterations'> = {},
): RandomizedSvdFlops {
  assertShape(m, n);
  const p = options.oversampling ?? 10;
  const q = options.powerIterations ?? 2;
  if (!Number.isInteger(k) || k < 1 || k > Math.min(m, n)) {
    throw new Error(`k must be an integer with 1 <= k <= ${Math.min(m, n)} for a ${m}×${n} matrix, got ${String(k)}`);
  }
  if (!Number.isInteger(p) || p < 0 || !Number.isInteger(q) || q < 0) {
    throw new Error(`oversampling and powerIterations must be integers >= 0, got ${String(p)} and ${String(q)}`);
  }
  const l = Math.min(k + p, m, n);
  const gramSchmidt = (rows: number) => 4 * rows * l * (l - 1) + 5 * rows * l;
  const products = (2 * q + 2) * 2 * m * n * l;
  // Q [m, l] after M·Ω and after each M·Q̃; Q̃ [n, l] after each Mᵀ·Q.
  const orthonormalization = (q + 1) * gramSchmidt(m) + q * gramSchmidt(n);
  const recombination = 2 * m * l * k;
  const smallSvd = svdFlops(l, n);
  const total = products + orthonormalization + recombination + smallSvd;
  return { l, products, orthonormalization, recombination, smallSvd, total };
}
