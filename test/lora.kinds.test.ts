// One injectLora for every base kind: a config naming an embedding and linear layers trains every adapter; Conv1D
// (GPT-2's [in, out] linear, PEFT's fan_in_fan_out) computes and merges like Dense; a quantised base (QLoRA =
// quantizeBase, then injectLora) trains A and B only and refuses what it cannot do by name; an unsupported kind is an
// error naming it and the supported ones; frozen Dense layers get no weight gradient work.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { injectLora } from '../src/lora/model.js';
import { isLoraLayer, type LoraLayer } from '../src/lora/lora-layer.js';
import { Conv1D } from '../src/models/conv1d.js';
import { Gpt } from '../src/models/gpt.js';
import { gptConfig } from '../src/models/config.js';
import type { LayerTree } from '../src/models/module.js';
import { CharTokenizer } from '../src/data/tokenizer.js';
import { batchAt } from '../src/data/batch.js';
import { textTask } from '../src/data/tasks.js';
import { lmLoss } from '../src/train/sft.js';
import { train } from '../src/train/loop.js';
import { quantizeBase } from '../src/quant/base.js';
import { maxAbsDiff, snapshot } from './helpers/tiny-mlp.js';

before(async () => {
  await tf.setBackend('cpu');
});

const tok = new CharTokenizer();
const nanoGpt = (seed = 3) => new Gpt(gptConfig({ preset: 'nano', vocabSize: tok.vocabSize }), { seed });
const ids = () => tf.tensor2d([tok.encode('ab=ba', { bos: true })], undefined, 'int32');
const values = (l: LoraLayer) => l.adapter(l.activeAdapter!).branch.weights.map((w) => w.read().dataSync().slice());

test('one config on embed_tokens + q_proj + v_proj: the model equals the base, then training moves every adapter', async () => {
  const gpt = nanoGpt();
  const x = ids();
  const y0 = gpt.logits(x);
  const base = snapshot(gpt);
  const lm = injectLora(gpt, { r: 4, lora_alpha: 8, target_modules: ['embed_tokens', 'q_proj', 'v_proj'] });
  const kinds = [...lm.loraLayers()].map(([p, l]) => `${p}:${l.kind}`);
  assert.deepEqual(kinds, [
    'embed_tokens:embedding', 'layers.0.self_attn.q_proj:dense', 'layers.0.self_attn.v_proj:dense',
    'layers.1.self_attn.q_proj:dense', 'layers.1.self_attn.v_proj:dense',
  ]);
  assert.equal(maxAbsDiff(gpt.logits(x), y0), 0, 'PEFT inits (embedding A = 0, linear B = 0): the base exactly');
  const V = tok.vocabSize;
  assert.equal(lm.countParams().trainable, 4 * (V + 32) + 4 * 4 * (32 + 32), 'r·(V + d) for the table, r·(in + out) per linear');
  const start = [...lm.loraLayers().values()].map(values);
  const run = await train({
    params: lm.paramGroups(), steps: 8, lr: 1e-2,
    loss: (s) => lmLoss(gpt, batchAt(textTask('reverse'), tok, 0, s, 8), { training: true }),
  });
  run.optimizer.dispose();
  [...lm.loraLayers().values()].forEach((l, i) => {
    values(l).forEach((after, j) => {
      const moved = after.some((v, k) => v !== start[i]![j]![k]);
      assert.ok(moved, `${l.name}: ${j === 0 ? 'A' : 'B'} trained`);
    });
  });
  lm.unload();
  assert.deepEqual(snapshot(gpt), base, 'the base weights are bit-identical');
  gpt.dispose();
});

