// Subspace similarity φ (Hu et al. 2021, §7.2, Eq. 4): φ(A, A, i, i) = 1, values in [0, 1], symmetry
// φ(A₁, A₂, i, j) = φ(A₂, A₁, j, i), known values (orthogonal → 0, 45° → 1/2, nested → 1), grid = pointwise;
// the random baseline against E[φ] = max(i, j)/d and against φ of Haar-random frames drawn another way.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  randomGaussian, randomOrthogonal, randomSubspaceBaseline, subspaceSimilarity, subspaceSimilarityGrid,
} from '../src/linalg/index.js';

/** A [r, d] matrix whose rows are given vectors scaled by decreasing weights (so the SVD order is known). */
function rowsOf(...rows: number[][]): number[][] {
  return rows.map((r, i) => r.map((x) => x * (rows.length - i)));
}

describe('subspaceSimilarity', () => {
  const A8 = randomGaussian(8, 32, 1); // like lora_A at r = 8, d_in = 32
  const A4 = randomGaussian(4, 32, 2);

  it('φ(A, A, i, i) = 1 for every i', () => {
    for (let i = 1; i <= 8; i++) assert.ok(Math.abs(subspaceSimilarity(A8, A8, i, i) - 1) < 1e-12, `i=${i}`);
  });

  it('is in [0, 1] and symmetric: φ(A₁, A₂, i, j) = φ(A₂, A₁, j, i)', () => {
    for (let i = 1; i <= 8; i++) {
      for (let j = 1; j <= 4; j++) {
        const a = subspaceSimilarity(A8, A4, i, j), b = subspaceSimilarity(A4, A8, j, i);
        assert.ok(a >= 0 && a <= 1, `range ${a}`);
        assert.ok(Math.abs(a - b) < 1e-12, `symmetry at ${i},${j}`);
      }
    }
  });

  it('known values: orthogonal subspaces 0, a 45° line 1/2, a nested subspace 1', () => {
    const e = (k: number) => Array.from({ length: 4 }, (_, t) => (t === k ? 1 : 0));
    const span12 = rowsOf(e(0), e(1));
    const span34 = rowsOf(e(2), e(3));
    assert.ok(subspaceSimilarity(span12, span34, 2, 2) < 1e-15);
    const diag = [[Math.SQRT1_2, Math.SQRT1_2, 0, 0]];
    assert.ok(Math.abs(subspaceSimilarity([e(0)], diag, 1, 1) - 0.5) < 1e-15);
    const span1234 = rowsOf(e(0), e(1), e(2), e(3));
    assert.ok(Math.abs(subspaceSimilarity(span12, span1234, 2, 4) - 1) < 1e-12, 'contained: normalised by min(i, j)');
    // A random 32-d pair of small subspaces overlaps little: E[φ(i=j=1)] = 1/32.
    assert.ok(subspaceSimilarity(A8, A4, 1, 1) < 0.3);
  });

  it("side 'left' compares column spaces: same as 'right' on the transposes (lora_B [d_out, r])", () => {
    const B1 = randomGaussian(24, 6, 3), B2 = randomGaussian(24, 5, 4);
    const left = subspaceSimilarity(B1, B2, 3, 2, { side: 'left' });
    const right = subspaceSimilarity(B1.transpose(), B2.transpose(), 3, 2);
    assert.ok(Math.abs(left - right) < 1e-12);
  });

  it('the grid equals the pointwise φ and lists chart cells', () => {
    const g = subspaceSimilarityGrid(A8, A4);
    assert.equal(g.phi.length, 8);
    assert.equal(g.phi[0].length, 4);
    assert.equal(g.cells.length, 32);
    for (let i = 1; i <= 8; i++) {
      for (let j = 1; j <= 4; j++) {
        assert.ok(Math.abs(g.phi[i - 1][j - 1] - subspaceSimilarity(A8, A4, i, j)) < 1e-12, `${i},${j}`);
      }
    }
    assert.deepEqual(g.cells[5], { i: 2, j: 2, phi: g.phi[1][1] });
    const small = subspaceSimilarityGrid(A8, A8, { maxI: 3, maxJ: 2 });
    assert.equal(small.phi.length, 3);
    assert.ok(Math.abs(small.phi[1][1] - 1) < 1e-12);
  });

  it('names a dimension mismatch, a bad i or j, and a bad side', () => {
    assert.throws(
      () => subspaceSimilarity(randomGaussian(4, 10, 0), randomGaussian(4, 12, 0), 1, 1),
      /A1 is 4×10 and A2 is 4×12: with side 'right' they need the same number of columns \(10 vs 12\)/,
    );
    assert.throws(() => subspaceSimilarity(A8, A4, 0, 1), /i must be an integer with 1 <= i <= 8 \(A1 has 8 singular vectors\), got 0/);
    assert.throws(() => subspaceSimilarity(A8, A4, 1, 5), /j must be an integer with 1 <= j <= 4 .*got 5/);
    assert.throws(() => subspaceSimilarityGrid(A8, A4, { maxJ: 9 }), /maxJ must be .* got 9/);
    assert.throws(() => subspaceSimilarity(A8, A4, 1, 1, { side: 'up' as 'left' }), /side must be 'left' or 'right', got 'up'/);
  });

  it('does not mutate its inputs', () => {
    const rows = A4.to2DArray();
    const before = rows.map((r) => [...r]);
    subspaceSimilarityGrid(rows, A8);
    assert.deepEqual(rows, before);
  });
});

