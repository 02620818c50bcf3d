// Low-rank approximation: Eckart–Young (‖M − M_k‖_F = sqrt(Σ_{i>k} σᵢ²), ‖M − M_k‖₂ = σ_{k+1}, no rank-k
// matrix does better), energy shares, norms, effective rank (energy threshold and Roy & Vetterli entropy), errors.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix } from 'ml-matrix';
import {
  effectiveRank,
  energy,
  entropyEffectiveRank,
  frobeniusError,
  frobeniusNorm,
  lowRankApprox,
  prescribedSpectrum,
  randomGaussian,
  singularValues,
  spectralError,
  spectralNorm,
  truncationError,
} from '../src/linalg/index.js';

const near = (a: number, b: number, tol: number, what: string) =>
  assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b} (tol ${tol})`);

describe('Eckart–Young', () => {
  const sigma = [6, 4, 2.5, 1, 0.5, 0.1];
  const { M } = prescribedSpectrum(10, 7, sigma, 4);

  it('‖M − M_k‖_F = sqrt(Σ_{i>k} σᵢ²) and ‖M − M_k‖₂ = σ_{k+1} for every k', () => {
    for (let k = 1; k <= 6; k++) {
      const Mk = lowRankApprox(M, k);
      const tail = Math.sqrt(sigma.slice(k).reduce((s, x) => s + x * x, 0));
      near(frobeniusError(M, Mk), tail, 1e-12, `Frobenius k=${k}`);
      near(spectralError(M, Mk), k < 6 ? sigma[k] : 0, 1e-12, `spectral k=${k}`);
      const te = truncationError(sigma, k);
      near(te.frobenius, tail, 1e-15, `truncationError.frobenius k=${k}`);
      near(te.spectral, k < 6 ? sigma[k] : 0, 0, `truncationError.spectral k=${k}`);
    }
  });

  it('M_k has rank k: σ_{k+1..} of M_k vanish, σ_{1..k} are kept', () => {
    const s = singularValues(lowRankApprox(M, 3));
    for (let i = 0; i < 3; i++) near(s[i], sigma[i], 1e-12, `kept σ_${i + 1}`);
    for (let i = 3; i < s.length; i++) near(s[i], 0, 1e-13, `dropped σ_${i + 1}`);
  });

  it('no random rank-2 matrix gets closer than M_2 (in either norm)', () => {
    const best = frobeniusError(M, lowRankApprox(M, 2));
    const bestSpectral = spectralError(M, lowRankApprox(M, 2));
    for (let seed = 0; seed < 20; seed++) {
      // A rank-2 candidate: M projected onto a random 2-D column space (a decent, but not optimal, guess).
      const G = randomGaussian(10, 2, seed);
      const P = G.mmul(inverse2(G.transpose().mmul(G))).mmul(G.transpose()); // projector onto span(G)
      const C = P.mmul(M);
      assert.ok(frobeniusError(M, C) >= best - 1e-12, `seed ${seed}: ${frobeniusError(M, C)} < ${best}`);
      assert.ok(spectralError(M, C) >= bestSpectral - 1e-12, `seed ${seed} spectral`);
    }
  });

  it('M_k for k = min(m, n) is M itself', () => {
    near(frobeniusError(M, lowRankApprox(M, 7)), 0, 1e-12, 'full rank');
  });

  it('does not mutate its input', () => {
    const rows = [[1, 2], [3, 4], [5, 7]];
    const copy = rows.map((r) => [...r]);
    const A = new Matrix(rows);
    lowRankApprox(rows, 1);
    lowRankApprox(A, 1);
    frobeniusError(A, A);
    assert.deepEqual(rows, copy);
    assert.deepEqual(A.to2DArray(), copy);
  });
});

function inverse2(S: Matrix): Matrix {
  const [a, b, c, d] = [S.get(0, 0), S.get(0, 1), S.get(1, 0), S.get(1, 1)];
  const det = a * d - b * c;
  return new Matrix([[d / det, -b / det], [-c / det, a / det]]);
}

describe('energy and norms', () => {
  it('energy is the top-k share of Σσ² (in descending order, whatever the input order)', () => {
    near(energy([3, 4], 1), 16 / 25, 1e-15, 'k=1');
    near(energy([4, 3], 2), 1, 0, 'k=all');
    near(energy([7.03, 3, 2.15, 0.1, 0.05], 3), (7.03 ** 2 + 9 + 2.15 ** 2) / (7.03 ** 2 + 9 + 2.15 ** 2 + 0.01 + 0.0025), 1e-15, 'notes');
    assert.equal(energy([0, 0, 0], 1), 1);
  });
  it('energy of the SVD equals ‖M_k‖²_F / ‖M‖²_F', () => {
    const M = randomGaussian(8, 6, 9);
    const s = singularValues(M);
    near(energy(s, 2), frobeniusNorm(lowRankApprox(M, 2)) ** 2 / frobeniusNorm(M) ** 2, 1e-12, 'energy');
  });
  it('frobeniusNorm and spectralNorm of small known matrices', () => {
    near(frobeniusNorm([[1, 2], [3, 4]]), Math.sqrt(30), 1e-15, 'Frobenius');
    near(spectralNorm([[3, 0], [4, 5]]), Math.sqrt(45), 1e-14, 'spectral');
    near(frobeniusNorm(randomGaussian(5, 4, 2)), Math.hypot(...singularValues(randomGaussian(5, 4, 2))), 1e-12, 'F = ‖σ‖');
  });
});

describe('effective rank', () => {
  it('by energy threshold: smallest k reaching the share', () => {
    assert.equal(effectiveRank([4, 3], 0.6), 1); // 16/25 = 0.64
    assert.equal(effectiveRank([4, 3], 0.7), 2);
    assert.equal(effectiveRank([4, 3], 1), 2);
    assert.equal(effectiveRank([1, 0, 0]), 1);
    assert.equal(effectiveRank([0, 0]), 0);
    assert.equal(effectiveRank([1, 1, 1, 1], 0.99), 4);
    assert.equal(effectiveRank([10, 2, 0.1], 0.99), 2); // 100/104.01 = 0.961, then 104/104.01
  });
  it('entropy (Roy & Vetterli): exp(H(σ/Σσ)); n equal values give n; one value gives 1', () => {
    near(entropyEffectiveRank([2, 2, 2, 2]), 4, 1e-14, 'equal');
    near(entropyEffectiveRank([5, 0, 0]), 1, 0, 'one');
    near(entropyEffectiveRank([3, 1]), Math.exp(-(0.75 * Math.log(0.75) + 0.25 * Math.log(0.25))), 1e-15, '3,1');
    assert.equal(entropyEffectiveRank([0, 0]), 0);
    for (let seed = 0; seed < 5; seed++) {
      const s = singularValues(randomGaussian(6, 6, seed));
      const e = entropyEffectiveRank(s);
      assert.ok(e >= 1 && e <= 6, `between 1 and the count: ${e}`);
    }
  });
});

describe('low-rank: bad input', () => {
  it('names k and the limit', () => {
    const M = randomGaussian(4, 6, 0);
    assert.throws(() => lowRankApprox(M, 0), /k must be an integer with 1 <= k <= 4 \(min\(m, n\) for a 4×6 matrix\), got 0/);
    assert.throws(() => lowRankApprox(M, 5), /1 <= k <= 4 .*got 5/);
    assert.throws(() => lowRankApprox(M, 1.5), /got 1\.5/);
    assert.throws(() => energy([1, 2], 3), /1 <= k <= 2 \(the number of singular values\), got 3/);
    assert.throws(() => truncationError([1, 2], 0), /got 0/);
  });
  it('names a bad spectrum and a bad threshold', () => {
    assert.throws(() => energy([1, -2], 1), /sigma\[1\] is -2: singular values must be finite and >= 0/);
    assert.throws(() => entropyEffectiveRank([NaN]), /sigma\[0\] is NaN/);
    assert.throws(() => energy([], 1), /sigma is empty/);
    assert.throws(() => effectiveRank([1], 0), /threshold must be in \(0, 1\], got 0/);
    assert.throws(() => effectiveRank([1], 1.5), /got 1\.5/);
  });
  it('names mismatched shapes', () => {
    assert.throws(() => frobeniusError([[1, 2]], [[1], [2]]), /approx is 2×1 but M is 1×2/);
  });
});
