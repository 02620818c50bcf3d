// Randomized SVD for the top k singular triplets of a large matrix: Halko, Martinsson & Tropp (2011),
// "Finding structure with randomness", Alg. 4.4 (randomized subspace iteration: oversampling p, q power
// iterations, re-orthonormalised after every product) followed by Alg. 5.1 (direct SVD of B = QᵀM).
// Conventions: M is m×n, k the rank wanted, l = k + p the sketch width; Q [m, l] has orthonormal columns.
import { Matrix } from 'ml-matrix';
import { fromMatrix, mulColumns, orthonormalize, transposeDense, type Columns, type FlopCounter } from './dense.js';
import { toRng, type SeedOrRng } from './random.js';
import { fixSigns, svd, type Svd } from './svd.js';
import { asMatrix, assertRank, type MatrixInput } from './validate.js';

export interface RandomizedSvdOptions {
  /**
   * Oversampling p: random directions drawn beyond k, so that the sketch catches the top-k subspace
   * with high probability (HMT §4.2 find 5–10 plenty). l = min(k + p, min(m, n)).
   * @default 10
   */
  oversampling?: number;
  /**
   * Power iterations q: each multiplies by M·Mᵀ, raising the singular values to the power 2q + 1 in the
   * sketch, which separates the top k from the rest when the spectrum decays slowly (HMT §4.5).
   * @default 2
   */
  powerIterations?: number;
  /** Seed (or Rng) for the Gaussian test matrix Ω [n, l]. @default 0 */
  seed?: SeedOrRng;
  /**
   * Adds the flops this call runs in its own kernels: the 2q + 2 products with M or Mᵀ, the Gram–Schmidt
   * orthonormalisations and U = Q·Ũ_k. The small SVD of B [l, n] runs in ml-matrix and is not counted
   * (randomizedSvdFlops estimates it). Without refills in Gram–Schmidt the count equals randomizedSvdFlops's.
   */
  counter?: FlopCounter;
}

/**
 * Approximate top-k SVD: U [m, k], sigma (k values, descending), V [n, k], with M ≈ U·diag(σ)·Vᵀ.
 * Cost O(m·n·l·(2q + 2)) in plain Float64Array products, against O(m·n·min(m, n)) for the full SVD.
 * The input is never modified.
 */
export function randomizedSvd(input: MatrixInput, k: number, options: RandomizedSvdOptions = {}): Svd {
  const M = asMatrix(input);
  const m = M.rows, n = M.columns, kMax = Math.min(m, n);
  assertRank(k, kMax, `min(m, n) for a ${m}×${n} matrix`);
  const p = options.oversampling ?? 10;
  const q = options.powerIterations ?? 2;
  if (!Number.isInteger(p) || p < 0) {
    throw new Error(`oversampling must be an integer >= 0, got ${String(p)}: use e.g. 10`);
  }
  if (!Number.isInteger(q) || q < 0) {
    throw new Error(`powerIterations must be an integer >= 0, got ${String(q)}: use e.g. 2`);
  }
  const rng = toRng(options.seed ?? 0);
  const counter = options.counter;
  const l = Math.min(k + p, kMax);
  const A = fromMatrix(M); // [m, n] row-major copy; M itself is never touched
  const At = transposeDense(A); // [n, m], so products with Mᵀ also read contiguous rows

  const omega: Columns = []; // Ω [n, l] Gaussian test matrix, kept as its l columns
  for (let c = 0; c < l; c++) omega.push(Float64Array.from({ length: n }, () => rng.normal()));
  let Q = orthonormalize(mulColumns(A, omega, counter), rng.normal, counter); // [m, l], basis of range(M·Ω)
  for (let j = 0; j < q; j++) {
    // Re-orthonormalise after each product: without it the columns collapse onto σ₁'s direction
    // in floating point and the smaller singular values are lost (HMT Alg. 4.4 vs 4.3).
    const Qt = orthonormalize(mulColumns(At, Q, counter), rng.normal, counter); // [n, l], basis of range(Mᵀ·Q)
    Q = orthonormalize(mulColumns(A, Qt, counter), rng.normal, counter); // [m, l]
  }
  // B = Qᵀ·M [l, n]: its rows are the columns of Mᵀ·Q.
  const Brows = mulColumns(At, Q, counter); // l rows of length n
  const B = new Matrix(l, n);
  for (let c = 0; c < l; c++) B.setRow(c, Brows[c]);
  const small = svd(B); // B = Ũ·diag(σ)·Vᵀ, Ũ [l, l], V [n, l]
  // U = Q·Ũ_k [m, k]
  const U = new Matrix(m, k);
  for (let a = 0; a < k; a++) {
    const col = new Float64Array(m);
    for (let c = 0; c < l; c++) {
      const w = small.U.get(c, a);
      const qc = Q[c];
      for (let i = 0; i < m; i++) col[i] += w * qc[i];
    }
    U.setColumn(a, col);
  }
  if (counter) counter.flops += 2 * m * l * k; // U = Q·Ũ_k
  const V = small.V.subMatrix(0, n - 1, 0, k - 1); // [n, k]
  const sigma = small.sigma.slice(0, k);
  fixSigns(U, V);
  return { U, sigma, V };
}