test('a layer kind without a wrapper is an error naming it and the supported kinds; nothing changes', () => {
  const gpt = nanoGpt();
  const layers = [...gpt.layers.values()];
  assert.throws(() => injectLora(gpt, { target_modules: ['q_proj', 'embed_positions'] }),
    /LoRA target 'embed_positions' is a LoraLabPositionEmbedding layer, which has no LoRA wrapper; supported kinds: Dense, LoraLabConv1D, Embedding, LoraLabTokenEmbedding, LoraLabQuantizedDense/);
  assert.deepEqual([...gpt.layers.values()], layers);
  assert.ok(gpt.layers.get('layers.0.self_attn.q_proj')!.weights.every((w) => w.trainable), 'no flag changed');
  assert.throws(() => injectLora(gpt, { target_modules: ['embed_tokens', 'q_proj'], use_dora: true }),
    /DoRA is not implemented for an embedding layer 'embed_tokens\.lora' \(LoraLabTokenEmbedding\)/);
  assert.ok(gpt.layers.get('layers.0.self_attn.q_proj')!.weights.every((w) => w.trainable), 'a refused variant changes nothing');
  assert.ok([...gpt.layers.values()].every((l) => !isLoraLayer(l)));
  gpt.dispose();
});

test('"all-linear" takes every Dense (not embeddings, not the head)', () => {
  const gpt = nanoGpt();
  const lm = injectLora(gpt, { target_modules: 'all-linear', r: 2 });
  assert.equal(lm.loraLayers().size, 2 * 6);
  assert.ok(!lm.loraLayers().has('lm_head') && !lm.loraLayers().has('embed_tokens'));
  lm.unload();
  gpt.dispose();
});

test("Conv1D: y = x·W + b + s·x·Aᵀ·Bᵀ with W [in, out]; PEFT's fan_in_fan_out; merge adds ΔWᵀ to W", () => {
  const conv = new Conv1D({ inFeatures: 8, outFeatures: 24, seed: 2, name: 'c_attn' });
  conv.build();
  tf.tidy(() => {
    conv.bias!.write(tf.randomNormal([24], 0, 1, 'float32', 4));
  });
  const tree: LayerTree = { layers: new Map([['h.0.attn.c_attn', conv as tf.layers.Layer]]) };
  const lm = injectLora(tree, { r: 2, lora_alpha: 4, target_modules: ['c_attn'], init_lora_weights: false });
  const l = lm.loraLayers().get('h.0.attn.c_attn')!;
  assert.equal(l.kind, 'conv1d');
  assert.ok(l.fanInFanOut);
  assert.deepEqual([l.adapter('default').lora_A.shape, l.adapter('default').lora_B.shape], [[2, 8], [24, 2]]);
  const x = tf.randomNormal([2, 3, 8], 0, 1, 'float32', 5);
  const y = l.apply(x) as tf.Tensor;
  const a = l.adapter('default');
  const want = tf.tidy(() => {
    const x2 = x.reshape([6, 8]);
    const yBase = tf.matMul(x2, conv.kernel!.read()).add(conv.bias!.read()); // x·W + b, W [in, out]
    return yBase.add(tf.matMul(tf.matMul(x2, a.lora_A.read(), false, true), a.lora_B.read(), false, true).mul(2)).reshape([2, 3, 24]);
  });
  assert.ok(maxAbsDiff(y, want) < 1e-5);
  const K0 = conv.kernel!.read().clone();
  lm.merge();
  assert.ok(maxAbsDiff(conv.kernel!.read(), K0.add(l.deltaWeight().transpose())) < 1e-6, 'W (stored [in, out]) += ΔWᵀ');
  assert.ok(maxAbsDiff(l.apply(x) as tf.Tensor, y) < 1e-5);
  const plain = lm.mergeAndUnload();
  assert.equal(plain.layers.get('h.0.attn.c_attn'), conv);
  assert.ok(maxAbsDiff(conv.apply(x) as tf.Tensor, y) < 1e-5);
});

