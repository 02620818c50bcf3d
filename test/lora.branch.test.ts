// The LoRA branch: PEFT's initial A and B, scaling, ΔW = s·B·A [out, in], and the fused op (one customGrad) whose
// forward and every input's gradient (x, A, B) match the plain formula differentiated by TF.js, with and without
// dropout (the mask recovered from the output in float64); the embedding lookup's scatter gradient; no leaks.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { Matrix, solve } from 'ml-matrix';
import { LoraBranch, initialFactors } from '../src/lora/branch.js';
import { loraConfig } from '../src/lora/config.js';

before(async () => {
  await tf.setBackend('cpu');
});

const IN = 6;
const OUT = 9;
const R = 6; // r = in: A is square, so the dropped-out input can be solved for from the output

function branch(extra: Record<string, unknown> = {}, kind: 'linear' | 'embedding' = 'linear', dims = [IN, OUT]): LoraBranch {
  const config = loraConfig({ r: R, lora_alpha: 12, target_modules: ['x'], init_lora_weights: false, ...extra });
  return new LoraBranch({ prefix: 't', adapter: 'default', names: { A: 'lora_A', B: 'lora_B' }, inFeatures: dims[0]!, outFeatures: dims[1]!, config, seed: 5, kind });
}
const arr = (t: tf.Tensor) => t.arraySync() as number[][];
const maxDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);

/** The plain formula s·(x_d·Aᵀ)·Bᵀ, differentiated by TF.js's own ops. */
function plainGrads(b: LoraBranch, x: tf.Tensor2D, xd: (x: tf.Tensor) => tf.Tensor, dy: tf.Tensor) {
  const f = (xx: tf.Tensor, A: tf.Tensor, B: tf.Tensor) =>
    tf.sum(tf.matMul(tf.matMul(xd(xx), A, false, true).mul(b.scaling), B, false, true).mul(dy));
  return tf.grads(f)([x, b.lora_A.read(), b.lora_B.read()]);
}

test("PEFT's initial factors: linear A uniform ±1/√in with B = 0; embedding A = 0 with B ~ N(0, 1)", () => {
  const lin = initialFactors('linear', 4, 100, 30, true, 1);
  const a = lin.lora_A.dataSync();
  assert.ok(Math.max(...a) <= 0.1 && Math.min(...a) >= -0.1 && Math.max(...a) > 0.09, 'Kaiming-uniform(a=√5) bound is 1/√100');
  assert.equal(tf.max(tf.abs(lin.lora_B)).dataSync()[0], 0);
  const emb = initialFactors('embedding', 4, 100, 30, true, 1);
  assert.equal(tf.max(tf.abs(emb.lora_A)).dataSync()[0], 0);
  const sd = tf.moments(emb.lora_B).variance.sqrt().dataSync()[0]!;
  assert.ok(sd > 0.8 && sd < 1.2, `B ~ N(0, 1): sd ${sd}`);
  const g = initialFactors('linear', 4, 100, 30, 'gaussian', 1);
  const gsd = tf.moments(g.lora_A).variance.sqrt().dataSync()[0]!;
  assert.ok(gsd > 0.2 && gsd < 0.3, `gaussian A has std 1/r = 0.25: ${gsd}`);
});

test('the fused op equals s·x·Aᵀ·Bᵀ and its gradients for x, A and B equal TF.js autodiff of the formula', () => {
  const b = branch();
  assert.equal(b.scaling, 2);
  const x = tf.randomNormal([7, IN], 0, 1, 'float32', 1) as tf.Tensor2D;
  const dy = tf.randomNormal([7, OUT], 0, 1, 'float32', 2);
  const y = b.forward(x, false);
  const ref = tf.matMul(tf.matMul(x, b.lora_A.read(), false, true), b.lora_B.read(), false, true).mul(2);
  assert.ok(maxDiff(y, ref) < 1e-5);
  // dx by tf.grad; dA and dB through the branch's own variables.
  const gx = tf.grad((xx: tf.Tensor) => tf.sum(b.forward(xx as tf.Tensor2D, false).mul(dy)))(x);
  const { grads } = tf.variableGrads(() => tf.sum(b.forward(x, false).mul(dy)) as tf.Scalar, [b.lora_A.read() as tf.Variable, b.lora_B.read() as tf.Variable]);
  const [px, pA, pB] = plainGrads(b, x, (t) => t, dy);
  assert.ok(maxDiff(gx, px!) < 1e-5, 'dx');
  assert.ok(maxDiff(grads[(b.lora_A.read() as tf.Variable).name]!, pA!) < 1e-5, 'dA');
  assert.ok(maxDiff(grads[(b.lora_B.read() as tf.Variable).name]!, pB!) < 1e-5, 'dB');
});

