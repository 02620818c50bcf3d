// Sum over leading axes without the transpose (src/backend/fast-sum.ts): bit for bit the backends' own Sum on cpu
// and wasm, for the shapes it takes and the ones it leaves to them, gradients included, without leaks.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { releaseBackend, useBackend } from '../src/backend/index.js';
import { leadingAxes } from '../src/backend/fast-sum.js';

/** Values of mixed magnitude (so that the order of the additions shows in the last bits). */
function values(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 31 - 1) * (s % 7 === 0 ? 1000 : 1);
  });
}

const bits = (x: Float32Array) => Array.from(new Uint32Array(x.buffer, x.byteOffset, x.length));

// [shape, axis, keepDims]: leading axes (taken), and others the backends keep (unsorted, inner, all, mixed).
const cases: [number[], number | number[], boolean][] = [
  [[2048, 128], 0, false],
  [[64, 31], 0, false], // 7 quads of columns in SIMD, 3 after them
  [[3, 2], 0, true], // no whole quad
  [[1, 2048, 512], [0, 1], false],
  [[32, 64, 128], [0, 1], true],
  [[7, 3, 5], -3, false],
  [[32, 64, 128], [1, 0], true],
  [[4, 6], 1, false],
  [[4, 6], [0, 1], false],
  [[2, 3, 4], [0, 2], false],
];

describe('Sum over leading axes', () => {
  after(() => releaseBackend());

  it('takes only leading axes in increasing order, and never every axis', () => {
    assert.equal(leadingAxes(0, 2), 1);
    assert.equal(leadingAxes([0, 1], 3), 2);
    assert.equal(leadingAxes(-3, 3), 1);
    assert.equal(leadingAxes([1, 0], 3), 0); // the backends add in the given order: axis 1 first
    assert.equal(leadingAxes([0, 1], 2), 0);
    assert.equal(leadingAxes(1, 2), 0);
    assert.equal(leadingAxes([0, 2], 3), 0);
  });

  for (const backend of ['cpu', 'wasm'] as const) {
    it(`${backend}: bit for bit the backend's own Sum, shape and keepDims included, without leaks`, async () => {
      for (const [shape, axis, keepDims] of cases) {
        const data = values(shape.reduce((a, b) => a * b, 1), shape.length + shape[0]!);
        const run = async () => {
          const x = tf.tensor(data, shape);
          const y = tf.sum(x, axis, keepDims);
          const out = { shape: y.shape, values: (await y.data()) as Float32Array };
          tf.dispose([x, y]);
          return out;
        };
        await useBackend(backend, { log: null, fastMatMul: false });
        const stock = await run();
        await useBackend(backend, { log: null });
        const before = tf.memory().numTensors;
        const fast = await run();
        assert.equal(tf.memory().numTensors, before);
        const what = `${JSON.stringify(shape)} axis ${JSON.stringify(axis)} keepDims ${keepDims}`;
        assert.deepEqual(fast.shape, stock.shape, what);
        assert.deepEqual(bits(fast.values), bits(stock.values), what);
      }
    });

    it(`${backend}: the gradient of a broadcast bias (a leading-axes Sum) equals the backend's own`, async () => {
      const grad = async () => {
        const x = tf.tensor2d(values(64 * 24, 3), [64, 24]);
        const b = tf.tensor1d(values(24, 4));
        const g = tf.grad((bias: tf.Tensor) => x.add(bias).square().sum())(b); // Σ_rows 2(x + b)
        const v = (await g.data()) as Float32Array;
        tf.dispose([x, b, g]);
        return v;
      };
      await useBackend(backend, { log: null, fastMatMul: false });
      const stock = await grad();
      await useBackend(backend, { log: null });
      assert.deepEqual(bits(await grad()), bits(stock));
    });
  }
});
