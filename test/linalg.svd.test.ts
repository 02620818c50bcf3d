// svd(): singular values against known spectra (tall, wide, square, rank-deficient, 1×n, n×1, zero,
// ill-conditioned), the identities M = U·diag(σ)·Vᵀ and UᵀU = VᵀV = I, thin vs full, no input mutation, errors.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix } from 'ml-matrix';
import { prescribedSpectrum, randomGaussian, reconstruct, sigmaMatrix, singularValues, svd } from '../src/linalg/index.js';

function maxAbsDiff(A: Matrix, B: Matrix): number {
  assert.deepEqual([A.rows, A.columns], [B.rows, B.columns]);
  let e = 0;
  for (let i = 0; i < A.rows; i++) for (let j = 0; j < A.columns; j++) e = Math.max(e, Math.abs(A.get(i, j) - B.get(i, j)));
  return e;
}

/** max |QᵀQ − I|: 0 for orthonormal columns. */
function orthError(Q: Matrix): number {
  return maxAbsDiff(Q.transpose().mmul(Q), Matrix.eye(Q.columns));
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `${what}[${i}]: ${actual[i]} vs ${expected[i]} (tol ${tol})`);
  }
}

describe('svd: singular values of known spectra', () => {
  it('matches a hand-computed 2×2: [[3,0],[4,5]] has σ = √45, √5 (eigenvalues of MᵀM = [[25,20],[20,25]])', () => {
    assertClose(svd([[3, 0], [4, 5]]).sigma, [Math.sqrt(45), Math.sqrt(5)], 1e-14, 'sigma');
  });

  for (const [m, n, label] of [[9, 5, 'tall'], [5, 9, 'wide'], [6, 6, 'square']] as const) {
    it(`recovers a prescribed spectrum on a ${label} ${m}×${n} matrix`, () => {
      const sigma = [5, 3, 2, 1, 0.5].slice(0, Math.min(m, n));
      while (sigma.length < Math.min(m, n)) sigma.push(0.25);
      const { M } = prescribedSpectrum(m, n, sigma, 7);
      const f = svd(M);
      assert.equal(f.U.rows, m);
      assert.equal(f.U.columns, Math.min(m, n));
      assert.equal(f.V.rows, n);
      assert.equal(f.V.columns, Math.min(m, n));
      assertClose(f.sigma, sigma, 1e-13, 'sigma');
    });
  }

  it('gives trailing zeros for a rank-deficient matrix (8×6 of rank 2)', () => {
    const { M } = prescribedSpectrum(8, 6, [4, 2], 3);
    const s = svd(M).sigma;
    assert.equal(s.length, 6);
    assertClose(s, [4, 2, 0, 0, 0, 0], 1e-13, 'sigma');
  });

  it('1×n: one singular value, the row norm; U = [1]', () => {
    const f = svd([[3, 4, 12]]);
    assertClose(f.sigma, [13], 1e-14, 'sigma');
    assertClose(f.U.to1DArray(), [1], 1e-15, 'U');
    assertClose(f.V.getColumn(0), [3 / 13, 4 / 13, 12 / 13], 1e-15, 'V');
  });

  it('n×1: one singular value, the column norm', () => {
    const f = svd([[1], [2], [2]]);
    assertClose(f.sigma, [3], 1e-14, 'sigma');
    assertClose(f.U.getColumn(0), [1 / 3, 2 / 3, 2 / 3], 1e-15, 'U');
    assertClose(f.V.to1DArray(), [1], 1e-15, 'V');
  });

  it('zero matrix: all σ = 0 and still orthonormal U, V', () => {
    const f = svd(Matrix.zeros(4, 3));
    assert.deepEqual(Array.from(f.sigma), [0, 0, 0]);
    assert.ok(orthError(f.U) < 1e-15);
    assert.ok(orthError(f.V) < 1e-15);
    assert.ok(maxAbsDiff(reconstruct(f), Matrix.zeros(4, 3)) === 0);
  });

  it('ill-conditioned (σ from 1 to 1e-10): absolute error near machine precision, small σ to 1e-4 relative', () => {
    const sigma = Array.from({ length: 11 }, (_, i) => 10 ** -i); // 1, 0.1, ..., 1e-10
    const { M } = prescribedSpectrum(14, 11, sigma, 5);
    const s = svd(M).sigma;
    assertClose(s, sigma, 1e-14, 'sigma');
    // The smallest values are still resolved relatively: backward error eps·σ₁ over σ = 1e-10 is ~1e-6.
    for (let i = 0; i < sigma.length; i++) {
      assert.ok(Math.abs(s[i] - sigma[i]) / sigma[i] < 1e-4, `relative error at σ_${i + 1} = ${sigma[i]}: ${s[i]}`);
    }
  });

  it('singularValues() agrees with svd().sigma and is descending', () => {
    const M = randomGaussian(7, 10, 1);
    const a = singularValues(M), b = svd(M).sigma;
    assertClose(a, b, 1e-13, 'sigma');
    for (let i = 1; i < a.length; i++) assert.ok(a[i - 1] >= a[i]);
  });
});

