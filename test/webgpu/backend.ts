// webgpu by name (Mesa lavapipe on machines without a GPU): a matMul and a gradient, no tensors leaked.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { releaseBackend, useBackend } from '../../src/backend/index.js';

describe('webgpu by name', () => {
  after(() => releaseBackend());

  it('webgpu (lavapipe on machines without a GPU) runs a matMul and a gradient', async () => {
    const info = await useBackend('webgpu');
    assert.equal(tf.getBackend(), 'webgpu');
    assert.ok(info.adapter, 'reports its adapter');
    const before = tf.memory().numTensors;
    const x = tf.tensor2d([[1, 2], [3, 4]]);
    const w = tf.tensor2d([[0.5, -1], [2, 0.25]]);
    const y = tf.matMul(x, w); // [[4.5, -0.5], [9.5, -2]]
    assert.deepEqual(await y.array(), [[4.5, -0.5], [9.5, -2]]);
    // d/dw Σ (x·w)² = xᵀ · 2(x·w)
    const g = tf.grad((v: tf.Tensor) => tf.matMul(x, v as tf.Tensor2D).square().sum())(w);
    const expected = tf.tidy(() => tf.matMul(x, y.mul(2), true, false));
    const [gv, ev] = [await g.data(), await expected.data()];
    gv.forEach((v, i) => assert.ok(Math.abs(v - ev[i]!) < 1e-4, `grad[${i}] ${v} vs ${ev[i]}`));
    tf.dispose([x, w, y, g, expected]);
    assert.equal(tf.memory().numTensors, before);
  });
});
