// The notebooks' experiments as library functions: fitting B·A by Adam reaches the Eckart–Young optimum
// from LoRA's start (B·A = 0), and full fine-tuning on a task that needs a low-rank change learns a
// low-rank ΔW (the least-squares answer, computed here another way), against a matched Gaussian baseline.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { Matrix, solve } from 'ml-matrix';
import { frobeniusNorm, lowRankApprox, prescribedSpectrum, randomGaussian, singularValues } from '../src/linalg/index.js';
import { fitLowRank, fullFineTune, lowRankTask, matchedGaussian } from '../src/experiments/index.js';

before(async () => {
  await tf.setBackend('cpu');
});

describe('fitLowRank', () => {
  // A rank-2 signal plus a small full-rank tail: the rank-2 optimum is the truncated SVD, not the signal.
  const target = Matrix.add(prescribedSpectrum(16, 12, [5, 3], 1).M, randomGaussian(16, 12, 2, 0.05));

  it('starts at B·A = 0, ends at the truncated SVD (Eckart–Young optimum), rank <= r; no tensor leaks', async () => {
    const start = tf.memory().numTensors;
    const seen: number[] = [];
    const fit = await fitLowRank(target, 2, { steps: 600, logEvery: 100, onProgress: (p) => seen.push(p.step) });
    assert.equal(tf.memory().numTensors, start, 'tensors leaked');
    assert.deepEqual([fit.A.rows, fit.A.columns, fit.B.rows, fit.B.columns], [2, 12, 16, 2]);
    assert.deepEqual(seen, [1, 100, 200, 300, 400, 500, 600]);
    // Step 1's loss is measured before the first update, with B = 0: it is mean(ΔW²).
    const meanSq = frobeniusNorm(target) ** 2 / (16 * 12);
    assert.ok(Math.abs(fit.losses[0].loss - meanSq) < 1e-5 * meanSq, `${fit.losses[0].loss} vs ${meanSq}`);
    const optimum = lowRankApprox(target, 2);
    const rel = fit.distanceToOptimum / frobeniusNorm(optimum);
    assert.ok(rel < 1e-4, `‖B·A − ΔW_2‖/‖ΔW_2‖ = ${rel}`);
    assert.ok(fit.error >= fit.optimum - 1e-9, 'no rank-2 matrix beats Eckart–Young');
    assert.ok(fit.error < fit.optimum * 1.001, `error ${fit.error} vs optimum ${fit.optimum}`);
    const s = singularValues(fit.BA);
    assert.ok(s[2] < 1e-12 * s[0], `σ_3(B·A) = ${s[2]}`);
  });

  it('names a bad r, steps or learning rate', async () => {
    await assert.rejects(fitLowRank(target, 0), /r must be an integer with 1 <= r <= 12 \(min\(d_out, d_in\) for a 16×12 ΔW\), got 0/);
    await assert.rejects(fitLowRank(target, 13), /got 13/);
    await assert.rejects(fitLowRank(target, 2, { steps: 0 }), /steps must be a positive integer, got 0/);
    await assert.rejects(fitLowRank(target, 2, { learningRate: -1 }), /learningRate must be > 0, got -1/);
  });
});

describe('lowRankTask + fullFineTune', () => {
  it('lowRankTask: shapes, the update has the asked spectrum, Y = X·(W0 + ΔW*)ᵀ without noise, seeded', () => {
    const t = lowRankTask({ dOut: 10, dIn: 8, updateSigma: [3, 1], samples: 20, noise: 0, seed: 4 });
    assert.deepEqual([t.W0.rows, t.W0.columns, t.X.rows, t.X.columns, t.Y.rows, t.Y.columns], [10, 8, 20, 8, 20, 10]);
    const s = singularValues(t.deltaW);
    assert.ok(Math.abs(s[0] - 3) < 1e-12 && Math.abs(s[1] - 1) < 1e-12 && s[2] < 1e-12);
    const Y = t.X.mmul(Matrix.add(t.W0, t.deltaW).transpose());
    assert.ok(frobeniusNorm(Matrix.sub(Y, t.Y)) < 1e-12);
    assert.deepEqual(lowRankTask({ seed: 4, dOut: 10, dIn: 8, samples: 20 }).Y.to2DArray(), lowRankTask({ seed: 4, dOut: 10, dIn: 8, samples: 20 }).Y.to2DArray());
  });

  it('full fine-tuning converges to the least-squares W and its ΔW is low-rank, unlike a matched Gaussian', async () => {
    const t = lowRankTask({ dOut: 16, dIn: 12, updateSigma: [3, 2], samples: 64, noise: 0.1, seed: 1 });
    const start = tf.memory().numTensors;
    const ft = await fullFineTune(t.W0, t.X, t.Y, { steps: 80 });
    assert.equal(tf.memory().numTensors, start, 'tensors leaked');
    assert.ok(ft.losses[ft.losses.length - 1].loss < ft.losses[0].loss / 10, 'the loss fell');
    // Reference computed another way: the normal equations, XᵀX·Wᵀ = XᵀY.
    const Wls = solve(t.X.transpose().mmul(t.X), t.X.transpose().mmul(t.Y)).transpose();
    const gap = frobeniusNorm(Matrix.sub(ft.W, Wls)) / frobeniusNorm(Wls);
    assert.ok(gap < 1e-4, `‖W − W_ls‖/‖W_ls‖ = ${gap}`);
    const s = singularValues(ft.deltaW);
    assert.ok(s[1] > 5 * s[2], `two dominant singular values: ${Array.from(s.slice(0, 4))}`);
    const g = singularValues(matchedGaussian(ft.deltaW, 3));
    assert.ok(g[1] < 2 * g[2], `the Gaussian's spectrum has no gap: ${Array.from(g.slice(0, 4))}`);
  });

  it('matchedGaussian keeps shape and Frobenius norm and does not touch its input', () => {
    const M = new Matrix([[3, 0, 0], [0, 4, 0]]);
    const G = matchedGaussian(M, 1);
    assert.deepEqual([G.rows, G.columns], [2, 3]);
    assert.ok(Math.abs(frobeniusNorm(G) - 5) < 1e-12);
    assert.deepEqual(M.to2DArray(), [[3, 0, 0], [0, 4, 0]]);
  });

  it('names shapes that do not fit y = x·Wᵀ and bad options', async () => {
    const t = lowRankTask({ dOut: 4, dIn: 3, samples: 5, updateSigma: [1] });
    await assert.rejects(fullFineTune(t.W0, t.Y, t.Y), /shapes do not fit y = x·Wᵀ: W0 is 4×3 \[d_out, d_in\], X 5×4 \[N, d_in\], Y 5×4 \[N, d_out\]/);
    await assert.rejects(fullFineTune(t.W0, t.X, t.Y, { learningRate: 0 }), /learningRate must be > 0, got 0/);
    assert.throws(() => lowRankTask({ noise: -1 }), /noise must be finite and >= 0, got -1/);
    assert.throws(() => lowRankTask({ updateSigma: [] }), /updateSigma is empty/);
  });
});