test('QLoRA = quantizeBase then injectLora: equals the quantised base at init, trains A and B only; refusals by name', async () => {
  const gpt = nanoGpt();
  const x = ids();
  const q = await quantizeBase(gpt, { bits: 'nf4' });
  assert.equal(q.modules.length, 12, 'every linear layer but lm_head');
  assert.equal(gpt.layers.get('lm_head')!.getClassName(), 'Dense');
  const yq = gpt.logits(x);
  await assert.rejects(quantizeBase(gpt, { bits: 'int8', target_modules: ['q_proj'] }),
    /quantisation target 'layers\.0\.self_attn\.q_proj' is a LoraLabQuantizedDense; only Dense and Conv1D layers can be quantised/);
  assert.throws(() => injectLora(gpt, { target_modules: ['q_proj'], use_dora: true }), /DoRA is not implemented on a quantised base/);
  assert.throws(() => injectLora(gpt, { target_modules: ['q_proj'], init_lora_weights: 'pissa' }), /PiSSA is not implemented on a quantised base/);
  const lm = injectLora(gpt, { r: 4, target_modules: ['q_proj', 'v_proj'] });
  assert.ok([...lm.loraLayers().values()].every((l) => l.kind === 'quantized'));
  assert.equal(maxAbsDiff(gpt.logits(x), yq), 0);
  assert.equal(lm.trainableVariables().length, 8);
  assert.ok(lm.countParams().all > 20_000, 'a quantised base counts at its float size');
  const { grads } = tf.variableGrads(() => lmLoss(gpt, batchAt(textTask('reverse'), tok, 0, 0, 4), { training: true }), lm.trainableVariables());
  assert.ok(Object.values(grads).some((g) => tf.sum(tf.abs(g)).dataSync()[0]! > 0));
  assert.throws(() => lm.merge(), /cannot merge into '.*q_proj\.lora': its base is quantised \(nf4\).*load it into the full-precision model/);
  lm.unload();
  q.restore();
  assert.ok([...gpt.layers.values()].every((l) => ['Dense', 'LoraLabLayerNorm', 'LoraLabTokenEmbedding', 'LoraLabPositionEmbedding'].includes(l.getClassName())));
  gpt.dispose();
});

test('a frozen Dense after a LoRA layer backpropagates dx only: no kernel-shaped gradient is computed', async () => {
  const dense = (units: number, name: string) => tf.layers.dense({ units, name, kernelInitializer: tf.initializers.glorotNormal({ seed: 1 }) });
  const lora = dense(5, 'b');
  const frozen = dense(6, 'a'); // kernel [5, 6]: a shape nothing else in this graph has
  tf.tidy(() => void frozen.apply(lora.apply(tf.zeros([1, 7])) as tf.Tensor));
  const tree: LayerTree = { layers: new Map([['b', lora], ['a', frozen]]) };
  const x = tf.randomNormal([3, 7], 0, 1, 'float32', 1);
  const step = (vars: tf.Variable[]) => tf.profile(() => {
    const loss = () => tf.sum(tree.layers.get('a')!.apply(tree.layers.get('b')!.apply(x)) as tf.Tensor) as tf.Scalar;
    const { value, grads } = tf.variableGrads(loss, vars);
    tf.dispose([value, ...Object.values(grads)]);
  });
  type Profile = Awaited<ReturnType<typeof tf.profile>>;
  const kernelShaped = (p: Profile) =>
    p.kernels.filter((k) => /MatMul/.test(k.name) && k.outputShapes.some((s) => s.filter((d) => d !== 1).join() === '5,6')).length;
  // Plain TF.js: the frozen layer's fused matMul computes dK anyway (the reason for the fix).
  frozen.trainable = false;
  const plain = await step(lora.weights.map((w) => w.read() as tf.Variable));
  assert.ok(kernelShaped(plain) > 0, 'TF.js alone computes a [5, 6] gradient for the frozen kernel');
  const lm = injectLora(tree, { r: 2, target_modules: ['b'], init_lora_weights: false });
  const withLora = await step(lm.trainableVariables());
  assert.equal(kernelShaped(withLora), 0, 'under LoRA the frozen kernel costs no gradient product');
  lm.unload();
  assert.ok(!Object.prototype.hasOwnProperty.call(frozen, 'call'), 'unload restores the layer');
});
