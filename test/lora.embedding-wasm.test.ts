// On the wasm backend, which has no gradient kernel for gather (UnsortedSegmentSum): a tf.layers.embedding table
// cannot be trained there, but a LoRA adapter on it can, because the branch's backward scatters into A itself.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../src/backend/index.js';
import { injectLora } from '../src/lora/model.js';
import type { LayerTree } from '../src/models/module.js';

before(async () => {
  await useBackend('wasm', { log: null });
});

test('wasm: the plain table has no gather gradient; the LoRA adapter on it trains and matches the cpu gradient', async () => {
  const emb = tf.layers.embedding({ inputDim: 50, outputDim: 8, name: 'wte', embeddingsInitializer: tf.initializers.randomNormal({ seed: 1 }) });
  const ids = tf.tensor2d([[3, 7, 3, 49], [0, 3, 12, 7]], undefined, 'int32');
  emb.apply(ids);
  const target = tf.randomNormal([2, 4, 8], 0, 1, 'float32', 2);
  const loss = () => tf.mean(tf.square(tf.sub(tree.layers.get('wte')!.apply(ids) as tf.Tensor, target))) as tf.Scalar;
  const tree: LayerTree = { layers: new Map([['wte', emb]]) };
  assert.throws(() => tf.variableGrads(loss, [emb.weights[0]!.read() as tf.Variable]), /UnsortedSegmentSum/);
  const lm = injectLora(tree, { r: 2, target_modules: ['wte'], init_lora_weights: false });
  const vars = lm.trainableVariables();
  const { value, grads } = tf.variableGrads(loss, vars);
  const onWasm = await Promise.all(vars.map((v) => grads[v.name]!.data()));
  tf.dispose([value, ...Object.values(grads)]);
  await tf.setBackend('cpu'); // the same graph on cpu, where gather has its gradient
  const { grads: cpuGrads } = tf.variableGrads(loss, vars);
  const onCpu = await Promise.all(vars.map((v) => cpuGrads[v.name]!.data()));
  onWasm.forEach((g, i) => {
    const m = Math.max(...g.map((x, j) => Math.abs(x - onCpu[i]![j]!)));
    assert.ok(m < 1e-5, `${vars[i]!.name}: wasm and cpu gradients agree (${m})`);
    assert.ok(g.some((x) => x !== 0));
  });
  lm.unload();
});
