// Flop counts of the SVDs: the randomized SVD's closed form against what its kernels count as they run (two
// derivations that must agree, for tall, wide and clipped sketches), Golub & Van Loan's full-SVD estimate, errors.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  bidiagonalizationFlops,
  prescribedSpectrum,
  randomGaussian,
  randomizedSvd,
  randomizedSvdFlops,
  svdFlops,
  type FlopCounter,
} from '../src/linalg/index.js';

describe('randomizedSvdFlops', () => {
  const cases: [number, number, number, number, number][] = [
    // m, n, k, p, q
    [120, 80, 10, 10, 2],
    [50, 140, 6, 4, 1],
    [60, 60, 5, 0, 0],
    [30, 20, 15, 10, 3], // k + p > min(m, n): the sketch is clipped to l = 20
  ];
  for (const [m, n, k, p, q] of cases) {
    it(`${m}×${n}, k ${k}, p ${p}, q ${q}: the closed form is what the kernels count`, () => {
      const counter: FlopCounter = { flops: 0 };
      randomizedSvd(randomGaussian(m, n, m + n), k, { oversampling: p, powerIterations: q, seed: 2, counter });
      const f = randomizedSvdFlops(m, n, k, { oversampling: p, powerIterations: q });
      assert.equal(f.l, Math.min(k + p, m, n));
      assert.equal(counter.flops, f.products + f.orthonormalization + f.recombination);
      assert.equal(f.products, (2 * q + 2) * 2 * m * n * f.l);
      assert.equal(f.total, f.products + f.orthonormalization + f.recombination + f.smallSvd);
      assert.equal(f.smallSvd, svdFlops(f.l, n));
    });
  }

  it('each power iteration adds two products and two orthonormalisations', () => {
    const [a, b] = [0, 1].map((q) => randomizedSvdFlops(400, 300, 10, { oversampling: 10, powerIterations: q }));
    assert.equal(b!.products - a!.products, 2 * 2 * 400 * 300 * 20);
    const gs = (rows: number) => 4 * rows * 20 * 19 + 5 * rows * 20;
    assert.equal(b!.orthonormalization - a!.orthonormalization, gs(400) + gs(300));
  });

  it('a counter keeps adding across calls, and a rank-deficient sketch counts its refills too', () => {
    const counter: FlopCounter = { flops: 0 };
    const { M } = prescribedSpectrum(40, 30, [3, 2, 1], 2); // rank 3 < l = 13: Gram–Schmidt must refill
    randomizedSvd(M, 3, { counter });
    const once = counter.flops;
    const f = randomizedSvdFlops(40, 30, 3);
    assert.ok(once > f.products + f.orthonormalization + f.recombination, `${once} counted with refills`);
    randomizedSvd(M, 3, { counter });
    assert.equal(counter.flops, 2 * once);
  });

  it('names bad shapes, k and options', () => {
    assert.throws(() => randomizedSvdFlops(10, 0, 1), /two integers >= 1, got 10×0/);
    assert.throws(() => randomizedSvdFlops(10, 8, 9), /1 <= k <= 8 for a 10×8 matrix, got 9/);
    assert.throws(() => randomizedSvdFlops(10, 8, 2, { powerIterations: -1 }), /integers >= 0, got 10 and -1/);
  });
});

describe('full SVD flops (Golub & Van Loan)', () => {
  it('14mn² + 8n³ for m >= n, the same through the transpose; bidiagonalisation 4mn² − 4n³/3 is a part of it', () => {
    assert.equal(svdFlops(400, 400), 22 * 400 ** 3);
    assert.equal(svdFlops(100, 30), 14 * 100 * 900 + 8 * 27000);
    assert.equal(svdFlops(30, 100), svdFlops(100, 30));
    assert.equal(bidiagonalizationFlops(300, 300), (8 / 3) * 300 ** 3);
    for (const [m, n] of [[400, 400], [1000, 10], [10, 1000]] as const) {
      assert.ok(bidiagonalizationFlops(m, n) < svdFlops(m, n));
    }
    assert.throws(() => svdFlops(2.5, 3), /got 2.5×3/);
  });
});