describe('randomSubspaceBaseline', () => {
  it('averages to the chance level max(i, j)/d (300 pairs in ℝ¹⁶: 4+ standard errors inside 0.02)', () => {
    const b = randomSubspaceBaseline(16, 4, 8, { pairs: 300, seed: 5 });
    assert.equal(b.pairs, 300);
    assert.equal(b.mean.length, 4);
    assert.equal(b.mean[0].length, 8);
    for (let i = 1; i <= 4; i++) {
      for (let j = 1; j <= 8; j++) {
        assert.equal(b.expected[i - 1][j - 1], Math.max(i, j) / 16);
        const m = b.mean[i - 1][j - 1];
        assert.ok(Math.abs(m - Math.max(i, j) / 16) < 0.02, `mean ${m} at ${i},${j}`);
        assert.ok(b.min[i - 1][j - 1] <= m && m <= b.max[i - 1][j - 1] && b.max[i - 1][j - 1] <= 1, `order at ${i},${j}`);
      }
    }
    assert.ok(b.max[0][0] > b.min[0][0] + 0.1, 'single directions spread widely');
    // φ(1, 1) is a squared cosine of two random unit vectors: Beta(1/2, (d − 1)/2), sd = √(2(d − 1)/(d²(d + 2))).
    const sd11 = Math.sqrt((2 * 15) / (16 * 16 * 18));
    assert.ok(Math.abs(b.std[0][0] - sd11) < 0.25 * sd11, `std ${b.std[0][0]} vs ${sd11}`);
  });

  it('matches φ of Haar-random frames drawn another way (QR of a Gaussian), on the whole subspaces', () => {
    const b = randomSubspaceBaseline(16, 3, 5, { pairs: 300, seed: 1 });
    let sum = 0;
    for (let p = 0; p < 300; p++) {
      const Q1 = randomOrthogonal(16, 1000 + p, 3), Q2 = randomOrthogonal(16, 2000 + p, 5); // [16, 3], [16, 5]
      sum += Q1.transpose().mmul(Q2).to1DArray().reduce((a, x) => a + x * x, 0) / 3; // ‖Q1ᵀQ2‖²_F / min(3, 5)
    }
    assert.ok(Math.abs(b.mean[2][4] - sum / 300) < 0.02, `${b.mean[2][4]} vs ${sum / 300}`);
  });

  it('is seeded, takes maxI/maxJ, and one pair is its own min, mean and max', () => {
    const a = randomSubspaceBaseline(12, 4, 6, { pairs: 3, seed: 7, maxI: 2, maxJ: 3 });
    assert.deepEqual(a, randomSubspaceBaseline(12, 4, 6, { pairs: 3, seed: 7, maxI: 2, maxJ: 3 }));
    assert.equal(a.mean.length, 2);
    assert.equal(a.mean[0].length, 3);
    assert.notDeepEqual(a.mean, randomSubspaceBaseline(12, 4, 6, { pairs: 3, seed: 8, maxI: 2, maxJ: 3 }).mean);
    const one = randomSubspaceBaseline(12, 4, 6, { pairs: 1 });
    assert.deepEqual(one.min, one.max);
    assert.deepEqual(one.mean, one.max);
    assert.ok(one.std.every((row) => row.every((x) => x === 0)));
  });

  it('names bad sizes', () => {
    assert.throws(() => randomSubspaceBaseline(0, 1, 1), /d must be a positive integer, got 0/);
    assert.throws(() => randomSubspaceBaseline(8, 9, 1), /r1 must be an integer with 1 <= r1 <= 8 .*got 9/);
    assert.throws(() => randomSubspaceBaseline(8, 2, 2, { pairs: 0 }), /pairs must be a positive integer, got 0/);
    assert.throws(() => randomSubspaceBaseline(8, 2, 2, { maxJ: 3 }), /maxJ must be an integer with 1 <= maxJ <= 2/);
  });
});
