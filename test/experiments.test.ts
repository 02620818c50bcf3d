// Sweep helpers, the §7 amplification analysis against a matrix built with known singular directions, and
// runExperiment(): counts, the base restored bit for bit after LoRA, PiSSA and QLoRA runs, and no leaked tensors.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { Matrix } from 'ml-matrix';
import { bestBy, grid, loraParamsPerRank, rankForBudget, runSweep, shareOfBest } from '../src/experiments/sweep.js';
import { amplification, LORA_PAPER_TABLE_7 } from '../src/experiments/analysis.js';
import { runExperiment, taskValLoss } from '../src/experiments/experiment.js';
import { prescribedSpectrum, randomOrthogonal } from '../src/linalg/index.js';
import { Gpt } from '../src/models/gpt.js';
import { gptConfig } from '../src/models/config.js';
import { CharTokenizer } from '../src/data/tokenizer.js';
import { textTask } from '../src/data/tasks.js';

describe('sweep helpers', () => {
  it('grid() is the cartesian product, first axis slowest, and rejects an empty axis', () => {
    const g = grid({ r: [1, 2], lora_dropout: [0, 0.1, 0.2] });
    assert.equal(g.length, 6);
    assert.deepEqual(g[0], { r: 1, lora_dropout: 0 });
    assert.deepEqual(g[3], { r: 2, lora_dropout: 0 });
    assert.throws(() => grid({ r: [] }), /grid axis 'r' must be a non-empty list/);
  });

  it('runSweep() runs points in order, merges point and result, reports progress, names a failing point', async () => {
    const seen: number[] = [];
    const rows = await runSweep([{ r: 1 }, { r: 4 }], async (p) => ({ loss: 1 / p.r }), { onProgress: (p) => seen.push(p.done) });
    assert.deepEqual(rows, [{ r: 1, loss: 1 }, { r: 4, loss: 0.25 }]);
    assert.deepEqual(seen, [1, 2]);
    await assert.rejects(
      runSweep([{ r: 1 }, { r: 0 }], async (p) => {
        if (p.r === 0) throw new Error('r must be a positive integer, got 0');
        return {};
      }),
      /sweep point 2\/2 \{"r":0\} failed: r must be a positive integer, got 0/,
    );
  });

  it('bestBy() and shareOfBest() summarise a sweep', () => {
    const rows = [{ r: 1, loss: 2 }, { r: 2, loss: 1.5 }, { r: 4, loss: 1 }];
    assert.equal(bestBy(rows, 'loss').r, 4);
    assert.equal(bestBy(rows, 'loss', 'max').r, 1);
    assert.deepEqual(shareOfBest(rows, 'loss', 3), [0.5, 0.75, 1]);
    assert.throws(() => shareOfBest(rows, 'loss', 1), /no row improves on the baseline 1/);
  });
});

describe('amplification (LoRA paper §7.3)', () => {
  // W = U·diag(σ)·Vᵀ with known factors; ΔW along W's 3rd direction, scaled by c.
  const sigma = [9, 5, 2, 1, 0.5, 0.25];
  const U = randomOrthogonal(8, 1, 6);
  const V = randomOrthogonal(6, 2, 6);
  const W = U.mmul(Matrix.diag(sigma)).mmul(V.transpose()); // [8, 6]
  const u3 = U.getColumnVector(2), v3 = V.getColumnVector(2);

  it('ΔW = c·u₃·v₃ᵀ: projection = σ₃, amplification = c/σ₃, W\'s own top direction gives σ₁', () => {
    const dW = u3.mmul(v3.transpose()).mul(4);
    const a = amplification(W, dW, 1);
    assert.ok(Math.abs(a.projDelta - 2) < 1e-9, `${a.projDelta}`);
    assert.ok(Math.abs(a.amplification - 2) < 1e-9); // 4 / σ₃
    assert.ok(Math.abs(a.projWeight - 9) < 1e-9);
    assert.ok(Math.abs(a.deltaNorm - 4) < 1e-9);
    assert.ok(Math.abs(a.weightNorm - Math.hypot(...sigma)) < 1e-9);
    // two top directions of W: √(σ₁² + σ₂²)
    assert.ok(Math.abs(amplification(W, dW.clone().add(U.getColumnVector(3).mmul(V.getColumnVector(3).transpose())), 2).projWeight - Math.hypot(9, 5)) < 1e-9);
    assert.ok(a.projRandom < a.projWeight);
  });

  it('uses prescribed spectra the same way, and checks its arguments', () => {
    const { M } = prescribedSpectrum(5, 4, [3, 2, 1, 0.5], 3);
    assert.ok(Math.abs(amplification(M, M, 2).amplification - Math.hypot(3, 2, 1, 0.5) / Math.hypot(3, 2)) < 1e-9);
    assert.throws(() => amplification(W, new Matrix(6, 8), 1), /W is 8×6 but ΔW is 6×8/);
    assert.throws(() => amplification(W, W, 7), /r must be an integer in 1\.\.6/);
  });

  it('carries the paper\'s Table 7 values (21.5 ≈ 6.91 / 0.32 for r = 4)', () => {
    const [r4, r64] = LORA_PAPER_TABLE_7;
    assert.ok(Math.abs(r4!.deltaNorm / r4!.projDelta - r4!.amplification) < 0.1);
    assert.ok(r64!.amplification < 2 && r64!.amplification > 1.8);
  });
});

