// LoRA on an embedding table (PEFT's Embedding layer) through injectLora: A = 0 at init so it equals the base,
// gradients reach A and B, ΔE[id] = (scaling·B·A)ᵀ[id], merge = unmerged, unmerge restores the table; on the GPT's
// one-hot table and on tf.layers.embedding. Leak-checked.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { LoraEmbedding } from '../src/lora/embedding.js';
import { injectLora } from '../src/lora/model.js';
import type { LayerTree } from '../src/models/module.js';
import { TokenEmbedding } from '../src/models/embedding.js';

describe('LoRA on an embedding table', () => {
  before(async () => {
    await tf.setBackend('cpu');
  });

  it('equals the base at init (A = 0), merge = unmerged, unmerge restores the table, trains only A and B, no leaks', () => {
    const emb = new TokenEmbedding({ numEmbeddings: 11, embeddingDim: 6, seed: 3 });
    const tree: LayerTree = { layers: new Map([['embed_tokens', emb as tf.layers.Layer]]) };
    const ids = tf.tensor2d([[1, 4, 10], [0, 4, 7]], [2, 3], 'int32');
    const base = emb.apply(ids) as tf.Tensor;
    const table0 = emb.weights[0]!.read().dataSync().slice();
    const before = tf.memory().numTensors;
    const lm = injectLora(tree, { r: 2, lora_alpha: 4, target_modules: ['embed_tokens'] });
    const layer = tree.layers.get('embed_tokens') as LoraEmbedding;
    assert.equal(layer.kind, 'embedding');
    assert.deepEqual(layer.adapter('default').lora_A.shape, [2, 11]); // PEFT's lora_embedding_A: [r, V]
    assert.deepEqual(layer.adapter('default').lora_B.shape, [6, 2]); // PEFT's lora_embedding_B: [d, r]
    assert.deepEqual(layer.peftTensors('default').map((t) => t.suffix), ['lora_embedding_A', 'lora_embedding_B']);
    const y0 = layer.apply(ids) as tf.Tensor;
    assert.equal(tf.tidy(() => y0.sub(base).abs().max().dataSync()[0]), 0);
    // a gradient step moves A (B multiplies a zero A, so B's gradient is zero at init)
    const vars = layer.trainableWeights.map((w) => w.read() as tf.Variable);
    const { value, grads } = tf.variableGrads(() => (layer.apply(ids) as tf.Tensor).square().sum() as tf.Scalar, vars);
    assert.deepEqual(Object.keys(grads).sort(), vars.map((v) => v.name).sort());
    tf.tidy(() => vars[0]!.assign(vars[0]!.sub(grads[vars[0]!.name]!.mul(0.1))));
    tf.dispose([value, ...Object.values(grads)]);
    const y1 = layer.apply(ids) as tf.Tensor;
    assert.ok(tf.tidy(() => y1.sub(base).abs().max().dataSync()[0]!) > 1e-4);
    // rows of the update: only looked-up ids matter, and ΔE[id] = scaling·B·A[:, id]
    const dE = tf.tidy(() => layer.deltaWeight().transpose()); // ΔW [d, V] → ΔE [V, d]
    const manual = tf.tidy(() => base.add(tf.gather(dE, ids.reshape([-1])).reshape(base.shape)));
    assert.ok(tf.tidy(() => y1.sub(manual).abs().max().dataSync()[0]!) < 1e-6);
    layer.merge();
    const ym = layer.apply(ids) as tf.Tensor;
    assert.ok(tf.tidy(() => ym.sub(y1).abs().max().dataSync()[0]!) < 1e-6);
    layer.unmerge();
    const table1 = emb.weights[0]!.read().dataSync();
    assert.ok(table0.every((v, i) => Math.abs(v - table1[i]!) < 1e-6));
    tf.dispose([y0, y1, dE, manual, ym]);
    lm.unload();
    assert.equal(tree.layers.get('embed_tokens'), emb);
    assert.equal(tf.memory().numTensors, before);
    assert.throws(() => new LoraEmbedding({ base: tf.layers.dense({ units: 2 }) }), /wraps a built table layer/);
    tf.dispose([ids, base]);
    emb.dispose();
  });

  it('wraps tf.layers.embedding too (gather lookup), with the same update rule', () => {
    const base = tf.layers.embedding({ inputDim: 9, outputDim: 4, embeddingsInitializer: tf.initializers.randomNormal({ seed: 1 }) });
    const ids = tf.tensor2d([[0, 3, 8]], [1, 3], 'int32');
    const y0 = base.apply(ids) as tf.Tensor;
    const layer = new LoraEmbedding({ base });
    layer.addAdapter('default', { r: 2, lora_alpha: 2, target_modules: ['emb'], init_lora_weights: false });
    const y = layer.apply(ids) as tf.Tensor;
    const dE = tf.tidy(() => layer.deltaWeight().transpose()); // [9, 4]
    const want = tf.tidy(() => y0.add(tf.gather(dE, ids.reshape([-1])).reshape(y0.shape)));
    assert.ok(tf.tidy(() => y.sub(want).abs().max().dataSync()[0]!) < 1e-6);
    assert.ok(tf.tidy(() => y.sub(y0).abs().max().dataSync()[0]!) > 1e-3); // init false: A random, ΔE ≠ 0
    tf.dispose([ids, y0, y, dE, want]);
    layer.disposeAdapters();
    base.dispose();
  });
});
