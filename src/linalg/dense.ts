// Plain Float64Array kernels for randomized SVD and random orthogonal matrices, where ml-matrix's generic
// get/set paths are several times slower. A big matrix is row-major (`Dense`); a tall-skinny one is a list
// of its columns (`Columns`), so every inner loop is a dot product or an axpy over contiguous memory.
import { Matrix } from 'ml-matrix';

/** A row-major dense matrix: entry (i, j) is data[i * cols + j]. */
export interface Dense {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float64Array;
}

/** A matrix kept as its columns: entry (i, c) is cols[c][i]. */
export type Columns = Float64Array[];

/** Where the kernels below add the floating-point operations they ran (a multiply and an add are 2 flops). */
export interface FlopCounter {
  flops: number;
}

/** Copies an ml-matrix Matrix into row-major storage (the input is not touched). */
export function fromMatrix(M: Matrix): Dense {
  const data = new Float64Array(M.rows * M.columns);
  for (let i = 0; i < M.rows; i++) data.set(M.getRow(i), i * M.columns);
  return { rows: M.rows, cols: M.columns, data };
}

/** Columns [len, count] as an ml-matrix Matrix. */
export function columnsToMatrix(cols: Columns): Matrix {
  const rows = cols[0]?.length ?? 0;
  const M = new Matrix(rows, cols.length);
  for (let c = 0; c < cols.length; c++) M.setColumn(c, cols[c]);
  return M;
}

/** Aᵀ in row-major storage, so that products with Aᵀ are dot products over contiguous rows too. */
export function transposeDense(A: Dense): Dense {
  const { rows: m, cols: n, data: a } = A;
  const t = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    const off = i * n;
    for (let j = 0; j < n; j++) t[j * m + i] = a[off + j];
  }
  return { rows: n, cols: m, data: t };
}

/**
 * Y = A·X for A [m, n] and X given as l columns of length n; returns Y's l columns of length m.
 * Each entry is a dot product of a row of A with a column of X; four columns share one read of the row.
 */
export function mulColumns(A: Dense, X: Columns, counter?: FlopCounter): Columns {
  const { rows: m, cols: n, data: a } = A;
  for (const x of X) if (x.length !== n) throw new Error(`mulColumns: A has ${n} columns, x has ${x.length} rows`);
  const Y = X.map(() => new Float64Array(m));
  const l = X.length;
  if (counter) counter.flops += 2 * m * n * l; // m·l dot products of length n
  for (let i = 0; i < m; i++) {
    const off = i * n;
    let c = 0;
    for (; c + 3 < l; c += 4) {
      const x0 = X[c], x1 = X[c + 1], x2 = X[c + 2], x3 = X[c + 3];
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let j = 0; j < n; j++) {
        const aij = a[off + j];
        s0 += aij * x0[j];
        s1 += aij * x1[j];
        s2 += aij * x2[j];
        s3 += aij * x3[j];
      }
      Y[c][i] = s0;
      Y[c + 1][i] = s1;
      Y[c + 2][i] = s2;
      Y[c + 3][i] = s3;
    }
    for (; c < l; c++) {
      const x = X[c];
      let s = 0;
      for (let j = 0; j < n; j++) s += a[off + j] * x[j];
      Y[c][i] = s;
    }
  }
  return Y;
}

/**
 * Orthonormal basis of the span of `Y`'s columns (in order) by classical Gram–Schmidt applied twice
 * ("CGS2", Giraud et al. 2005): orthogonal to machine precision, and R's diagonal is positive, which is
 * the sign convention that makes the Q of a Gaussian matrix Haar-distributed (Mezzadri 2007).
 * A column that vanishes after projection (Y rank-deficient) is replaced by a fresh direction from
 * `fill`, so Q always has as many orthonormal columns as Y. Y is not modified.
 */
export function orthonormalize(Y: Columns, fill: () => number, counter?: FlopCounter): Columns {
  const m = Y[0]?.length ?? 0;
  if (Y.length > m) throw new Error(`orthonormalize: ${Y.length} columns of length ${m} cannot be orthonormal`);
  const Q: Columns = [];
  const proj = new Float64Array(Y.length);
  // Flops per column j with no refill: 2 passes of j dots and j axpys (8·m·j), two norms and a scaling (5·m).
  let flops = 0;
  for (let j = 0; j < Y.length; j++) {
    let v = Float64Array.from(Y[j]);
    let origNorm = norm(v);
    flops += 2 * m;
    for (let attempt = 0; ; attempt++) {
      for (let pass = 0; pass < 2; pass++) {
        for (let c = 0; c < j; c++) proj[c] = dot(Q[c], v);
        for (let c = 0; c < j; c++) axpy(-proj[c], Q[c], v);
      }
      const nv = norm(v);
      flops += 8 * m * j + 2 * m;
      // Below 1e-10 of where it started, what is left is rounding noise, not a direction of Y.
      if (nv > 1e-10 * origNorm && nv > 0) {
        for (let i = 0; i < m; i++) v[i] /= nv;
        flops += m;
        break;
      }
      if (attempt > 5) throw new Error('orthonormalize: no new direction found (is fill random?)');
      v = new Float64Array(m);
      for (let i = 0; i < m; i++) v[i] = fill();
      origNorm = norm(v);
      flops += 2 * m;
    }
    Q.push(v);
  }
  if (counter) counter.flops += flops;
  return Q;
}

export function dot(x: Float64Array, y: Float64Array): number {
  let s0 = 0, s1 = 0;
  let i = 0;
  for (; i + 1 < x.length; i += 2) {
    s0 += x[i] * y[i];
    s1 += x[i + 1] * y[i + 1];
  }
  if (i < x.length) s0 += x[i] * y[i];
  return s0 + s1;
}

function axpy(a: number, x: Float64Array, y: Float64Array): void {
  for (let i = 0; i < x.length; i++) y[i] += a * x[i];
}

function norm(x: Float64Array): number {
  return Math.sqrt(dot(x, x));
}