test('with dropout the mask hits only the branch input, is 0 or 1/(1−p), and the gradients use the same mask', () => {
  const p = 0.4;
  const b = branch({ lora_dropout: p });
  const x = tf.randomNormal([40, IN], 0, 1, 'float32', 3) as tf.Tensor2D;
  const dy = tf.randomNormal([40, OUT], 0, 1, 'float32', 4);
  let y!: tf.Tensor;
  const gx = tf.grad((xx: tf.Tensor) => {
    y = tf.keep(b.forward(xx as tf.Tensor2D, true));
    return tf.sum(y.mul(dy));
  })(x);
  // Solve y = s·x_d·Aᵀ·Bᵀ for x_d in float64: (s·Aᵀ·Bᵀ)ᵀ has full column rank (r = in, out > r).
  const M = new Matrix(arr(tf.matMul(b.lora_A.read(), b.lora_B.read(), true, true).mul(b.scaling))); // [in, out]
  const xd = solve(M.transpose(), new Matrix(arr(y)).transpose()).transpose(); // [N, in]
  const X = arr(x);
  const keep = 1 / (1 - p);
  let dropped = 0;
  const mask = X.map((row, i) => row.map((v, j) => {
    const got = xd.get(i, j);
    const isKept = Math.abs(got - v * keep) < 1e-3 * Math.max(1, Math.abs(v));
    assert.ok(isKept || Math.abs(got) < 1e-3, `x_d[${i}][${j}] = ${got}: neither 0 nor x/(1−p) = ${v * keep}`);
    if (!isKept) dropped++;
    return isKept ? keep : 0;
  }));
  const share = dropped / (40 * IN);
  assert.ok(share > 0.25 && share < 0.55, `about p = ${p} of the entries are dropped: ${share}`);
  const maskT = tf.tensor2d(mask);
  const [px] = plainGrads(b, x, (t) => t.mul(maskT), dy);
  assert.ok(maxDiff(gx, px!) < 1e-4, 'dx flows through the kept entries only, scaled by 1/(1−p)');
  const y2 = b.forward(x, true);
  assert.ok(maxDiff(y2, y) > 1e-3, 'the next call draws a new mask');
  assert.ok(maxDiff(b.forward(x, false), tf.matMul(x, tf.tensor2d(M.to2DArray()))) < 1e-5, 'no dropout outside training');
});

test('the embedding lookup: y = s·A[:, ids]ᵀ·Bᵀ, and dA scatters into the looked-up columns (repeats summed)', () => {
  const V = 11;
  const b = branch({}, 'embedding', [V, OUT]);
  const ids = tf.tensor1d([3, 0, 3, 7, 3, 10], 'int32');
  const dy = tf.randomNormal([6, OUT], 0, 1, 'float32', 6);
  const oneHot = tf.oneHot(ids, V).toFloat(); // [N, V]: the lookup as a product
  const y = b.lookup(ids);
  assert.ok(maxDiff(y, tf.matMul(tf.matMul(oneHot, b.lora_A.read(), false, true), b.lora_B.read(), false, true).mul(b.scaling)) < 1e-5);
  const vars = [b.lora_A.read() as tf.Variable, b.lora_B.read() as tf.Variable];
  const { grads } = tf.variableGrads(() => tf.sum(b.lookup(ids).mul(dy)) as tf.Scalar, vars);
  const [, pA, pB] = plainGrads(b, oneHot as tf.Tensor2D, (t) => t, dy);
  assert.ok(maxDiff(grads[vars[0]!.name]!, pA!) < 1e-5, 'dA');
  assert.ok(maxDiff(grads[vars[1]!.name]!, pB!) < 1e-5, 'dB');
  assert.equal(tf.sum(tf.abs(grads[vars[0]!.name]!.slice([0, 1], [R, 1]))).dataSync()[0], 0, 'an id not looked up gets no gradient');
});

test('ΔW = s·B·A is [out, in] and deltaKernel its transpose; no tensor leaks over forward + backward', () => {
  const b = branch({ lora_dropout: 0.2 });
  const dW = b.deltaWeight();
  assert.deepEqual(dW.shape, [OUT, IN]);
  assert.ok(maxDiff(dW, tf.matMul(b.lora_B.read(), b.lora_A.read()).mul(b.scaling)) < 1e-6);
  assert.ok(maxDiff(b.deltaKernel(), dW.transpose()) < 1e-6);
  const x = tf.randomNormal([5, IN]) as tf.Tensor2D;
  const vars = b.weights.map((w) => w.read() as tf.Variable);
  const n0 = tf.memory().numTensors;
  for (let i = 0; i < 5; i++) {
    const { value, grads } = tf.variableGrads(() => tf.sum(b.forward(x, true)) as tf.Scalar, vars);
    tf.dispose([value, ...Object.values(grads)]);
    b.forward(x, false).dispose();
  }
  assert.equal(tf.memory().numTensors, n0);
  const n1 = tf.memory().numTensors;
  b.dispose();
  assert.equal(tf.memory().numTensors, n1 - 2, 'dispose frees A and B');
});
