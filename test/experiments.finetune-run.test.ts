// runFineTune() and FineTuneRuns on the bundled GPT, a few steps each: the base comes back bit for bit after LoRA
// and after full fine-tuning; step 0 of the curve is the base's score; a curve point equals the shorter run (the
// learning rate is constant); W′ is W₀ + ΔW for LoRA's layers and the trained kernel for full fine-tuning; runs are
// shared by setting and seed; the forgetting probe holds only prompts the target never shows; nothing leaks.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import {
  curveRows, runFineTune, tunedWeights, weightMatrix, type FineTuneOptions,
} from '../src/experiments/finetune-run.js';
import { denseLayerPaths, denseWeights } from '../src/experiments/weight-update.js';
import { FineTuneRuns } from '../src/experiments/finetune-runs.js';
import { forgettingProbe, paretoFrontier } from '../src/experiments/forgetting.js';
import { scoreAnswers } from '../src/train/eval.js';
import { makeExamples, textTask } from '../src/data/tasks.js';
import { bundledCheckpoint, loadGpt } from '../src/models/checkpoint.js';
import { useBackend } from '../src/backend/index.js';
import { maxAbsDiff } from '../src/linalg/index.js';
import type { Gpt } from '../src/models/gpt.js';
import type { CharTokenizer } from '../src/data/tokenizer.js';

const shift = textTask('shift');
const copy = textTask('copy');

async function allWeights(model: Gpt): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (const l of model.layers.values()) for (const w of l.weights) out.push((await w.read().data()) as Float32Array);
  return out;
}

