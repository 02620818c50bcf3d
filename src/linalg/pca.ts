// Principal component analysis through the SVD (Pearson 1901; notebook 01's U·Σ·Vᵀ): for data X [N, d] with rows
// as examples, centre the columns, X_c = X − 1·μᵀ = U·Σ·Vᵀ; the top-k right singular vectors are the directions
// of largest variance, and σᵢ² / Σσ² is the share of the variance along direction i. Rows of `components` are unit.
import { Matrix } from 'ml-matrix';
import { svd } from './svd.js';
import { asMatrix, assertRank, type MatrixInput } from './validate.js';

export interface Pca {
  /** Column means μ [d] of the data the components were fitted on. */
  readonly mean: number[];
  /** The top-k directions of largest variance, as rows [k, d] (orthonormal). */
  readonly components: Matrix;
  /** Share of the total variance along each component, largest first. */
  readonly varianceShare: number[];
}

/** The top-k principal components of X [N, d], 1 ≤ k ≤ min(N, d). */
export function pca(X: MatrixInput, k: number): Pca {
  const M = asMatrix(X, 'X');
  assertRank(k, Math.min(M.rows, M.columns), `min(N, d) for ${M.rows} rows of ${M.columns} features`);
  const mean = M.mean('column');
  const f = svd(M.clone().subRowVector(mean));
  const total = f.sigma.reduce((s, v) => s + v * v, 0);
  const V = f.V.subMatrix(0, M.columns - 1, 0, k - 1); // [d, k]
  return {
    mean,
    components: V.transpose(),
    varianceShare: Array.from(f.sigma.slice(0, k), (s) => (total === 0 ? 0 : (s * s) / total)),
  };
}

/** Coordinates [N, k] of the rows of Y [N, d] along the components, after subtracting the fitted mean. */
export function pcaProject(p: Pca, Y: MatrixInput): Matrix {
  const M = asMatrix(Y, 'Y');
  if (M.columns !== p.mean.length) {
    throw new Error(`Y has ${M.columns} columns but the PCA was fitted on ${p.mean.length}: give rows of the same features`);
  }
  return M.clone().subRowVector(p.mean).mmul(p.components.transpose());
}
