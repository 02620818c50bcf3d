// The tiny GPT: LLaMA/PEFT module paths, causality (future tokens never change earlier logits), shapes,
// presets (LoRA q,v at r = 8 under 3 % on `tiny`), greedy generation against a by-hand loop, no leaks.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { Gpt, blockPaths, gelu } from '../src/models/gpt.js';
import { useBackend } from '../src/backend/index.js';
import { gptConfig, GPT_PRESETS } from '../src/models/config.js';
import { generate } from '../src/models/generate.js';
import { MlpClassifier } from '../src/models/classifier.js';
import { injectLora } from '../src/lora/index.js';

before(async () => {
  await tf.setBackend('cpu');
});

const nano = () => new Gpt(gptConfig({ preset: 'nano', vocabSize: 31 }), { seed: 3 });

test('gelu is GPT-2\'s tanh GELU and its written-out gradient the derivative (float64 reference), no leaks', async () => {
  const n = 4001;
  const xs = Float64Array.from({ length: n }, (_, i) => -12 + (24 * i) / (n - 1));
  const c = Math.sqrt(2 / Math.PI);
  const t = (v: number) => Math.tanh(c * (v + 0.044715 * v ** 3));
  const f = (v: number) => 0.5 * v * (1 + t(v));
  const df = (v: number) => 0.5 * (1 + t(v)) + 0.5 * v * (1 - t(v) ** 2) * c * (1 + 3 * 0.044715 * v * v);
  for (const backend of ['cpu', 'wasm'] as const) {
    await useBackend(backend, { log: null });
    const before = tf.memory().numTensors;
    const x = tf.tensor1d(Float32Array.from(xs));
    const y = gelu(x);
    const g = tf.grad((u: tf.Tensor) => gelu(u).sum())(x);
    const [yv, gv] = [y.dataSync(), g.dataSync()];
    tf.dispose([x, y, g]);
    assert.equal(tf.memory().numTensors, before, backend);
    let e = 0;
    let eg = 0;
    for (let i = 0; i < n; i++) {
      const v = Math.fround(xs[i]!); // the float32 input
      e = Math.max(e, Math.abs(yv[i]! - f(v)) / Math.max(1, Math.abs(f(v))));
      eg = Math.max(eg, Math.abs(gv[i]! - df(v)) / Math.max(1, Math.abs(df(v))));
    }
    assert.ok(e < 5e-7, `${backend}: gelu off by ${e}`); // float32 rounding: a few ulp
    assert.ok(eg < 5e-6, `${backend}: gelu's gradient off by ${eg}`);
  }
  await tf.setBackend('cpu');
});

test('layers have LLaMA/PEFT paths and PyTorch-like shapes', () => {
  const m = nano();
  const paths = [...m.layers.keys()];
  assert.deepEqual(paths.slice(0, 2), ['embed_tokens', 'embed_positions']);
  assert.deepEqual(paths.slice(2, 10), blockPaths(0));
  assert.ok(paths.includes('layers.1.self_attn.v_proj'));
  assert.deepEqual(paths.slice(-2), ['norm', 'lm_head']);
  const kernel = (p: string) => m.layers.get(p)!.weights[0]!.shape;
  assert.deepEqual(kernel('layers.0.self_attn.q_proj'), [32, 32]); // [in, out]
  assert.deepEqual(kernel('layers.0.mlp.up_proj'), [32, 128]);
  assert.deepEqual(kernel('lm_head'), [32, 31]);
  assert.equal(m.layers.get('lm_head')!.weights.length, 1); // no bias on the head
  m.dispose();
});

test('config validation names the field, the value and a fix', () => {
  assert.throws(() => gptConfig({ preset: 'nano', vocabSize: 31, nHeads: 3 }), /dModel \(32\) must be divisible by nHeads \(3\)/);
  assert.throws(() => gptConfig({ vocabSize: 0 }), /vocabSize must be a positive integer, got 0/);
  assert.throws(() => gptConfig({ preset: 'huge' as 'nano', vocabSize: 31 }), /unknown GPT preset 'huge'; presets are: nano, tiny, small, bench/);
  assert.equal(gptConfig({ preset: 'bench', vocabSize: 31 }).nLayers, 4);
});

test('causal: changing a future token leaves every earlier position\'s logits unchanged', async () => {
  const m = nano();
  const a = [1, 5, 6, 7, 8, 9, 10, 11];
  const b = [...a];
  b[5] = 20; // change position 5
  const [la, lb] = tf.tidy(() => [m.logits(tf.tensor2d([a], [1, 8], 'int32')), m.logits(tf.tensor2d([b], [1, 8], 'int32'))]);
  assert.deepEqual(la!.shape, [1, 8, 31]);
  const da = (await la!.array())[0]!;
  const db = (await lb!.array())[0]!;
  for (let t = 0; t < 5; t++) assert.deepEqual(da[t], db[t], `position ${t} changed`);
  assert.notDeepEqual(da[5], db[5]); // and the changed position does see it
  tf.dispose([la!, lb!]);
  m.dispose();
});

