// Masked SFT cross-entropy: equals a by-hand reference, ignores masked positions in value and gradient.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { maskedCrossEntropy, classCrossEntropy } from '../src/train/loss.js';

before(async () => {
  await tf.setBackend('cpu');
});

const B = 2, T = 3, V = 4;
const logitsData = Array.from({ length: B * T * V }, (_, i) => Math.sin(i * 1.7) * 2);
const targets = [[1, 2, 3], [0, 3, 1]];
const mask = [[0, 1, 1], [0, 0, 1]];

function reference(): number {
  let sum = 0, n = 0;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      if (!mask[b]![t]) continue;
      const row = logitsData.slice((b * T + t) * V, (b * T + t + 1) * V);
      const lse = Math.log(row.reduce((s, x) => s + Math.exp(x), 0));
      sum += lse - row[targets[b]![t]!]!;
      n++;
    }
  }
  return sum / n;
}

test('masked cross-entropy equals the by-hand mean over masked positions', async () => {
  const loss = maskedCrossEntropy(tf.tensor3d(logitsData, [B, T, V]), tf.tensor2d(targets, [B, T], 'int32'), tf.tensor2d(mask, [B, T]));
  assert.ok(Math.abs((await loss.data())[0]! - reference()) < 1e-5);
});

test('changing logits at prompt (masked) positions leaves the loss unchanged and gets zero gradient', async () => {
  const t = tf.tensor2d(targets, [B, T], 'int32');
  const m = tf.tensor2d(mask, [B, T]);
  const changed = [...logitsData];
  for (let v = 0; v < V; v++) {
    changed[(0 * T + 0) * V + v] = 50 * (v + 1); // row 0, position 0 (mask 0)
    changed[(1 * T + 1) * V + v] = -30 * v; // row 1, position 1 (mask 0)
  }
  const a = (await maskedCrossEntropy(tf.tensor3d(logitsData, [B, T, V]), t, m).data())[0]!;
  const b = (await maskedCrossEntropy(tf.tensor3d(changed, [B, T, V]), t, m).data())[0]!;
  assert.equal(a, b);
  const g = tf.grad((x: tf.Tensor) => maskedCrossEntropy(x as tf.Tensor3D, t, m))(tf.tensor3d(logitsData, [B, T, V]));
  const ga = (await g.array()) as number[][][];
  assert.ok(ga[0]![0]!.every((x) => x === 0), `${ga[0]![0]}`); // ±0
  assert.ok(ga[1]![1]!.every((x) => x === 0), `${ga[1]![1]}`);
  assert.ok(ga[0]![1]!.some((x) => x !== 0));
});

test('shape mismatches are named; class cross-entropy matches the formula', async () => {
  assert.throws(
    () => maskedCrossEntropy(tf.zeros([2, 3, 4]) as tf.Tensor3D, tf.zeros([2, 2], 'int32') as tf.Tensor2D, tf.zeros([2, 3]) as tf.Tensor2D),
    /logits \[2,3,4\] need targets and mask \[2, 3\], got targets \[2,2\]/,
  );
  const ce = classCrossEntropy(tf.tensor2d([[0, Math.log(3)]]), tf.tensor1d([1], 'int32'));
  assert.ok(Math.abs((await ce.data())[0]! - Math.log(4 / 3)) < 1e-6); // p(1) = 3/4
});
