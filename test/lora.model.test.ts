// injectLora / LoraModel on a tiny LayerTree: targets by PEFT rules, freezing, PEFT's parameter report,
// training touches only A and B (W0 bit-identical), LoRA+ groups, bias modes, several adapters,
// merge/unmerge/mergeAndUnload, and no tensor leaks.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { injectLora, LoraModel } from '../src/lora/model.js';
import { isLoraLayer, type LoraLayer } from '../src/lora/lora-layer.js';
import { SequentialTree } from '../src/models/sequential.js';
import type { LayerTree } from '../src/models/module.js';
import { maxAbsDiff, snapshot, TinyMlp } from './helpers/tiny-mlp.js';

before(async () => {
  await tf.setBackend('cpu');
});

const x = () => tf.randomNormal([6, 16], 0, 1, 'float32', 21);

test('injectLora wraps exactly the targets, in place, and trains only their A and B', () => {
  const m = new TinyMlp();
  const y0 = m.forward(x());
  const lm = injectLora(m, { r: 4, lora_alpha: 8, target_modules: ['q_proj', 'v_proj'] });
  assert.equal(lm.base, m);
  assert.ok(isLoraLayer(m.layers.get('encoder.q_proj')));
  assert.ok(isLoraLayer(m.layers.get('encoder.v_proj')));
  assert.ok(!isLoraLayer(m.layers.get('lm_head')));
  assert.equal(maxAbsDiff(m.forward(x()), y0), 0, 'the model equals the base at step 0');
  const names = lm.trainableVariables().map((v) => v.name.replace(/_\d+$/, ''));
  assert.deepEqual(names, [
    'encoder.q_proj.lora/lora_A/default', 'encoder.q_proj.lora/lora_B/default',
    'encoder.v_proj.lora/lora_A/default', 'encoder.v_proj.lora/lora_B/default',
  ]);
  // 16→12 and 12→12 at r = 4: A 4·16 + B 12·4 + A 4·12 + B 12·4.
  const { trainable, all } = lm.countParams();
  assert.equal(trainable, 64 + 48 + 48 + 48);
  const baseParams = 16 * 12 + 12 + 12 * 12 + 12 + 2 * 12 + 12 * 5;
  assert.equal(all, baseParams + trainable);
  for (const l of m.layers.values()) if (!isLoraLayer(l)) assert.deepEqual(l.trainableWeights, []);
  m.dispose();
});

test("report() is PEFT's line: the 1024×1024, r = 16 example gives 32,768 of 1,081,344 (3.0303 %)", () => {
  const d = tf.layers.dense({ units: 1024, useBias: false });
  tf.tidy(() => void d.apply(tf.zeros([1, 1024])));
  const tree: LayerTree = { layers: new Map([['proj', d]]) };
  const lm = injectLora(tree, { r: 16, lora_alpha: 16, target_modules: ['proj'] });
  assert.equal(lm.report(), 'trainable params: 32,768 || all params: 1,081,344 || trainable%: 3.0303');
  lm.unload();
  d.dispose();
});

test('target errors name the bad target and list the layers', () => {
  const m = new TinyMlp();
  assert.throws(() => injectLora(m, { target_modules: ['q_proj', 'k_proj'] }),
    /LoRA target 'k_proj' matched no layer; layers are: encoder\.q_proj, encoder\.v_proj, norm, lm_head/);
  assert.throws(() => injectLora(m, { target_modules: 'encoder' }), /LoRA target regex 'encoder' matched no layer \(it must match a whole path\)/);
  assert.throws(() => injectLora(m, { target_modules: ['norm'] }),
    /LoRA target 'norm' is a LayerNormalization layer, which has no LoRA wrapper; supported kinds: Dense, LoraLabConv1D, Embedding, LoraLabTokenEmbedding, LoraLabQuantizedDense/);
  assert.ok([...m.layers.values()].every((l) => !isLoraLayer(l)), 'a failed injection changes nothing');
  m.dispose();
});

test('"all-linear" takes every Dense but the output head; a regex full-matches paths', () => {
  const m = new TinyMlp();
  const lm = injectLora(m, { target_modules: 'all-linear', r: 2 });
  assert.deepEqual([...lm.loraLayers().keys()], ['encoder.q_proj', 'encoder.v_proj']);
  lm.unload();
  const lm2 = injectLora(m, { target_modules: String.raw`encoder\.v_.*`, r: 2 });
  assert.deepEqual([...lm2.loraLayers().keys()], ['encoder.v_proj']);
  assert.throws(() => injectLora(m, { target_modules: ['q_proj'] }), /layer 'encoder\.v_proj' already has LoRA: add another adapter/);
  lm2.unload();
  m.dispose();
});