test('a batch gives the same logits as its rows one by one', async () => {
  const m = nano();
  const rows = [[1, 4, 5, 6], [1, 9, 9, 3]];
  const batched = tf.tidy(() => m.logits(tf.tensor2d(rows, [2, 4], 'int32')));
  const one = tf.tidy(() => m.logits(tf.tensor2d([rows[1]!], [1, 4], 'int32')));
  const diff = tf.tidy(() => batched.slice([1, 0, 0], [1, 4, 31]).sub(one).abs().max());
  assert.ok((await diff.data())[0]! < 1e-5);
  tf.dispose([batched, one, diff]);
  m.dispose();
});

test('same seed, same weights; other seed, other weights', async () => {
  const w = async (m: Gpt) => Array.from(await m.layers.get('layers.0.self_attn.q_proj')!.weights[0]!.read().data());
  const [a, b, c] = [nano(), nano(), new Gpt(gptConfig({ preset: 'nano', vocabSize: 31 }), { seed: 4 })];
  assert.deepEqual(await w(a), await w(b));
  assert.notDeepEqual(await w(a), await w(c));
  [a, b, c].forEach((m) => m.dispose());
});

test('tiny preset: LoRA r = 8 on q_proj + v_proj is at most 3 % of all parameters', () => {
  const m = new Gpt(gptConfig({ preset: 'tiny', vocabSize: 31 }));
  const lora = injectLora(m, { r: 8, lora_alpha: 16, target_modules: ['q_proj', 'v_proj'] });
  const { trainable, all } = lora.countParams();
  const d = GPT_PRESETS.tiny.dModel;
  assert.equal(trainable, GPT_PRESETS.tiny.nLayers * 2 * 8 * (d + d)); // per layer: q and v, A [r, d] + B [d, r]
  assert.ok(trainable / all <= 0.03, `LoRA share ${((100 * trainable) / all).toFixed(2)} %`);
  m.dispose();
});

test('greedy generate equals a by-hand argmax loop; stops at eos; no tensor leaks', async () => {
  const m = nano();
  const prompts = [[1, 4, 5], [1, 6, 7], [1, 8]];
  const before = tf.memory().numTensors;
  const out = await generate(m, prompts, { maxNewTokens: 5 });
  assert.equal(tf.memory().numTensors, before);
  for (let i = 0; i < prompts.length; i++) {
    const seq = [...prompts[i]!];
    for (let s = 0; s < 5; s++) {
      const next = tf.tidy(() => m.logits(tf.tensor2d([seq], [1, seq.length], 'int32')).slice([0, seq.length - 1, 0], [1, 1, 31]).argMax(-1));
      seq.push((await next.data())[0]!);
      next.dispose();
    }
    assert.deepEqual(out[i], seq.slice(prompts[i]!.length));
  }
  // with eosId = the first generated token, nothing is returned for that row
  const stop = await generate(m, [prompts[0]!], { maxNewTokens: 5, eosId: out[0]![0]! });
  assert.deepEqual(stop, [[]]);
  await assert.rejects(generate(m, [[]]), /prompt 0 is empty/);
  m.dispose();
});

test('forward passes and the classifier leak no tensors', () => {
  const m = nano();
  const c = new MlpClassifier();
  const before = tf.memory().numTensors;
  tf.dispose(tf.tidy(() => m.logits(tf.tensor2d([[1, 2, 3]], [1, 3], 'int32'), { training: true })));
  tf.dispose(tf.tidy(() => c.logits(tf.zeros([5, 16]))));
  assert.equal(tf.memory().numTensors, before);
  assert.deepEqual([...c.layers.keys()], ['layers.0', 'layers.1', 'classifier']);
  assert.throws(() => c.logits(tf.zeros([2, 3])), /classifier expects \[N, 16\] features, got \[2, 3\]/);
  // features are what the head reads: logits = classifier(features), the features non-negative (after ReLU)
  const x = tf.randomNormal([6, 16], 0, 1, 'float32', 3) as tf.Tensor2D;
  const [f, z] = [c.features(x), c.logits(x)];
  assert.deepEqual(f.shape, [6, 64]);
  assert.ok(f.dataSync().every((v) => v >= 0));
  const head = tf.tidy(() => (c.layers.get('classifier')!.apply(f) as tf.Tensor).sub(z).abs().max().dataSync()[0]!);
  assert.equal(head, 0);
  tf.dispose([x, f, z]);
  assert.throws(() => tf.tidy(() => m.logits(tf.zeros([1, 40], 'int32'))), /input has 40 tokens but contextLength is 32/);
  m.dispose();
  c.dispose();
});
