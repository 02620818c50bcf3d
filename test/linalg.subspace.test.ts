// Subspace similarity φ (Hu et al. 2021, §7.2, Eq. 4): φ(A, A, i, i) = 1, values in [0, 1], symmetry
// φ(A₁, A₂, i, j) = φ(A₂, A₁, j, i), known values (orthogonal → 0, 45° → 1/2, nested → 1), grid = pointwise.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomGaussian, subspaceSimilarity, subspaceSimilarityGrid } from '../src/linalg/index.js';

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
