// The training loop: Adam/AdamW against a by-hand reference (with LoRA+ lrScale), exact resume through files,
// NaN stop keeping the last good weights, abort, no tensor leaks per step, learning-rate schedule.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { Gpt } from '../src/models/gpt.js';
import { gptConfig } from '../src/models/config.js';
import { loadGpt, saveCheckpoint } from '../src/models/checkpoint.js';
import { CharTokenizer } from '../src/data/tokenizer.js';
import { TEXT_TASKS } from '../src/data/tasks.js';
import { batchAt } from '../src/data/batch.js';
import { mixSeed } from '../src/data/rng.js';
import { Adam } from '../src/train/adam.js';
import { train, learningRate, NonFiniteLossError, type TrainOptions } from '../src/train/loop.js';
import { lmLoss } from '../src/train/sft.js';
import { loadTrainingState, saveTrainingState } from '../src/train/state.js';
import { optimizerStateBytes, countParams } from '../src/train/memory.js';

let root: string;
before(async () => {
  await tf.setBackend('cpu');
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'lora-lab-train-'));
});
after(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

const tok = new CharTokenizer();
const SEED = 11;
// dropout on, so the per-step dropout seeds are exercised by the resume test
const nano = () => new Gpt(gptConfig({ preset: 'nano', vocabSize: tok.vocabSize, dropout: 0.1 }), { seed: 1 });
const allVars = (m: Gpt) => [...m.layers.values()].flatMap((l) => l.weights.map((w) => w.read() as tf.Variable));
const snapshot = async (vars: tf.Variable[]) => Promise.all(vars.map(async (v) => Array.from(await v.data())));
const sft = (m: Gpt) => (s: number) =>
  lmLoss(m, batchAt(TEXT_TASKS.reverse, tok, SEED, s, 4), { training: true, seed: mixSeed(SEED, s) });
const schedule: Pick<TrainOptions, 'steps' | 'lr' | 'warmupSteps' | 'schedule' | 'weightDecay'> = {
  steps: 6, lr: 3e-3, warmupSteps: 2, schedule: 'cosine', weightDecay: 0.01,
};

test('Adam/AdamW steps equal a by-hand reference; a group with lrScale s moves s× as far', async () => {
  const x = tf.variable(tf.tensor1d([0.5, -1.0]));
  const y = tf.variable(tf.tensor1d([2.0]));
  const c = [0.1, 0.3, -0.7];
  const opt = new Adam([{ name: 'a', variables: [x], lrScale: 1 }, { name: 'b', variables: [y], lrScale: 3 }], { weightDecay: 0.1 });
  const r = await train({
    optimizer: opt, steps: 3, lr: 0.01, gradClip: 0,
    loss: () => tf.tidy(() => tf.concat([x, y]).sub(tf.tensor1d(c)).square().sum() as tf.Scalar),
  });
  // reference in plain JS (PyTorch AdamW: decay, then the Adam step)
  const p = [0.5, -1.0, 2.0], m = [0, 0, 0], v = [0, 0, 0], scale = [1, 1, 3];
  for (let t = 1; t <= 3; t++) {
    for (let i = 0; i < 3; i++) {
      const g = 2 * (p[i]! - c[i]!);
      m[i] = 0.9 * m[i]! + 0.1 * g;
      v[i] = 0.999 * v[i]! + 0.001 * g * g;
      const lr = 0.01 * scale[i]!;
      p[i] = p[i]! * (1 - lr * 0.1) - (lr * (m[i]! / (1 - 0.9 ** t))) / (Math.sqrt(v[i]! / (1 - 0.999 ** t)) + 1e-8);
    }
  }
  const got = [...(await x.data()), ...(await y.data())];
  got.forEach((g, i) => assert.ok(Math.abs(g - p[i]!) < 1e-6, `param ${i}: ${g} vs ${p[i]}`));
  assert.equal(r.losses.length, 3);
  assert.equal(opt.step, 3);
  assert.equal(opt.stateSize(), 6);
  assert.equal(optimizerStateBytes(countParams([x, y])), 24);
  opt.dispose();
  tf.dispose([x, y]);
});

test('learning-rate schedule: linear warm-up, cosine to the floor', () => {
  const o = { lr: 1, steps: 11, warmupSteps: 2, schedule: 'cosine' as const, minLrRatio: 0.1 };
  assert.equal(learningRate(0, o), 0.5);
  assert.equal(learningRate(1, o), 1);
  assert.equal(learningRate(2, o), 1);
  assert.ok(Math.abs(learningRate(10, o) - 0.1) < 1e-12);
  assert.equal(learningRate(7, { lr: 0.3, steps: 10 }), 0.3);
});

test('resume from files equals uninterrupted training, bit for bit', async () => {
  // uninterrupted: 6 steps
  const a = nano();
  const ra = await train({ ...schedule, params: allVars(a), loss: sft(a) });
  const wa = await snapshot(allVars(a));

  // interrupted after step 3 (Ctrl-C), saved, reloaded into a fresh process-like state, continued to 6
  const b = nano();
  const stop = new AbortController();
  const rb = await train({ ...schedule, params: allVars(b), loss: sft(b), signal: stop.signal, onProgress: (p) => p.step === 3 && stop.abort() });
  assert.equal(rb.stopped, 'aborted');
  assert.equal(rb.losses.length, 3);
  const dir = path.join(root, 'resume');
  await saveCheckpoint(b, dir, { tokenizer: tok });
  await saveTrainingState(dir, rb.optimizer, { step: rb.optimizer.step, seed: SEED, task: 'reverse' });

  const c = (await loadGpt(dir)).model;
  const opt = new Adam(allVars(c), { weightDecay: 0.01 });
  const state = await loadTrainingState(dir, opt);
  assert.equal(state.step, 3);
  assert.equal(state['task'], 'reverse');
  const rc = await train({ ...schedule, params: allVars(c), loss: sft(c), optimizer: opt });
  assert.equal(rc.losses.length, 3);
  assert.deepEqual([...rb.losses, ...rc.losses], ra.losses);
  assert.deepEqual(await snapshot(allVars(c)), wa);

  // a state file for other variables is refused before anything changes
  const other = tf.variable(tf.zeros([3]));
  const wrong = new Adam([other]);
  await assert.rejects(loadTrainingState(dir, wrong), /holds state for \d+ variables but 1 are being trained/);
  await assert.rejects(loadTrainingState(path.join(root, 'none'), wrong), /optimizer\.safetensors not found/);
  assert.equal(wrong.step, 0);
  [ra.optimizer, rb.optimizer, opt, wrong].forEach((o) => o.dispose());
  [a, b, c].forEach((m) => m.dispose());
  other.dispose();
});

test('a NaN loss stops with the step number and keeps the weights of the last good step', async () => {
  const m = nano();
  const vars = allVars(m);
  const base = sft(m);
  let afterStep2: number[][] = [];
  const run = train({
    ...schedule, params: vars,
    loss: (s) => (s === 2 ? tf.tidy(() => base(s).mul(NaN) as tf.Scalar) : base(s)),
    onProgress: async (p) => {
      if (p.step === 2) afterStep2 = await snapshot(vars);
    },
  });
  await assert.rejects(run, (e: unknown) => {
    assert.ok(e instanceof NonFiniteLossError);
    assert.equal(e.step, 3);
    assert.match(e.message, /loss became NaN at step 3; training stopped before that update, so the weights are those after step 2: lower the learning rate/);
    assert.equal(e.partial.losses.length, 2);
    assert.equal(e.partial.optimizer.step, 2);
    e.partial.optimizer.dispose();
    return true;
  });
  assert.deepEqual(await snapshot(vars), afterStep2);
  m.dispose();
});

test('no tensor leaks per step or per run; abort before the first step; frozen variables refused', async () => {
  const m = nano();
  const vars = allVars(m);
  const before = tf.memory().numTensors;
  const perStep: number[] = [];
  const r = await train({ ...schedule, steps: 4, params: vars, loss: sft(m), valLoss: () => sft(m)(99), evalEvery: 2, onProgress: () => perStep.push(tf.memory().numTensors) });
  assert.equal(new Set(perStep).size, 1, `tensors after each step: ${perStep}`);
  assert.equal(perStep[0], before + 2 * vars.length); // only Adam's m and v were added
  assert.deepEqual(r.valLosses.map((v) => v.step), [2, 4]);
  assert.ok(r.peakBytes > 4 * countParams(vars));
  r.optimizer.dispose();
  assert.equal(tf.memory().numTensors, before);

  // progressEveryMs: the first step, steps with a validation loss, and the last step always report
  const reported: number[] = [];
  const rp = await train({ ...schedule, steps: 5, params: vars, loss: sft(m), valLoss: () => sft(m)(99), evalEvery: 2, progressEveryMs: 1e9, onProgress: (p) => reported.push(p.step) });
  assert.deepEqual(reported, [1, 2, 4, 5]);
  rp.optimizer.dispose();

  const stop = new AbortController();
  stop.abort();
  const ra = await train({ ...schedule, params: vars, loss: sft(m), signal: stop.signal });
  assert.equal(ra.stopped, 'aborted');
  assert.equal(ra.losses.length, 0);
  ra.optimizer.dispose();

  vars[0]!.trainable = false;
  await assert.rejects(train({ ...schedule, params: vars, loss: sft(m) }), /1 listed variable\(s\) are frozen/);
  vars[0]!.trainable = true;
  await assert.rejects(train({ ...schedule, lr: 0, params: vars, loss: sft(m) }), /lr must be a positive number, got 0/);
  assert.equal(tf.memory().numTensors, before);
  m.dispose();
});

test('accumulate: micro-batches with equal token counts take the step one full batch takes', async () => {
  // Two halves of a batch of 4 records padded to one length, every position counted: each half holds half the tokens.
  const full = (s: number) => {
    const b = batchAt(TEXT_TASKS.reverse, tok, SEED, s, 4, { length: 24 });
    return { ...b, mask: new Float32Array(b.mask.length).fill(1) };
  };
  const half = (s: number, m: number) => {
    const b = full(s);
    const rows = (x: Int32Array | Float32Array) => x.slice(m * 2 * b.length, (m + 1) * 2 * b.length);
    return { batchSize: 2, length: b.length, inputs: rows(b.inputs) as Int32Array, targets: rows(b.targets) as Int32Array, mask: rows(b.mask) as Float32Array };
  };
  const a = nano();
  const b = nano();
  const before = tf.memory().numTensors;
  const ra = await train({ ...schedule, params: allVars(a), loss: (s) => lmLoss(a, full(s)) });
  const rb = await train({ ...schedule, params: allVars(b), accumulate: 2, loss: (s, m) => lmLoss(b, half(s, m)) });
  ra.losses.forEach((l, i) => assert.ok(Math.abs(l - rb.losses[i]!) < 1e-5, `step ${i + 1}: ${l} vs ${rb.losses[i]}`));
  const [va, vb] = [await snapshot(allVars(a)), await snapshot(allVars(b))];
  let worst = 0;
  va.forEach((w, i) => w.forEach((x, j) => (worst = Math.max(worst, Math.abs(x - vb[i]![j]!)))));
  assert.ok(worst < 1e-5, `weights differ by ${worst}`);
  ra.optimizer.dispose();
  rb.optimizer.dispose();
  assert.equal(tf.memory().numTensors, before, 'no tensors leak across accumulated micro-batches');
  await assert.rejects(train({ ...schedule, params: allVars(a), accumulate: 0, loss: (s) => lmLoss(a, full(s)) }), /accumulate must be a positive integer, got 0/);
  a.dispose();
  b.dispose();
});
