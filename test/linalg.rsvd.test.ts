// Randomized SVD (Halko, Martinsson & Tropp 2011): accuracy against the exact SVD on small cases,
// orthonormal factors, exact recovery of an exactly low-rank matrix, power iterations helping, errors.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix } from 'ml-matrix';
import { prescribedSpectrum, randomizedSvd, reconstruct, svd } from '../src/linalg/index.js';

function orthError(Q: Matrix): number {
  const G = Q.transpose().mmul(Q);
  let e = 0;
  for (let i = 0; i < G.rows; i++) for (let j = 0; j < G.columns; j++) e = Math.max(e, Math.abs(G.get(i, j) - (i === j ? 1 : 0)));
  return e;
}

function maxRel(a: ArrayLike<number>, b: ArrayLike<number>, k: number): number {
  let e = 0;
  for (let i = 0; i < k; i++) e = Math.max(e, Math.abs(a[i] - b[i]) / b[i]);
  return e;
}

describe('randomizedSvd', () => {
  const sigma = Array.from({ length: 120 }, (_, i) => 0.8 ** i);
  const { M } = prescribedSpectrum(200, 120, sigma, 1);

  it('top-10 singular values of a 200×120 decaying spectrum to 1e-6 relative; vectors match the exact ones', () => {
    const r = randomizedSvd(M, 10, { seed: 3 });
    assert.deepEqual([r.U.rows, r.U.columns, r.V.rows, r.V.columns, r.sigma.length], [200, 10, 120, 10, 10]);
    assert.ok(maxRel(r.sigma, sigma, 10) < 1e-6, `max rel err ${maxRel(r.sigma, sigma, 10)}`);
    assert.ok(orthError(r.U) < 1e-12 && orthError(r.V) < 1e-12, 'orthonormal factors');
    const exact = svd(M);
    for (let a = 0; a < 10; a++) {
      // Same sign convention as svd(), so the columns agree directly, not just up to sign.
      let du = 0, dv = 0;
      for (let i = 0; i < 200; i++) du += r.U.get(i, a) * exact.U.get(i, a);
      for (let j = 0; j < 120; j++) dv += r.V.get(j, a) * exact.V.get(j, a);
      assert.ok(du > 1 - 1e-6 && dv > 1 - 1e-6, `column ${a}: u·u* = ${du}, v·v* = ${dv}`);
    }
  });

  it('recovers an exactly rank-5 matrix (wide 60×150) to 1e-10', () => {
    const { M: L } = prescribedSpectrum(60, 150, [9, 5, 3, 2, 1], 8);
    const r = randomizedSvd(L, 5, { oversampling: 3, powerIterations: 0 });
    const R = reconstruct(r);
    let e = 0;
    for (let i = 0; i < 60; i++) for (let j = 0; j < 150; j++) e = Math.max(e, Math.abs(R.get(i, j) - L.get(i, j)));
    assert.ok(e < 1e-10, `max error ${e}`);
  });

  it('asking for more than the rank: extra σ are ~0 and U stays orthonormal', () => {
    const { M: L } = prescribedSpectrum(40, 30, [3, 2, 1], 2);
    const r = randomizedSvd(L, 6);
    for (let i = 3; i < 6; i++) assert.ok(r.sigma[i] < 1e-12, `σ_${i + 1} = ${r.sigma[i]}`);
    assert.ok(orthError(r.U) < 1e-12);
  });

  it('k = min(m, n) gives the full spectrum', () => {
    const r = randomizedSvd(M.subMatrix(0, 29, 0, 19), 20);
    const exact = svd(M.subMatrix(0, 29, 0, 19)).sigma;
    assert.ok(maxRel(r.sigma, exact, 20) < 1e-10);
  });

  it('power iterations sharpen a slowly decaying spectrum (q = 2 beats q = 0)', () => {
    const slow = Array.from({ length: 100 }, (_, i) => 1 / (i + 1));
    const { M: S } = prescribedSpectrum(150, 100, slow, 4);
    const e0 = maxRel(randomizedSvd(S, 8, { powerIterations: 0, seed: 1 }).sigma, slow, 8);
    const e2 = maxRel(randomizedSvd(S, 8, { powerIterations: 2, seed: 1 }).sigma, slow, 8);
    assert.ok(e2 < e0 / 10, `q=0: ${e0}, q=2: ${e2}`);
  });

  it('is reproducible per seed and does not mutate its input', () => {
    const before = M.to2DArray();
    const a = randomizedSvd(M, 4, { seed: 5 }), b = randomizedSvd(M, 4, { seed: 5 });
    assert.deepEqual(Array.from(a.sigma), Array.from(b.sigma));
    assert.deepEqual(a.U.to2DArray(), b.U.to2DArray());
    assert.deepEqual(M.to2DArray(), before);
  });

  it('names bad k, oversampling and power iterations', () => {
    assert.throws(() => randomizedSvd(M, 0), /k must be an integer with 1 <= k <= 120 \(min\(m, n\) for a 200×120 matrix\), got 0/);
    assert.throws(() => randomizedSvd(M, 121), /got 121/);
    assert.throws(() => randomizedSvd(M, 4, { oversampling: -1 }), /oversampling must be an integer >= 0, got -1/);
    assert.throws(() => randomizedSvd(M, 4, { powerIterations: 1.5 }), /powerIterations must be an integer >= 0, got 1\.5/);
    assert.throws(() => randomizedSvd([[1, NaN]], 1), /non-finite entry at row 0, col 1: NaN/);
  });
});