describe('runExperiment()', () => {
  const tok = new CharTokenizer();
  let model: Gpt;
  before(async () => {
    await tf.setBackend('cpu');
    model = new Gpt(gptConfig({ preset: 'nano', vocabSize: tok.vocabSize, dModel: 16, dFf: 32, nLayers: 1 }), { seed: 3 });
  });

  const snapshot = () => [...model.layers.values()].flatMap((l) => l.weights.map((w) => Array.from(w.read().dataSync())));

  it('counts params as PEFT would, equal budgets give equal counts, and rankForBudget finds the rank', () => {
    assert.equal(loraParamsPerRank(model, ['q_proj']), 32); // one block: in + out = 16 + 16
    assert.equal(rankForBudget(model, ['q_proj'], 256), 8);
    assert.equal(rankForBudget(model, ['q_proj', 'v_proj'], 256), 4);
    assert.equal(rankForBudget(model, ['q_proj', 'k_proj', 'v_proj', 'o_proj'], 256), 2);
    assert.throws(() => rankForBudget(model, ['q_proj', 'v_proj'], 100), /not a whole rank .* \(64 per rank, so r = 1\.563\)/);
  });

  it('trains a LoRA, a PiSSA and a QLoRA variant, measures them, and leaves the base exactly as it was, with no leaks', async () => {
    const before = snapshot();
    const tensors = tf.memory().numTensors;
    const task = textTask('reverse');
    const common = { model, tokenizer: tok, task, steps: 4, lr: 1e-2, batchSize: 4, valExamples: 8 };
    const baseLoss = await taskValLoss(model, tok, task, 8);
    const plain = await runExperiment(
      { lora: { r: 2, lora_alpha: 4, target_modules: ['q_proj', 'v_proj', 'lm_head'] } },
      { ...common, steps: 12, lr: 5e-2, keepWeights: true },
    );
    assert.equal(plain.trainable, 2 * 2 * (16 + 16) + 2 * (16 + 31));
    assert.equal(plain.losses.length, 12);
    assert.equal(plain.baseValLoss, baseLoss);
    assert.equal(plain.startValLoss, baseLoss); // B = 0: the variant starts as the base
    assert.ok(plain.valLoss < plain.baseValLoss - 0.05, `val ${plain.valLoss} vs base ${plain.baseValLoss}`);
    const w = plain.weights!.get('layers.0.self_attn.q_proj')!;
    assert.deepEqual([w.lora_A.rows, w.lora_A.columns, w.lora_B.rows, w.lora_B.columns, w.delta.rows, w.weight.rows], [2, 16, 16, 2, 16, 16]);
    // ΔW = scaling·B·A with scaling = 2
    assert.ok(w.lora_B.mmul(w.lora_A).mul(2).sub(w.delta).abs().max() < 1e-5);
    assert.deepEqual(snapshot(), before);
    const pissa = await runExperiment({ lora: { r: 2, target_modules: ['q_proj'], init_lora_weights: 'pissa' } }, common);
    assert.equal(pissa.name, 'r=2 PiSSA');
    assert.ok(Math.abs(pissa.startValLoss - baseLoss) < 1e-4, `PiSSA starts at ${pissa.startValLoss}, base ${baseLoss}`);
    assert.deepEqual(snapshot(), before); // PiSSA rewrote the base kernel during the run
    const q = await runExperiment({ qlora: { config: { r: 2, target_modules: ['q_proj'] }, quant: { bits: 'nf4' } } }, common);
    assert.ok(q.weightBytes < plain.weightBytes, `${q.weightBytes} vs ${plain.weightBytes}`);
    assert.deepEqual(snapshot(), before);
    assert.equal(tf.memory().numTensors, tensors);
    await assert.rejects(runExperiment({}, common), /needs exactly one of 'lora' or 'qlora'/);
    // a fixed pool of training examples: reported loss on the pool, and the pool must fill a batch
    assert.equal(plain.trainLoss, undefined);
    const small = await runExperiment({ lora: { r: 2, target_modules: ['q_proj'] } }, { ...common, trainExamples: 4 });
    assert.equal(typeof small.trainLoss, 'number');
    assert.ok(Number.isFinite(small.trainLoss!));
    await assert.rejects(runExperiment({ lora: { r: 2, target_modules: ['q_proj'] } }, { ...common, trainExamples: 3 }), /trainExamples must be an integer >= batchSize \(4\), got 3/);
    assert.deepEqual(snapshot(), before);
    assert.equal(tf.memory().numTensors, tensors);
  });
});
