// The singular value decomposition M = U·diag(σ)·Vᵀ for any real m×n matrix (tall, wide or square),
// over ml-matrix's one-sided Golub–Kahan–Reinsch SVD (Golub & Van Loan, Matrix Computations, §8.6).
// Conventions: k = min(m, n); σ₁ >= σ₂ >= ... >= σ_k >= 0; the columns of U and V are orthonormal.
import { Matrix, SVD } from 'ml-matrix';
import { asMatrix, assertRank, type MatrixInput } from './validate.js';

export interface SvdOptions {
  /**
   * 'thin': U [m, k], V [n, k] with k = min(m, n): enough to rebuild M, and what the library uses.
   * 'full': U [m, m] and V [n, n], square orthogonal; the extra columns complete orthonormal bases of
   * the spaces M does not reach (Σ would be the m×n matrix with σ on its diagonal).
   * @default 'thin'
   */
  form?: 'thin' | 'full';
}

/** M = U·diag(σ)·Vᵀ. `sigma` has k = min(m, n) values, descending; V (not Vᵀ) is returned. */
export interface Svd {
  readonly U: Matrix;
  readonly sigma: Float64Array;
  readonly V: Matrix;
}

/**
 * SVD of M. Signs are made deterministic: in each column of U the entry of largest magnitude is positive
 * (the matching V column flips with it, so U·diag(σ)·Vᵀ is unchanged).
 * The input is never modified. Errors name empty, ragged or non-finite input.
 */
export function svd(input: MatrixInput, options: SvdOptions = {}): Svd {
  const form = options.form ?? 'thin';
  if (form !== 'thin' && form !== 'full') {
    throw new Error(`svd form must be 'thin' or 'full', got '${String(form)}'`);
  }
  const M = asMatrix(input);
  const m = M.rows, n = M.columns, k = Math.min(m, n);
  // autoTranspose: without it ml-matrix returns wrongly shaped factors for wide matrices.
  const d = new SVD(M, { autoTranspose: true });
  const U = d.leftSingularVectors; // [m, k]
  const V = d.rightSingularVectors; // [n, k] — ml-matrix's "right singular vectors" are V itself
  const sigma = Float64Array.from(d.diagonal, (s) => (s > 0 ? s : 0)); // also turns -0 into 0
  if (U.rows !== m || U.columns !== k || V.rows !== n || V.columns !== k || sigma.length !== k) {
    throw new Error(
      `svd: unexpected factor shapes from ml-matrix for a ${m}×${n} matrix ` +
        `(U ${U.rows}×${U.columns}, V ${V.rows}×${V.columns}, ${sigma.length} values)`,
    );
  }
  fixSigns(U, V);
  if (form === 'thin') return { U, sigma, V };
  return { U: completeBasis(U), sigma, V: completeBasis(V) };
}

/** The singular values of M only, descending (k = min(m, n) of them). */
export function singularValues(input: MatrixInput): Float64Array {
  const M = asMatrix(input);
  const d = new SVD(M, { autoTranspose: true, computeLeftSingularVectors: false, computeRightSingularVectors: false });
  return Float64Array.from(d.diagonal, (s) => (s > 0 ? s : 0));
}

/**
 * U_k·diag(σ_k)·V_kᵀ from a decomposition: the rank-k truncation (k defaults to all of σ).
 * Costs O(m·n·k); compute the SVD once and call this for each rank you want to see.
 */
export function reconstruct(f: Svd, k: number = f.sigma.length): Matrix {
  assertRank(k, f.sigma.length, `the decomposition has ${f.sigma.length} singular values`);
  const m = f.U.rows, n = f.V.rows;
  const out = new Matrix(m, n);
  for (let i = 0; i < m; i++) {
    const row = new Float64Array(n);
    for (let a = 0; a < k; a++) {
      const w = f.U.get(i, a) * f.sigma[a];
      if (w === 0) continue;
      for (let j = 0; j < n; j++) row[j] += w * f.V.get(j, a);
    }
    out.setRow(i, row);
  }
  return out;
}

/** Σ as a matrix: diag(σ) padded with zeros to [rows, cols] (default k×k). */
export function sigmaMatrix(sigma: ArrayLike<number>, rows = sigma.length, cols = rows): Matrix {
  const S = new Matrix(rows, cols);
  for (let i = 0; i < Math.min(rows, cols, sigma.length); i++) S.set(i, i, sigma[i]);
  return S;
}

/** Flips column pairs so the largest-magnitude entry of each U column is positive (in place, on our own factors). */
export function fixSigns(U: Matrix, V: Matrix): void {
  for (let a = 0; a < U.columns; a++) {
    let best = 0;
    for (let i = 0; i < U.rows; i++) {
      const x = U.get(i, a);
      if (Math.abs(x) > Math.abs(best)) best = x;
    }
    if (best < 0) {
      for (let i = 0; i < U.rows; i++) U.set(i, a, -U.get(i, a));
      for (let j = 0; j < V.rows; j++) V.set(j, a, -V.get(j, a));
    }
  }
}

/**
 * Extends Q [m, c] with orthonormal columns to a square orthogonal [m, m]: repeatedly takes the standard
 * basis vector e_i least covered by the current basis (largest residual 1 − ‖row i‖², which is >= 1/m
 * for some i), projects it out twice (Gram–Schmidt, twice is enough) and normalises it.
 */
function completeBasis(Q: Matrix): Matrix {
  const m = Q.rows;
  const cols: Float64Array[] = [];
  for (let a = 0; a < Q.columns; a++) cols.push(Float64Array.from(Q.getColumn(a)));
  const covered = new Float64Array(m); // ‖row i of the basis‖² = ‖basisᵀ·e_i‖²
  for (const c of cols) for (let i = 0; i < m; i++) covered[i] += c[i] * c[i];
  while (cols.length < m) {
    let pick = 0;
    for (let i = 1; i < m; i++) if (covered[i] < covered[pick]) pick = i;
    const v = new Float64Array(m);
    v[pick] = 1;
    for (let pass = 0; pass < 2; pass++) {
      for (const c of cols) {
        let p = 0;
        for (let i = 0; i < m; i++) p += c[i] * v[i];
        for (let i = 0; i < m; i++) v[i] -= p * c[i];
      }
    }
    let nv = 0;
    for (let i = 0; i < m; i++) nv += v[i] * v[i];
    nv = Math.sqrt(nv);
    for (let i = 0; i < m; i++) {
      v[i] /= nv;
      covered[i] += v[i] * v[i];
    }
    cols.push(v);
  }
  const out = new Matrix(m, m);
  for (let a = 0; a < m; a++) out.setColumn(a, cols[a]);
  return out;
}
