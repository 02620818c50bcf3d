// Conv1D (GPT-2's [in, out] linear): y = x·W + b over the last axis, equal to Dense with the same kernel.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { Conv1D } from '../src/models/conv1d.js';

describe('Conv1D', () => {
  it('computes x·W + b on [B, T, in] and matches a hand product', async () => {
    await tf.setBackend('cpu');
    const before = tf.memory().numTensors;
    const layer = new Conv1D({ inFeatures: 3, outFeatures: 2, seed: 1 });
    layer.build();
    const [k, b] = [tf.tensor2d([[1, 0], [0, 1], [2, -1]]), tf.tensor1d([0.5, -0.5])];
    layer.kernel!.write(k);
    layer.bias!.write(b);
    const x = tf.tensor3d([[[1, 2, 3], [4, 5, 6]]]); // [1, 2, 3]
    const y = layer.apply(x) as tf.Tensor;
    assert.deepEqual(y.shape, [1, 2, 2]);
    assert.deepEqual(await y.array(), [[[7.5, -1.5], [16.5, -1.5]]]);
    assert.deepEqual(layer.weights.map((w) => w.shape), [[3, 2], [2]]);
    tf.dispose([x, y, k, b]);
    for (const w of layer.weights) w.dispose();
    assert.equal(tf.memory().numTensors, before);
  });

  it('rejects a bad size with the value', () => {
    assert.throws(() => new Conv1D({ inFeatures: 0, outFeatures: 2 }), /inFeatures must be a positive integer, got 0/);
  });

  it('round-trips its config', () => {
    const layer = new Conv1D({ inFeatures: 4, outFeatures: 12, useBias: false, seed: 3 });
    const copy = Conv1D.fromConfig(Conv1D, layer.getConfig()) as Conv1D;
    assert.equal(copy.outFeatures, 12);
    assert.equal(copy.useBias, false);
  });
});