test('100 Adam steps: loss falls, gradients reach only A and B, W0 is bit-identical, no leaks', () => {
  const m = new TinyMlp();
  const before = snapshot(m);
  const lm = injectLora(m, { r: 4, lora_alpha: 8, lora_dropout: 0.1, target_modules: ['q_proj', 'v_proj'] });
  const vars = lm.trainableVariables();
  const xs = x();
  const ys = tf.randomNormal([6, 5], 0, 1, 'float32', 22);
  const loss = () => tf.mean(tf.square(m.forward(xs, true).sub(ys))) as tf.Scalar;
  // tf.variableGrads over every trainable variable of the engine sees only LoRA weights of this model.
  const { grads, value } = tf.variableGrads(loss);
  const mine = Object.keys(grads).filter((k) => vars.some((v) => v.name === k) || [...m.layers.values()].some((l) => l.weights.some((w) => (w.read() as tf.Variable).name === k)));
  assert.deepEqual(mine.sort(), vars.map((v) => v.name).sort());
  tf.dispose([value, ...Object.values(grads)]);

  const opt = tf.train.adam(0.02);
  const first = opt.minimize(loss, true, vars)!;
  const l0 = first.dataSync()[0]!;
  first.dispose();
  const n1 = tf.memory().numTensors;
  let last = 0;
  for (let i = 0; i < 99; i++) {
    const l = opt.minimize(loss, true, vars)!;
    last = l.dataSync()[0]!;
    l.dispose();
  }
  assert.equal(tf.memory().numTensors, n1, 'no tensor leaks over training');
  assert.ok(last < l0 * 0.8, `loss ${l0} → ${last}`);
  opt.dispose();
  const after = snapshot(m);
  for (const [k, v] of before) assert.deepEqual(after.get(k), v, `${k} unchanged`);
  m.dispose();
});

test('bias modes: "all" trains every bias, "lora_only" only the wrapped layers\' biases', () => {
  const m = new TinyMlp();
  const lm = injectLora(m, { target_modules: ['q_proj'], bias: 'all', r: 2 });
  const names = lm.trainableVariables().map((v) => v.name);
  const qBias = ((m.layers.get('encoder.q_proj') as LoraLayer).base.weights[1]!.read() as tf.Variable).name;
  const vBias = (m.layers.get('encoder.v_proj')!.weights.find((w) => /\/bias$/.test(w.name))!.read() as tf.Variable).name;
  assert.match(qBias, /\/bias/);
  // A, B, then the two Dense biases; LayerNorm's beta/gamma and the head's kernel stay frozen.
  assert.deepEqual(names.slice(2), [qBias, vBias]);
  assert.match(names[0]!, /lora_A/);
  lm.unload();
  const lm2 = injectLora(m, { target_modules: ['q_proj'], bias: 'lora_only', r: 2 });
  assert.equal(lm2.trainableVariables().length, 3);
  lm2.unload();
  assert.ok(m.layers.get('encoder.v_proj')!.weights.every((w) => w.trainable), 'unload restores the original flags');
  m.dispose();
});

test('LoRA+: groupB (lora_B and 1-D weights) gets loraplus_lr_ratio, groupA gets 1', () => {
  const m = new TinyMlp();
  const lm = injectLora(m, { target_modules: ['q_proj', 'v_proj'], use_dora: true, loraplus_lr_ratio: 16, r: 2 });
  const [a, b] = lm.paramGroups();
  assert.equal(a!.name, 'groupA');
  assert.equal(a!.lrScale, 1);
  assert.ok(a!.variables.every((v) => /lora_A/.test(v.name)) && a!.variables.length === 2);
  assert.equal(b!.lrScale, 16);
  assert.equal(b!.variables.length, 4); // 2 lora_B + 2 DoRA magnitudes
  assert.equal(a!.variables.length + b!.variables.length, lm.trainableVariables().length);
  lm.unload();
  m.dispose();
});

