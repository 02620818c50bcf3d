// PCA held against data built with known directions and variances, and against the covariance matrix's
// eigen-equation C·v = λ·v computed another way; projections centre on the fitted mean.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix } from 'ml-matrix';
import { pca, pcaProject } from '../src/linalg/pca.js';
import { randomGaussian, randomOrthogonal } from '../src/linalg/random.js';

test('pca finds planted directions of largest variance, with their variance shares', () => {
  const Q = randomOrthogonal(5, 1); // [5, 5]: the data's axes
  const scales = [5, 2, 0.5, 0.2, 0.1];
  const Z = randomGaussian(4000, 5, 2).mulRowVector(scales); // [N, 5], independent columns
  const shift = [1, -2, 3, 0, 4];
  const X = Z.mmul(Q.transpose()).addRowVector(shift); // rows Q·z + shift
  const p = pca(X, 2);
  assert.equal(p.components.rows, 2);
  for (let j = 0; j < 5; j++) assert.ok(Math.abs(p.mean[j]! - shift[j]!) < 0.2, `mean ${j}`);
  for (let i = 0; i < 2; i++) {
    const v = p.components.getRowVector(i);
    const cos = Math.abs(v.mmul(Q.getColumnVector(i)).get(0, 0));
    assert.ok(cos > 0.99, `component ${i} lines up with planted axis ${i}: |cos| = ${cos}`);
    assert.ok(Math.abs(v.norm() - 1) < 1e-12);
  }
  const total = scales.reduce((s, v) => s + v * v, 0);
  assert.ok(Math.abs(p.varianceShare[0]! - 25 / total) < 0.02, `share ${p.varianceShare[0]}`);
  // C·v = λ·v for the sample covariance C of the centred data, λ = the variance along v
  const Xc = X.clone().subRowVector(p.mean);
  const C = Xc.transpose().mmul(Xc).div(X.rows);
  const v = p.components.getRowVector(0).transpose(); // [5, 1]
  const Cv = C.mmul(v);
  const lambda = v.transpose().mmul(Cv).get(0, 0);
  assert.ok(Cv.sub(v.clone().mul(lambda)).norm() < 1e-9 * lambda);
});

test('pcaProject subtracts the fitted mean and reads coordinates along the components; bad input is named', () => {
  const X = new Matrix([[1, 0], [3, 0], [2, 1], [2, -1]]); // mean (2, 0)
  const p = pca(X, 1);
  const P = pcaProject(p, [[2, 0], [4, 0]]);
  assert.ok(Math.abs(P.get(0, 0)) < 1e-12, 'the mean projects to 0');
  assert.ok(Math.abs(Math.abs(P.get(1, 0)) - 2) < 1e-12, 'two units along the first axis (x)');
  assert.throws(() => pcaProject(p, [[1, 2, 3]]), /Y has 3 columns but the PCA was fitted on 2/);
  assert.throws(() => pca(X, 3), /min\(N, d\) for 4 rows of 2 features/);
});
