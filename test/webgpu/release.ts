// After webgpu is released (releaseBackend resets the TF.js engine, which disposes every backend), wasm and cpu
// start again from scratch: their kernels, lora-lab's fast matMul among them, must still compute right.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { releaseBackend, useBackend } from '../../src/backend/index.js';

describe('backends after webgpu is released', () => {
  after(() => releaseBackend());

  it('wasm and cpu re-initialise with working matMul kernels (plain, transposed, fused)', async () => {
    const expected = { plain: [[7, -1], [16, -1]], transposed: [[14, 32], [32, 77]], fused: [[8, 1], [17, 1]] };
    for (const round of [0, 1]) {
      await useBackend('webgpu', { log: null });
      await (await tf.matMul(tf.ones([2, 2]), tf.ones([2, 2])).data()); // the device does some work
      releaseBackend();
      for (const name of ['wasm', 'cpu']) {
        await useBackend(name, { log: null });
        const a = tf.tensor2d([[1, 2, 3], [4, 5, 6]]);
        const b = tf.tensor2d([[1, 0], [0, 1], [2, -1]]);
        const got = {
          plain: await tf.matMul(a, b).array(), // wasm: XNNPACK (the original kernel, set up again)
          transposed: await tf.matMul(a, a, false, true).array(), // lora-lab's kernel
          fused: await tf.fused.matMul({ a, b, bias: tf.tensor1d([1, 2]) }).array(),
        };
        assert.deepEqual(got, expected, `${name} after release, round ${round}`);
      }
    }
  });
});