describe('runFineTune()', () => {
  let model: Gpt;
  let tok: CharTokenizer;
  let opts: FineTuneOptions;
  before(async () => {
    await useBackend('wasm', { log: null });
    ({ model, tokenizer: tok } = await loadGpt(bundledCheckpoint('gpt')));
    const probes = { copy: forgettingProbe(copy, shift, 8) };
    opts = { model, tokenizer: tok, task: shift, steps: 4, lr: 3e-3, batchSize: 4, valExamples: 8, probes };
  });

  it('LoRA: scores the base at step 0, keeps W′ = W₀ + ΔW of the wrapped layers, restores the base', async () => {
    const tensors = tf.memory().numTensors;
    const before0 = await allWeights(model);
    const W0 = await denseWeights(model);
    const lora = { r: 2, lora_alpha: 4, target_modules: ['q_proj', 'v_proj'] };
    const run = await runFineTune({ method: 'lora', lora }, { ...opts, evalSteps: [2] });
    assert.deepEqual(run.curve.map((p) => p.step), [0, 2, 4]);
    const base = await scoreAnswers(model, tok, makeExamples(shift, 8, 1, 'val'));
    assert.equal(run.curve[0]!.scores['target']!.loss, base.loss);
    assert.equal(run.curve[0]!.scores['copy']!.exactMatch, 1); // the base copies
    assert.equal(run.losses.length, 4);
    assert.equal(run.trainable, 2 * 2 * (2 * (128 + 128))); // 2 blocks × (q, v) × r·(d_in + d_out)
    const wrapped = ['0.self_attn.q_proj', '0.self_attn.v_proj', '1.self_attn.q_proj', '1.self_attn.v_proj'];
    assert.deepEqual([...run.weights.keys()].sort(), wrapped.map((p) => `layers.${p}`));
    const q = tunedWeights(run, (p) => p.startsWith('layers.1.')).get('layers.1.self_attn.q_proj')!;
    assert.equal(tunedWeights(run, (p) => p.startsWith('layers.1.')).size, 2);
    const rows = curveRows(run);
    assert.deepEqual(Object.keys(rows[0]!), ['step', 'targetLoss', 'targetMatch', 'copyLoss', 'copyMatch']);
    assert.deepEqual([rows[2]!.step, rows[2]!.copyMatch], [4, run.curve[2]!.scores['copy']!.exactMatch]);
    const moved = maxAbsDiff(q, W0.get('layers.1.self_attn.q_proj')!);
    assert.ok(moved > 0 && moved < 0.5, `W′ − W₀ ${moved}`); // B ≠ 0 after training, and small
    const after = await allWeights(model);
    after.forEach((w, i) => assert.deepEqual(w, before0[i]));
    assert.equal(tf.memory().numTensors, tensors);
  });

  it('full fine-tuning: every linear layer changes, a curve point is the shorter run, base restored', async () => {
    const tensors = tf.memory().numTensors;
    const before0 = await allWeights(model);
    const W0 = await denseWeights(model);
    const long = await runFineTune({ method: 'full' }, { ...opts, evalSteps: [2] });
    const short = await runFineTune({ method: 'full' }, { ...opts, steps: 2 });
    assert.deepEqual(long.curve[1]!.scores, short.curve[1]!.scores);
    assert.deepEqual(long.losses.slice(0, 2), short.losses);
    assert.deepEqual([...long.weights.keys()], denseLayerPaths(model));
    assert.ok(denseLayerPaths(model).includes('lm_head'));
    for (const [p, w] of long.weights) assert.ok(maxAbsDiff(weightMatrix(w), W0.get(p)!) > 0, p);
    assert.equal(long.trainable, long.all);
    const after = await allWeights(model);
    after.forEach((w, i) => assert.deepEqual(w, before0[i]));
    assert.equal(tf.memory().numTensors, tensors);
  });

  it('names bad options before touching the model', async () => {
    const full = { method: 'full' } as const;
    await assert.rejects(runFineTune(full, { ...opts, steps: 0 }), /steps must be a positive integer, got 0/);
    await assert.rejects(runFineTune(full, { ...opts, evalSteps: [5] }), /evalSteps must be integers in 0..4/);
    await assert.rejects(runFineTune(full, { ...opts, probes: { target: [] } }), /'target' is taken/);
    await assert.rejects(runFineTune({ method: 'dora' } as never, opts), /must be 'lora' or 'full', got "dora"/);
  });

  it('FineTuneRuns: shares identical runs, trains a new setting, gives rows per curve step', async () => {
    const runs = new FineTuneRuns({ ...opts, steps: 2 });
    const setting = (p: { lr: number }) => ({ spec: { method: 'full' as const }, lr: p.lr });
    const rows = await runs.rows([{ lr: 1e-3 }, { lr: 1e-3 }, { lr: 3e-3 }], [0], setting, (run) =>
      run.curve.map((c) => ({ step: c.step, loss: c.scores['target']!.loss })),
    );
    assert.deepEqual(runs.counts, { trained: 2, reused: 1 });
    const order = [[1e-3, 0], [1e-3, 2], [1e-3, 0], [1e-3, 2], [3e-3, 0], [3e-3, 2]];
    assert.deepEqual(rows.map((r) => [r.lr, r.step]), order);
    assert.deepEqual(rows[1], rows[3]); // the reused run gives the same rows
    assert.notEqual(rows[1]!.loss, rows[5]!.loss);
    await assert.rejects(runs.rows([{ lr: 1e-3 }], [0, 0], setting, () => ({})), /seeds must differ/);
  });
});

describe('forgettingProbe() and paretoFrontier()', () => {
  it('takes only prompts whose word count the target never uses', () => {
    const probe = forgettingProbe(copy, shift, 50);
    assert.equal(probe.length, 50);
    assert.ok(probe.every((e) => e.prompt.split(' ').length !== 2 && e.answer === e.prompt));
    const words = new Set(probe.map((e) => e.prompt.split(' ').length));
    assert.deepEqual([...words].sort(), [1, 3]);
    assert.throws(() => forgettingProbe(shift, textTask('swap'), 5), /no prompt lies outside the target/);
  });

  it('keeps the points no other point beats on both axes, by learning', () => {
    const pairs = [[0.1, 0.9], [0.5, 0.5], [0.4, 0.3], [0.9, 0.1]];
    const pts = pairs.map(([learned, kept]) => ({ learned: learned!, kept: kept! }));
    assert.deepEqual(paretoFrontier(pts), [pts[0], pts[1], pts[3]]);
  });
});
