// FLOPs read from a layer (Dense, LoRA unmerged / merged / disabled) against the count of its matrix products.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { linearForwardFlops } from '../src/experiments/layer-flops.js';
import { injectLora } from '../src/lora/model.js';

function dense(dIn: number, dOut: number): tf.layers.Layer {
  const layer = tf.layers.dense({ units: dOut, kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) });
  tf.tidy(() => {
    layer.apply(tf.zeros([1, dIn]));
  });
  return layer;
}

describe('linearForwardFlops', () => {
  it('counts 2·N·in·out for a Dense and adds 2·N·r·(in + out) while LoRA runs unmerged', () => {
    const before = tf.memory().numTensors;
    const base = dense(48, 32);
    assert.equal(linearForwardFlops(base, 10), 2 * 10 * 48 * 32);
    const lm = injectLora({ layers: new Map([['proj', base]]) }, { r: 4, target_modules: ['proj'] });
    const lora = lm.loraLayers().get('proj')!;
    const branch = 2 * 10 * 4 * (48 + 32);
    assert.equal(linearForwardFlops(lora, 10), 2 * 10 * 48 * 32 + branch);
    lora.merge();
    assert.equal(linearForwardFlops(lora, 10), 2 * 10 * 48 * 32, 'merged: the base product alone');
    lora.unmerge();
    lora.disableAdapters();
    assert.equal(linearForwardFlops(lora, 10), 2 * 10 * 48 * 32, 'disabled: the base alone');
    lora.enableAdapters();
    assert.equal(linearForwardFlops(lora, 10), 2 * 10 * 48 * 32 + branch);
    const plain = lm.mergeAndUnload().layers.get('proj')!;
    assert.equal(plain, base);
    assert.equal(linearForwardFlops(plain, 10), 2 * 10 * 48 * 32);
    base.dispose();
    assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
  });

  it('refuses a bad batch and a layer that is not linear, naming them', () => {
    const base = dense(8, 4);
    assert.throws(() => linearForwardFlops(base, 0), /batch must be a positive integer .* got 0/);
    const emb = tf.layers.embedding({ inputDim: 5, outputDim: 3, name: 'table' });
    tf.tidy(() => {
      emb.apply(tf.zeros([1, 2]));
    });
    assert.throws(() => linearForwardFlops(emb, 1), /'table' is a Embedding, not a linear layer/);
    base.dispose();
    emb.dispose();
  });
});
