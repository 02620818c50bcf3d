// FLOPs read from a layer (Dense, LoRA unmerged / merged / disabled) against the count of its matrix products,
// and inputsSeenBy against a camera change undone exactly (z = R⁻¹·x back to the day inputs) and plain least squares.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { Matrix } from 'ml-matrix';
import { linearForwardFlops } from '../src/experiments/layer-flops.js';
import { inputsSeenBy } from '../src/experiments/seen-by-base.js';
import { injectLora } from '../src/lora/model.js';
import { maxAbsDiff } from '../src/linalg/compare.js';
import { randomGaussian } from '../src/linalg/random.js';

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

describe('inputsSeenBy', () => {
  it('gives back the inputs for W = W0, and the inputs before a camera change R for W = W0·R', () => {
    const W0 = randomGaussian(12, 5, 3); // [d_out, d_in]
    const X = randomGaussian(7, 5, 4); // [N, d_in]
    assert.ok(maxAbsDiff(inputsSeenBy(W0, W0, X), X) < 1e-10);
    // a reflection along one unit direction u: R = I − 2·u·uᵀ, its own inverse
    const u = [1, 2, 0, -1, 3].map((v) => v / Math.sqrt(15));
    const R = Matrix.eye(5).sub(Matrix.columnVector(u).mmul(Matrix.rowVector(u)).mul(2)); // [5, 5]
    const night = X.mmul(R); // rows R·x (R symmetric)
    assert.ok(maxAbsDiff(inputsSeenBy(W0, W0.mmul(R), night), X) < 1e-10, 'W0·R undoes the camera');
    assert.ok(maxAbsDiff(inputsSeenBy(W0, W0, night), night) < 1e-10, 'the base alone sees the night inputs');
  });

  it('is the least-squares z for an update outside W0’s column space, and refuses mismatched shapes', () => {
    const W0 = randomGaussian(9, 3, 5);
    const W = randomGaussian(9, 3, 6);
    const X = randomGaussian(4, 3, 7);
    const Z = inputsSeenBy(W0, W, X);
    // normal equations: W0ᵀ·(W0·z − W·x) = 0 for every row
    const residual = W0.transpose().mmul(W0.mmul(Z.transpose()).sub(W.mmul(X.transpose())));
    assert.ok(residual.norm('frobenius') < 1e-10);
    assert.throws(() => inputsSeenBy(W0, randomGaussian(9, 4, 1), X), /W is 9×4 but W0 is 9×3/);
    assert.throws(() => inputsSeenBy(W0, W, randomGaussian(4, 5, 1)), /X has 5 columns but W0 takes d_in = 3/);
    assert.throws(() => inputsSeenBy(randomGaussian(2, 3, 1), randomGaussian(2, 3, 2), X), /d_out < d_in/);
    const flat = new Matrix([[1, 2], [2, 4], [3, 6]]); // rank 1
    assert.throws(() => inputsSeenBy(flat, flat, [[1, 1]]), /has rank < d_in = 2/);
  });
});
