// Input checks shared by src/linalg: every public function turns its matrix argument into an ml-matrix
// Matrix here, so bad input fails early with a message that names the value and the fix.
// Conventions: M is m×n (m rows, n columns); k is a kept rank, 1 <= k <= min(m, n).
import { AbstractMatrix, Matrix } from 'ml-matrix';

/** What src/linalg accepts as a matrix: an ml-matrix matrix (or view), or rows as number arrays. */
export type MatrixInput = AbstractMatrix | ReadonlyArray<ReadonlyArray<number>>;

/**
 * Checks `input` (rectangular, non-empty, finite) and returns it as a Matrix.
 * A Matrix input is returned as is (callers never write to it); arrays and views are copied.
 * `name` is how the error messages call the argument ("M", "A1", ...).
 */
export function asMatrix(input: MatrixInput, name = 'M'): Matrix {
  let M: Matrix;
  if (input instanceof AbstractMatrix) {
    M = input instanceof Matrix ? input : new Matrix(input);
  } else if (Array.isArray(input)) {
    const rows = input as ReadonlyArray<ReadonlyArray<number>>;
    if (rows.length === 0) throw emptyError(name, 0, 0);
    const n = Array.isArray(rows[0]) ? rows[0].length : -1;
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i];
      if (!Array.isArray(row) && !ArrayBuffer.isView(row)) {
        throw new Error(`${name} row ${i} is not an array (got ${typeof row}): pass rows as number[][]`);
      }
      if (row.length !== n) {
        throw new Error(
          `${name} is ragged: row ${i} has ${row.length} entries but row 0 has ${n}: every row needs the same length`,
        );
      }
    }
    if (n === 0) throw emptyError(name, rows.length, 0);
    M = new Matrix(rows.map((r) => Array.from(r)));
  } else {
    throw new Error(`${name} must be an ml-matrix Matrix or a number[][], got ${describe(input)}`);
  }
  if (M.rows === 0 || M.columns === 0) throw emptyError(name, M.rows, M.columns);
  assertFinite(M, name);
  return M;
}

/** Throws naming the first non-finite entry (row, col, value). */
export function assertFinite(M: AbstractMatrix, name = 'M'): void {
  for (let i = 0; i < M.rows; i++) {
    for (let j = 0; j < M.columns; j++) {
      const x = M.get(i, j);
      if (typeof x !== 'number' || !Number.isFinite(x)) {
        throw new Error(
          `${name} has a non-finite entry at row ${i}, col ${j}: ${String(x)}; ` +
            `linear algebra needs finite numbers: find where the NaN/Infinity came from (e.g. a division by zero)`,
        );
      }
    }
  }
}

/** Checks 1 <= k <= limit for an integer k; `what` says where the limit comes from. */
export function assertRank(k: number, limit: number, what: string, name = 'k'): void {
  if (!Number.isInteger(k) || k < 1 || k > limit) {
    throw new Error(
      `${name} must be an integer with 1 <= ${name} <= ${limit} (${what}), got ${String(k)}: ` +
        `use a ${name} between 1 and ${limit}`,
    );
  }
}

/** Checks a positive integer count such as a dimension or a LoRA rank r. */
export function assertPositiveInt(x: number, name: string, example: number): void {
  if (!Number.isInteger(x) || x < 1) {
    throw new Error(`${name} must be a positive integer, got ${String(x)}: use ${name} >= 1 (e.g. ${example})`);
  }
}

/** Checks a spectrum: finite, non-negative values. */
export function assertSpectrum(sigma: ArrayLike<number>, name = 'sigma'): void {
  if (sigma.length === 0) throw new Error(`${name} is empty: pass at least one singular value`);
  for (let i = 0; i < sigma.length; i++) {
    const s = sigma[i]!;
    if (!Number.isFinite(s) || s < 0) {
      throw new Error(
        `${name}[${i}] is ${String(s)}: singular values must be finite and >= 0 (take absolute values, or drop the entry)`,
      );
    }
  }
}

function emptyError(name: string, m: number, n: number): Error {
  return new Error(`${name} is empty (${m}×${n}): pass a matrix with at least one row and one column`);
}

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  return typeof x;
}
