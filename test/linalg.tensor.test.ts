// Tensor <-> Matrix crossings (values kept, orientation kept, no tensor leaks) and LoRA parameter counts
// (the notes' worked example: 1024×1024 at r = 16 → 16,384 + 16,384 = 32,768 = 3.125 % of 1,048,576).
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { Matrix } from 'ml-matrix';
import { matrixToTensor, paramCounts, tensorToMatrix } from '../src/linalg/index.js';

describe('tensorToMatrix / matrixToTensor', () => {
  before(async () => {
    await tf.setBackend('cpu');
  });

  it('round-trips values and shape [rows, cols] without leaking tensors', async () => {
    const start = tf.memory().numTensors;
    const M = new Matrix([[1, 2.5, -3], [4, 0.125, 6]]);
    const t = matrixToTensor(M);
    assert.deepEqual(t.shape, [2, 3]);
    assert.equal(t.dtype, 'float32');
    const back = await tensorToMatrix(t);
    assert.deepEqual(back.to2DArray(), M.to2DArray());
    t.dispose();
    assert.equal(tf.memory().numTensors, start);
  });

  it('keeps orientation: a Dense kernel [in, out] stays [in, out]', async () => {
    const start = tf.memory().numTensors;
    const k = tf.tensor2d([[1, 2], [3, 4], [5, 6]]); // [in = 3, out = 2]
    const M = await tensorToMatrix(k);
    assert.deepEqual([M.rows, M.columns], [3, 2]);
    assert.equal(M.get(2, 1), 6);
    k.dispose();
    assert.equal(tf.memory().numTensors, start);
  });

  it('float32 rounding is visible: 0.1 comes back as its float32 value', async () => {
    const t = matrixToTensor([[0.1]]);
    const v = (await tensorToMatrix(t)).get(0, 0);
    t.dispose();
    assert.equal(v, Math.fround(0.1));
    assert.notEqual(v, 0.1);
  });

  it('names a tensor of the wrong rank and a non-finite entry', async () => {
    const start = tf.memory().numTensors;
    const v = tf.tensor1d([1, 2, 3]);
    await assert.rejects(tensorToMatrix(v, 'lora_A'), /lora_A must be 2-D to become a matrix, got shape \[3\]/);
    const n = tf.tensor2d([[1, NaN]]);
    await assert.rejects(tensorToMatrix(n), /tensor has a non-finite entry at row 0, col 1: NaN/);
    v.dispose();
    n.dispose();
    assert.throws(() => matrixToTensor([[1], [2, 3]]), /M is ragged: row 1 has 2 entries but row 0 has 1/);
    assert.equal(tf.memory().numTensors, start);
  });
});

describe('paramCounts', () => {
  it("the notes' example: W0 1024×1024, r = 16", () => {
    assert.deepEqual(paramCounts(1024, 1024, 16), {
      full: 1_048_576,
      loraA: 16_384,
      loraB: 16_384,
      lora: 32_768,
      ratio: 0.03125,
    });
  });
  it('lora_A is r·d_in and lora_B is d_out·r (PEFT orientation) on a non-square layer', () => {
    const c = paramCounts(768, 3072, 8); // d_out = 768, d_in = 3072
    assert.equal(c.loraA, 8 * 3072);
    assert.equal(c.loraB, 768 * 8);
    assert.equal(c.lora, 8 * (768 + 3072));
    assert.equal(c.ratio, (8 * (768 + 3072)) / (768 * 3072));
  });
  it('names a bad size or rank', () => {
    assert.throws(() => paramCounts(1024, 1024, 0), /^Error: r must be a positive integer, got 0: use r >= 1 \(e\.g\. 8\)$/);
    assert.throws(() => paramCounts(0, 4, 1), /dOut must be a positive integer, got 0/);
    assert.throws(() => paramCounts(4, 2.5, 1), /dIn must be a positive integer, got 2\.5/);
  });
});