describe('svd: identities', () => {
  for (const [m, n] of [[12, 7], [7, 12], [9, 9]] as const) {
    it(`M = U·diag(σ)·Vᵀ and UᵀU = VᵀV = I for a random ${m}×${n}`, () => {
      const M = randomGaussian(m, n, m * 100 + n);
      const f = svd(M);
      assert.ok(maxAbsDiff(f.U.mmul(sigmaMatrix(f.sigma)).mmul(f.V.transpose()), M) < 1e-12);
      assert.ok(maxAbsDiff(reconstruct(f), M) < 1e-12);
      assert.ok(orthError(f.U) < 1e-12, 'U orthonormal');
      assert.ok(orthError(f.V) < 1e-12, 'V orthonormal');
    });
  }

  it("full form: square orthogonal U [m, m], V [n, n], M = U·Σ·Vᵀ with Σ m×n, thin columns first", () => {
    for (const [m, n] of [[8, 3], [3, 8]] as const) {
      const M = randomGaussian(m, n, 11);
      const thin = svd(M);
      const full = svd(M, { form: 'full' });
      assert.deepEqual([full.U.rows, full.U.columns, full.V.rows, full.V.columns], [m, m, n, n]);
      assert.ok(orthError(full.U) < 1e-12 && orthError(full.V) < 1e-12, 'square orthogonal');
      assert.ok(maxAbsDiff(full.U.mmul(sigmaMatrix(full.sigma, m, n)).mmul(full.V.transpose()), M) < 1e-12);
      const k = Math.min(m, n);
      assert.ok(maxAbsDiff(full.U.subMatrix(0, m - 1, 0, k - 1), thin.U) === 0);
      assert.ok(maxAbsDiff(full.V.subMatrix(0, n - 1, 0, k - 1), thin.V) === 0);
    }
  });

  it('full form of a rank-deficient matrix is still orthogonal', () => {
    const { M } = prescribedSpectrum(6, 4, [3, 1], 2);
    const f = svd(M, { form: 'full' });
    assert.ok(orthError(f.U) < 1e-12 && orthError(f.V) < 1e-12);
  });

  it('signs are deterministic: the largest-magnitude entry of each U column is positive', () => {
    const f = svd(randomGaussian(6, 5, 3));
    for (let a = 0; a < f.U.columns; a++) {
      const col = f.U.getColumn(a);
      const big = col.reduce((x, y) => (Math.abs(y) > Math.abs(x) ? y : x), 0);
      assert.ok(big > 0, `column ${a}`);
    }
  });

  it('accepts number[][] and never mutates its input', () => {
    const rows = [[1, 2, 3], [4, 5, 6.5]];
    const copy = rows.map((r) => [...r]);
    const M = new Matrix(copy);
    const before = M.to2DArray();
    const a = svd(rows), b = svd(M, { form: 'full' });
    assert.deepEqual(rows, copy);
    assert.deepEqual(M.to2DArray(), before);
    assertClose(a.sigma, b.sigma, 0, 'sigma');
  });
});

describe('svd: bad input', () => {
  it('names an empty matrix', () => {
    assert.throws(() => svd([]), /M is empty \(0×0\): pass a matrix with at least one row and one column/);
    assert.throws(() => svd([[]]), /M is empty \(1×0\)/);
    assert.throws(() => svd(new Matrix(0, 0)), /M is empty/);
  });
  it('names the ragged row and both lengths', () => {
    assert.throws(() => svd([[1, 2], [3, 4], [5]]), /M is ragged: row 2 has 1 entries but row 0 has 2/);
  });
  it('names the row, column and value of a non-finite entry', () => {
    assert.throws(() => svd([[1, 2, 3], [4, 5, NaN]]), /non-finite entry at row 1, col 2: NaN/);
    const M = Matrix.ones(3, 3);
    M.set(2, 0, Infinity);
    assert.throws(() => svd(M), /non-finite entry at row 2, col 0: Infinity/);
  });
  it('rejects an unknown form', () => {
    assert.throws(() => svd([[1]], { form: 'economy' as 'thin' }), /svd form must be 'thin' or 'full', got 'economy'/);
  });
  it('rejects a rank outside 1..k in reconstruct', () => {
    const f = svd([[1, 0], [0, 1]]);
    assert.throws(() => reconstruct(f, 3), /k must be an integer with 1 <= k <= 2.*got 3/);
  });
});
