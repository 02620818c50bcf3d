// Seeded random matrices: reproducibility, N(0, 1) moments, orthogonality of random orthogonal matrices,
// prescribed spectra recovered by the SVD, and the error messages for bad sizes and spectra.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix } from 'ml-matrix';
import { createRng, prescribedSpectrum, randomGaussian, randomOrthogonal, svd } from '../src/linalg/index.js';

function orthError(Q: Matrix): number {
  const G = Q.transpose().mmul(Q);
  let e = 0;
  for (let i = 0; i < G.rows; i++) for (let j = 0; j < G.columns; j++) e = Math.max(e, Math.abs(G.get(i, j) - (i === j ? 1 : 0)));
  return e;
}

describe('createRng', () => {
  it('is reproducible per seed and differs between seeds', () => {
    const a = createRng(42), b = createRng(42), c = createRng(43);
    const xa = Array.from({ length: 5 }, a.uniform), xb = Array.from({ length: 5 }, b.uniform);
    assert.deepEqual(xa, xb);
    assert.notDeepEqual(xa, Array.from({ length: 5 }, c.uniform));
  });
  it('uniform is in [0, 1) with mean 1/2; normal has mean 0 and variance 1 (20,000 draws, seeded)', () => {
    const rng = createRng(1);
    let su = 0, sn = 0, sn2 = 0;
    const N = 20000;
    for (let i = 0; i < N; i++) {
      const u = rng.uniform();
      assert.ok(u >= 0 && u < 1);
      su += u;
      const z = rng.normal();
      sn += z;
      sn2 += z * z;
    }
    assert.ok(Math.abs(su / N - 0.5) < 0.01, `uniform mean ${su / N}`);
    assert.ok(Math.abs(sn / N) < 0.03, `normal mean ${sn / N}`);
    assert.ok(Math.abs(sn2 / N - 1) < 0.03, `normal variance ${sn2 / N}`);
  });
  it('rejects a non-integer seed', () => {
    assert.throws(() => createRng(1.5), /seed must be an integer, got 1\.5/);
  });
});

describe('random matrices', () => {
  it('randomGaussian: shape, reproducible, std scales the entries', () => {
    const A = randomGaussian(30, 40, 5), B = randomGaussian(30, 40, 5);
    assert.deepEqual([A.rows, A.columns], [30, 40]);
    assert.deepEqual(A.to2DArray(), B.to2DArray());
    const C = randomGaussian(30, 40, 5, 2);
    assert.ok(Math.abs(C.get(3, 7) - 2 * A.get(3, 7)) < 1e-15);
    const rms = Math.sqrt(A.to1DArray().reduce((s, x) => s + x * x, 0) / 1200);
    assert.ok(Math.abs(rms - 1) < 0.06, `rms ${rms}`);
  });
  it('randomOrthogonal: QᵀQ = I (square, and m×n with orthonormal columns)', () => {
    const Q = randomOrthogonal(40, 3);
    assert.deepEqual([Q.rows, Q.columns], [40, 40]);
    assert.ok(orthError(Q) < 1e-13);
    assert.ok(orthError(Q.transpose()) < 1e-13, 'rows orthonormal too');
    const T = randomOrthogonal(30, 3, 5);
    assert.deepEqual([T.rows, T.columns], [30, 5]);
    assert.ok(orthError(T) < 1e-13);
  });
  it('randomOrthogonal is Haar-like: the mean of Q[0][0]² over many draws is 1/n', () => {
    const n = 8;
    let s = 0;
    const draws = 400;
    const rng = createRng(9);
    for (let d = 0; d < draws; d++) s += randomOrthogonal(n, rng).get(0, 0) ** 2;
    assert.ok(Math.abs(s / draws - 1 / n) < 0.03, `mean ${s / draws}`);
  });
  it('prescribedSpectrum: the SVD finds exactly σ (sorted, padded with zeros) and the returned factors rebuild M', () => {
    const { M, U, sigma, V } = prescribedSpectrum(9, 6, [1, 7.03, 2.15, 3], 2);
    assert.deepEqual(Array.from(sigma), [7.03, 3, 2.15, 1]);
    const s = svd(M).sigma;
    const expected = [7.03, 3, 2.15, 1, 0, 0];
    for (let i = 0; i < 6; i++) assert.ok(Math.abs(s[i] - expected[i]) < 1e-13, `σ_${i + 1} = ${s[i]}`);
    assert.ok(orthError(U) < 1e-13 && orthError(V) < 1e-13);
    const R = U.mmul(Matrix.diag(Array.from(sigma))).mmul(V.transpose());
    for (let i = 0; i < 9; i++) for (let j = 0; j < 6; j++) assert.ok(Math.abs(R.get(i, j) - M.get(i, j)) < 1e-13);
  });
  it('bad sizes and spectra are named', () => {
    assert.throws(() => randomGaussian(0, 3), /m must be a positive integer, got 0: use m >= 1/);
    assert.throws(() => randomGaussian(3, 2.5), /n must be a positive integer, got 2\.5/);
    assert.throws(() => randomGaussian(3, 3, 0, -1), /std must be finite and >= 0, got -1/);
    assert.throws(() => randomOrthogonal(3, 0, 4), /cols must be <= m .*got cols 4 > m 3/);
    assert.throws(() => prescribedSpectrum(3, 2, [1, 2, 3]), /sigma has 3 values but an 3×2 matrix has at most min\(m, n\) = 2/);
    assert.throws(() => prescribedSpectrum(3, 2, [1, -1]), /sigma\[1\] is -1/);
  });
});