test('several adapters over one frozen base: add, switch, disable, delete', () => {
  const m = new TinyMlp();
  const y0 = m.forward(x());
  const lm = injectLora(m, { target_modules: ['q_proj'], init_lora_weights: false, r: 2 });
  const yDefault = m.forward(x());
  lm.addAdapter('task_b', { target_modules: ['v_proj'], init_lora_weights: false, r: 3, seed: 5 });
  assert.equal(lm.activeAdapter, 'default', 'adding does not switch');
  assert.equal(maxAbsDiff(m.forward(x()), yDefault), 0);
  lm.setAdapter('task_b');
  const yB = m.forward(x());
  assert.ok(maxAbsDiff(yB, yDefault) > 1e-3 && maxAbsDiff(yB, y0) > 1e-3);
  assert.deepEqual(lm.trainableVariables().map((v) => v.shape), [[3, 12], [12, 3]]);
  lm.disableAdapters();
  assert.equal(maxAbsDiff(m.forward(x()), y0), 0, 'disabled = base');
  lm.enableAdapters();
  lm.setAdapter('default');
  assert.equal(maxAbsDiff(m.forward(x()), yDefault), 0);
  lm.deleteAdapter('task_b');
  assert.ok(!isLoraLayer(m.layers.get('encoder.v_proj')), 'a layer left with no adapter gets its Dense back');
  assert.throws(() => lm.setAdapter('task_b'), /no adapter 'task_b'; adapters are: default/);
  lm.unload();
  m.dispose();
});

test('merge = unmerged outputs, unmerge restores, mergeAndUnload gives a plain tree with equal outputs; no leaks', () => {
  const m = new TinyMlp();
  const xs = x();
  const diff = (ref: tf.Tensor) => tf.tidy(() => maxAbsDiff(m.forward(xs), ref));
  const before = snapshot(m);
  const lm = injectLora(m, { target_modules: ['q_proj', 'v_proj'], init_lora_weights: false, r: 4 });
  const yLora = m.forward(xs);
  const n0 = tf.memory().numTensors;
  lm.merge();
  assert.ok(lm.merged);
  assert.ok(diff(yLora) <= 1e-5);
  assert.throws(() => lm.setAdapter('default'), /adapters are merged: unmerge\(\) before switching/);
  lm.unmerge();
  assert.equal(tf.memory().numTensors, n0);
  const tree = lm.mergeAndUnload();
  assert.equal(tree, m);
  assert.ok([...m.layers.values()].every((l) => !isLoraLayer(l)));
  assert.ok(diff(yLora) <= 1e-5);
  assert.equal(tf.memory().numTensors, n0 - 4, 'the adapters (2 × A, B) are freed');
  assert.ok(m.layers.get('encoder.q_proj')!.weights.every((w) => w.trainable), 'trainable flags restored');
  const k = [...before.keys()][0]!;
  assert.notDeepEqual(snapshot(m).get(k), before.get(k), 'the kernel holds W0 + ΔW');
  assert.throws(() => lm.merge(), /this LoraModel was unloaded/);
  m.dispose();
});

test('a LoraModel is also constructible directly and reports its adapters', () => {
  const m = new TinyMlp();
  const lm = new LoraModel(m, { target_modules: ['lm_head'], r: 2 }, 'head');
  assert.deepEqual(lm.adapterNames, ['head']);
  assert.equal(lm.config().r, 2);
  assert.match(lm.report(), /^trainable params: 34 \|\| all params: \d{3} \|\| trainable%: \d+\.\d{4}$/);
  lm.unload();
  m.dispose();
});

test('a tf.Sequential works through SequentialTree: inject, run, rebuild as a Sequential, unload', () => {
  const seq = tf.sequential({
    layers: [
      tf.layers.dense({ units: 8, inputShape: [16], activation: 'relu', name: 'fc1', kernelInitializer: tf.initializers.glorotNormal({ seed: 1 }) }),
      tf.layers.dense({ units: 3, name: 'fc2', kernelInitializer: tf.initializers.glorotNormal({ seed: 2 }) }),
    ],
  });
  const xs = x();
  const y0 = seq.predict(xs) as tf.Tensor;
  const tree = new SequentialTree(seq);
  assert.equal(maxAbsDiff(tree.apply(xs), y0), 0);
  const lm = injectLora(tree, { target_modules: ['fc1', 'fc2'], init_lora_weights: false, r: 2 });
  const yLora = tree.apply(xs);
  assert.ok(maxAbsDiff(yLora, y0) > 1e-3);
  const rebuilt = tree.toSequential();
  assert.ok(maxAbsDiff(rebuilt.predict(xs) as tf.Tensor, yLora) < 1e-6, 'the rebuilt Sequential runs the LoRA layers');
  lm.mergeAndUnload();
  assert.ok(maxAbsDiff(seq.predict(xs) as tf.Tensor, yLora) < 1e-5, 'the original Sequential now holds the merged weights');
});
