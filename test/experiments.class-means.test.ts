// Class means and the nearest-class-mean share, on points whose classes are known, swapped, and malformed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classMeans, nearestMeanShare } from '../src/experiments/class-means.js';

test('class means average each class; the nearest-mean share counts rows that sit with their own class', () => {
  const ref = [[0, 0], [0, 2], [10, 0], [10, 2]];
  const means = classMeans(ref, [0, 0, 1, 1], 2);
  assert.deepEqual(means.to2DArray(), [[0, 1], [10, 1]]);
  assert.equal(nearestMeanShare(means, [[1, 1], [9, 1], [2, 0]], [0, 1, 0]), 1);
  assert.equal(nearestMeanShare(means, [[1, 1], [9, 1], [2, 0]], [1, 0, 1]), 0, 'swapped labels: none');
  assert.equal(nearestMeanShare(means, [[1, 1], [9, 1]], [0, 0]), 0.5);
});

test('labels and shapes are checked, naming the value', () => {
  assert.throws(() => classMeans([[0], [1]], [0, 0], 2), /class 1 has no row among the 2 given/);
  assert.throws(() => classMeans([[0], [1]], [0], 2), /1 labels for the 2 rows of X/);
  assert.throws(() => classMeans([[0], [1]], [0, 2], 2), /label 1 is 2; labels must be integers 0..1/);
  assert.throws(() => nearestMeanShare([[0, 0]], [[1, 2, 3]], [0]), /X has 3 columns but the class means have 2/);
});
