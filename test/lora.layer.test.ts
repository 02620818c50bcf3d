// LoraDense: no-op at step 0, the forward formula against a float64 reference, ΔW orientation, merge/unmerge,
// gradients against central finite differences, dropout only in training, DoRA, PiSSA, rsLoRA, several
// adapters, serialization, and no tensor leaks.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { LoraDense } from '../src/lora/layer.js';
import { Matrix, solve } from 'ml-matrix';
import { svd } from '../src/linalg/index.js';
import { denseLayer, maxAbsDiff } from './helpers/tiny-mlp.js';

before(async () => {
  await tf.setBackend('cpu');
});

const IN = 16;
const OUT = 12;
const cfg = (extra: Record<string, unknown> = {}) => ({ r: 4, lora_alpha: 8, target_modules: ['x'], ...extra });
const input = (n = 5, seed = 3) => tf.randomNormal([n, IN], 0, 1, 'float32', seed) as tf.Tensor2D;
const arr2 = (t: tf.Tensor) => t.arraySync() as number[][];

/** y = act(x·Kᵀᵀ + b + s·x·Aᵀ·Bᵀ) in float64 from the layer's own weights: the formula, computed another way. */
function reference(layer: LoraDense, x: tf.Tensor2D, relu = false): number[][] {
  const a = layer.adapter(layer.activeAdapter!);
  const K = arr2(layer.base.getWeights()[0]!); // [in, out]
  const b = layer.base.getWeights()[1]!.arraySync() as number[];
  const A = arr2(a.lora_A.read()); // [r, in]
  const B = arr2(a.lora_B.read()); // [out, r]
  const X = arr2(x);
  const r = A.length;
  return X.map((row) => {
    const h = A.map((Aj) => Aj.reduce((s, v, i) => s + v * row[i]!, 0)); // [r]
    return Array.from({ length: OUT }, (_, o) => {
      let z = b[o]!;
      for (let i = 0; i < IN; i++) z += row[i]! * K[i]![o]!;
      for (let j = 0; j < r; j++) z += a.scaling * B[o]![j]! * h[j]!;
      return relu ? Math.max(0, z) : z;
    });
  });
}

function maxDiff2(a: number[][], b: number[][]): number {
  let m = 0;
  a.forEach((row, i) => row.forEach((v, j) => (m = Math.max(m, Math.abs(v - b[i]![j]!)))));
  return m;
}

test('at init (B = 0) the layer equals its base exactly, 2-D and 3-D input, relu or linear', () => {
  for (const activation of ['linear', 'relu'] as const) {
    for (const init of [true, 'gaussian'] as const) {
      const base = denseLayer(IN, OUT, { activation });
      const x = input();
      const x3 = tf.randomNormal([2, 3, IN], 0, 1, 'float32', 4);
      const y0 = base.apply(x) as tf.Tensor;
      const y03 = base.apply(x3) as tf.Tensor;
      const layer = new LoraDense({ base });
      layer.addAdapter('default', cfg({ init_lora_weights: init }));
      assert.equal(maxAbsDiff(layer.apply(x) as tf.Tensor, y0), 0);
      const y3 = layer.apply(x3) as tf.Tensor;
      assert.deepEqual(y3.shape, [2, 3, OUT]);
      assert.equal(maxAbsDiff(y3, y03), 0);
      assert.ok(tf.tidy(() => tf.any(tf.notEqual(layer.adapter('default').lora_A.read(), 0)).dataSync()[0]), 'A is random');
    }
  }
});

test('forward = act(x·W0ᵀ + b + (α/r)·x·Aᵀ·Bᵀ), checked against a float64 reference', () => {
  for (const relu of [false, true]) {
    const layer = new LoraDense({ base: denseLayer(IN, OUT, { activation: relu ? 'relu' : 'linear' }) });
    layer.addAdapter('default', cfg({ init_lora_weights: false, lora_alpha: 12 }));
    assert.equal(layer.adapter('default').scaling, 3);
    const x = input();
    assert.ok(maxDiff2(arr2(layer.apply(x) as tf.Tensor), reference(layer, x, relu)) < 1e-5);
  }
});

test('rsLoRA: scaling = α/√r, and the update scales by exactly that', () => {
  const base = denseLayer(IN, OUT);
  const layer = new LoraDense({ base });
  layer.addAdapter('plain', cfg({ init_lora_weights: false, lora_alpha: 8, r: 4 }));
  layer.addAdapter('rs', cfg({ init_lora_weights: false, lora_alpha: 8, r: 4, use_rslora: true }));
  assert.equal(layer.adapter('plain').scaling, 2);
  assert.equal(layer.adapter('rs').scaling, 4);
  // Same A, B in both adapters, so ΔW_rs = 2·ΔW_plain.
  layer.adapter('rs').lora_A.write(layer.adapter('plain').lora_A.read());
  layer.adapter('rs').lora_B.write(layer.adapter('plain').lora_B.read());
  const d1 = layer.deltaWeight('plain');
  const d2 = layer.deltaWeight('rs');
  assert.ok(maxAbsDiff(d2, d1.mul(2)) < 1e-6);
  layer.setAdapter('rs');
  assert.ok(maxDiff2(arr2(layer.apply(input()) as tf.Tensor), reference(layer, input())) < 1e-5);
});

test('deltaWeight is [out, in] = scaling·B·A; merge adds its transpose to the [in, out] kernel', () => {
  const layer = new LoraDense({ base: denseLayer(IN, OUT) });
  layer.addAdapter('default', cfg({ init_lora_weights: false }));
  const dW = layer.deltaWeight();
  assert.deepEqual(dW.shape, [OUT, IN]);
  const a = layer.adapter('default');
  assert.ok(maxAbsDiff(dW, tf.matMul(a.lora_B.read(), a.lora_A.read()).mul(a.scaling)) < 1e-7);
  const K0 = layer.base.getWeights()[0]!.clone();
  layer.merge();
  assert.ok(layer.merged);
  assert.ok(maxAbsDiff(layer.base.getWeights()[0]!.sub(K0), dW.transpose()) < 1e-6);
});

test('merged = unmerged (≤ 1e-5), unmerge restores W (≤ 1e-6), merged runs the base path, no leaks', () => {
  const layer = new LoraDense({ base: denseLayer(IN, OUT, { activation: 'relu' }) });
  layer.addAdapter('default', cfg({ init_lora_weights: false }));
  const x = input();
  const K0 = layer.base.getWeights()[0]!.clone();
  const yUnmerged = layer.apply(x) as tf.Tensor;
  const n0 = tf.memory().numTensors;
  for (let i = 0; i < 10; i++) {
    layer.merge();
    layer.unmerge();
  }
  assert.equal(tf.memory().numTensors, n0, 'merge/unmerge leak no tensors');
  layer.merge();
  const yMerged = layer.apply(x) as tf.Tensor;
  assert.ok(maxAbsDiff(yMerged, yUnmerged) <= 1e-5);
  assert.equal(maxAbsDiff(yMerged, layer.base.apply(x) as tf.Tensor), 0, 'merged output is the plain Dense output');
  layer.unmerge();
  assert.ok(!layer.merged);
  assert.ok(maxAbsDiff(layer.base.getWeights()[0]!, K0) <= 1e-6);
});

/** Central finite differences of `loss` w.r.t. a few entries of variable v, against tf.grad's values. */
function checkGradient(v: tf.LayerVariable, grad: tf.Tensor, loss: () => number, eps = 0.05): void {
  const g = grad.dataSync();
  const base = v.read().clone();
  const values = base.dataSync();
  for (const i of [0, 3, Math.floor(values.length / 2), values.length - 1]) {
    const bump = (delta: number) => {
      const w = Float32Array.from(values);
      w[i]! += delta;
      v.write(tf.tensor(w, base.shape));
      return loss();
    };
    const fd = (bump(eps) - bump(-eps)) / (2 * eps);
    v.write(base);
    assert.ok(Math.abs(fd - g[i]!) <= 2e-3 * Math.max(1, Math.abs(fd)), `${v.name}[${i}]: finite difference ${fd} vs gradient ${g[i]}`);
  }
}

test('gradients w.r.t. lora_A and lora_B match central finite differences', () => {
  const layer = new LoraDense({ base: denseLayer(IN, OUT) });
  layer.addAdapter('default', cfg({ init_lora_weights: false }));
  const a = layer.adapter('default');
  const x = input(6);
  const target = tf.randomNormal([6, OUT], 0, 1, 'float32', 9);
  const lossT = () => tf.sum(tf.square((layer.apply(x) as tf.Tensor).sub(target))) as tf.Scalar;
  const loss = () => tf.tidy(() => lossT().dataSync()[0]!);
  const { grads } = tf.variableGrads(lossT, [a.lora_A.read() as tf.Variable, a.lora_B.read() as tf.Variable]);
  const name = (v: tf.LayerVariable) => (v.read() as tf.Variable).name;
  checkGradient(a.lora_A, grads[name(a.lora_A)]!, loss);
  checkGradient(a.lora_B, grads[name(a.lora_B)]!, loss);
});

test('only the active adapter is trainable; the base kernel and bias are frozen', () => {
  const layer = new LoraDense({ base: denseLayer(IN, OUT) });
  layer.addAdapter('default', cfg());
  layer.addAdapter('other', cfg());
  assert.deepEqual(layer.trainableWeights.map((w) => w.name.replace(/_\d+$/, '')), [`${layer.name}/lora_A/default`, `${layer.name}/lora_B/default`]);
  assert.equal(layer.nonTrainableWeights.length, 4);
  assert.ok(layer.base.weights.every((w) => !w.trainable && !(w.read() as tf.Variable).trainable));
  layer.biasTrainable = true;
  assert.equal(layer.trainableWeights.length, 3);
  layer.disableAdapters();
  assert.equal(layer.trainableWeights.length, 1, 'disabled: only the bias stays trainable');
});

test('in training with B = 0 the output is exactly the base: dropout never touches the base path', () => {
  for (const activation of ['linear', 'relu'] as const) {
    const base = denseLayer(IN, OUT, { activation });
    const x = input(20);
    const y0 = base.apply(x) as tf.Tensor;
    const layer = new LoraDense({ base });
    layer.addAdapter('default', cfg({ lora_dropout: 0.5 })); // B = 0 (PEFT's init)
    assert.equal(maxAbsDiff(layer.apply(x, { training: true }) as tf.Tensor, y0), 0, `${activation}: forward in training`);
    // Inside backprop too (the base path then runs unfused so its frozen kernel gets no gradient work).
    const a = layer.adapter('default');
    let yRecorded!: tf.Tensor;
    const { grads } = tf.variableGrads(() => {
      yRecorded = tf.keep(layer.apply(x, { training: true }) as tf.Tensor);
      return tf.sum(yRecorded) as tf.Scalar;
    }, [a.lora_A.read() as tf.Variable, a.lora_B.read() as tf.Variable]);
    assert.equal(maxAbsDiff(yRecorded, y0), 0, `${activation}: forward under gradient recording`);
    assert.ok(tf.sum(tf.abs(grads[(a.lora_B.read() as tf.Variable).name]!)).dataSync()[0]! > 0, 'B gets a gradient');
  }
});

test('lora_dropout acts only in training; the kwarg wins over the layer flag', () => {
  const layer = new LoraDense({ base: denseLayer(IN, OUT) });
  layer.addAdapter('default', cfg({ init_lora_weights: false, lora_dropout: 0.5 }));
  const x = input(20);
  const ref = reference(layer, x);
  assert.ok(maxDiff2(arr2(layer.apply(x) as tf.Tensor), ref) < 1e-5, 'no dropout outside training');
  assert.ok(maxDiff2(arr2(layer.apply(x, { training: true }) as tf.Tensor), ref) > 1e-2, 'dropout changes the output in training');
  layer.training = true;
  assert.ok(maxDiff2(arr2(layer.apply(x) as tf.Tensor), ref) > 1e-2, 'the layer flag turns it on too');
  assert.ok(maxDiff2(arr2(layer.apply(x, { training: false }) as tf.Tensor), ref) < 1e-5, 'kwargs win over the flag');
});

test('no tensor leaks over 100 Adam steps on A and B', () => {
  const layer = new LoraDense({ base: denseLayer(IN, OUT) });
  layer.addAdapter('default', cfg({ lora_dropout: 0.1 }));
  const vars = layer.trainableWeights.map((w) => w.read() as tf.Variable);
  const x = input(8);
  const target = tf.randomNormal([8, OUT], 0, 1, 'float32', 5);
  const opt = tf.train.adam(0.01);
  const step = () => opt.minimize(() => tf.mean(tf.square((layer.apply(x, { training: true }) as tf.Tensor).sub(target))) as tf.Scalar, true, vars)!;
  const first = step();
  const firstLoss = first.dataSync()[0]!;
  const n1 = tf.memory().numTensors; // after step 1 Adam has created its moment variables
  let last = first;
  for (let i = 0; i < 99; i++) {
    last.dispose();
    last = step();
  }
  assert.equal(tf.memory().numTensors, n1);
  assert.ok(last.dataSync()[0]! < 0.5 * firstLoss, `the loss went down: ${firstLoss} → ${last.dataSync()[0]}`);
  opt.dispose();
});

test('DoRA: m starts at ‖W‖ per output row; output = base at init; (m/‖W+ΔW‖)(W+ΔW)x + b after; merge/unmerge', () => {
  const base = denseLayer(IN, OUT);
  const x = input();
  const y0 = base.apply(x) as tf.Tensor;
  const layer = new LoraDense({ base });
  layer.addAdapter('default', cfg({ use_dora: true }));
  const a = layer.adapter('default');
  const K = arr2(base.getWeights()[0]!);
  const norms = Array.from({ length: OUT }, (_, o) => Math.sqrt(K.reduce((s, row) => s + row[o]! ** 2, 0)));
  const m = a.lora_magnitude_vector!.read().arraySync() as number[];
  norms.forEach((n, o) => assert.ok(Math.abs(n - m[o]!) < 1e-5));
  assert.ok(maxAbsDiff(layer.apply(x) as tf.Tensor, y0) < 1e-6);
  // Move B and m away from init, then compare with the formula in float64.
  a.lora_B.write(tf.randomNormal([OUT, 4], 0, 0.3, 'float32', 11));
  a.lora_magnitude_vector!.write(tf.randomUniform([OUT], 0.5, 2, 'float32', 12));
  const W = arr2(tf.tidy(() => base.getWeights()[0]!.transpose().add(layer.deltaWeight()))); // [out, in]
  const mm = a.lora_magnitude_vector!.read().arraySync() as number[];
  const b = base.getWeights()[1]!.arraySync() as number[];
  const ref = arr2(x).map((row) => W.map((Wo, o) => {
    const n = Math.sqrt(Wo.reduce((s, v) => s + v * v, 0));
    return (mm[o]! / n) * Wo.reduce((s, v, i) => s + v * row[i]!, 0) + b[o]!;
  }));
  const yDora = layer.apply(x) as tf.Tensor;
  assert.ok(maxDiff2(arr2(yDora), ref) < 1e-5);
  const K0 = base.getWeights()[0]!.clone();
  layer.merge();
  assert.ok(maxAbsDiff(layer.apply(x) as tf.Tensor, yDora) <= 1e-5);
  layer.unmerge();
  assert.ok(maxAbsDiff(base.getWeights()[0]!, K0) <= 1e-5);
});

test('DoRA with dropout: base(x) + (m/‖W+ΔW‖ − 1)·x_d·K + (m/‖W+ΔW‖)·s·x_d·Aᵀ·Bᵀ, against float64 with the mask solved for', () => {
  const [dIn, dOut, p] = [6, 9, 0.4];
  const base = denseLayer(dIn, dOut);
  const layer = new LoraDense({ base });
  layer.addAdapter('default', { r: 6, lora_alpha: 12, target_modules: ['x'], use_dora: true, init_lora_weights: false, lora_dropout: p });
  const a = layer.adapter('default');
  a.lora_magnitude_vector!.write(tf.randomUniform([dOut], 0.5, 2, 'float32', 13));
  const x = tf.randomNormal([30, dIn], 0, 1, 'float32', 14) as tf.Tensor2D;
  const y = arr2(layer.apply(x, { training: true }) as tf.Tensor);
  // float64 pieces from the layer's weights: W + ΔW [out, in], the scale m/‖·‖ [out], K [in, out], s·Aᵀ·Bᵀ [in, out].
  const K = new Matrix(arr2(base.getWeights()[0]!));
  const b = base.getWeights()[1]!.arraySync() as number[];
  const dK = new Matrix(arr2(tf.matMul(a.lora_A.read(), a.lora_B.read(), true, true).mul(a.scaling)));
  const Wn = K.clone().add(dK); // [in, out]
  const m = a.lora_magnitude_vector!.read().arraySync() as number[];
  const scale = Array.from({ length: dOut }, (_, o) => m[o]! / Math.sqrt(Wn.getColumn(o).reduce((q, v) => q + v * v, 0)));
  // y − x·K − b = x_d·M with M = K·diag(scale − 1) + s·Aᵀ·Bᵀ·diag(scale) [in, out]: solve for x_d (least squares).
  const M = new Matrix(dIn, dOut);
  for (let i = 0; i < dIn; i++) for (let o = 0; o < dOut; o++) M.set(i, o, K.get(i, o) * (scale[o]! - 1) + dK.get(i, o) * scale[o]!);
  const X = new Matrix(arr2(x));
  const rest = new Matrix(y).sub(X.mmul(K)).subRowVector(b);
  const xd = solve(M.transpose(), rest.transpose()).transpose();
  const keep = 1 / (1 - p);
  let dropped = 0;
  const Xd = new Matrix(30, dIn);
  for (let n = 0; n < 30; n++) for (let i = 0; i < dIn; i++) {
    const kept = Math.abs(xd.get(n, i) - X.get(n, i) * keep) < 1e-3 * Math.max(1, Math.abs(X.get(n, i)));
    assert.ok(kept || Math.abs(xd.get(n, i)) < 1e-3, `x_d[${n}][${i}] = ${xd.get(n, i)} is neither 0 nor x/(1−p)`);
    if (!kept) dropped++;
    Xd.set(n, i, kept ? X.get(n, i) * keep : 0);
  }
  assert.ok(dropped > 0.2 * 30 * dIn && dropped < 0.6 * 30 * dIn, `some entries dropped (${dropped})`);
  // The whole output against the formula in float64 with that mask.
  const ref = X.mmul(K).add(Xd.mmul(M)).addRowVector(b);
  assert.ok(maxDiff2(y, ref.to2DArray()) < 1e-4, 'DoRA with dropout matches the float64 reference');
  // Without dropout (inference) it is (m/‖W+ΔW‖)·((W+ΔW)·x) + b.
  const inf = X.mmul(Wn).mulRowVector(scale).addRowVector(b);
  assert.ok(maxDiff2(arr2(layer.apply(x) as tf.Tensor), inf.to2DArray()) < 1e-4);
});

test('DoRA: the gradient w.r.t. m matches finite differences (m is outside the detached norm)', () => {
  const layer = new LoraDense({ base: denseLayer(IN, OUT) });
  layer.addAdapter('default', cfg({ use_dora: true, init_lora_weights: false }));
  const a = layer.adapter('default');
  const x = input(6);
  const target = tf.randomNormal([6, OUT], 0, 1, 'float32', 9);
  const lossT = () => tf.sum(tf.square((layer.apply(x) as tf.Tensor).sub(target))) as tf.Scalar;
  const mVar = a.lora_magnitude_vector!;
  const { grads } = tf.variableGrads(lossT, [mVar.read() as tf.Variable, a.lora_A.read() as tf.Variable]);
  const name = (v: tf.LayerVariable) => (v.read() as tf.Variable).name;
  checkGradient(mVar, grads[name(mVar)]!, () => tf.tidy(() => lossT().dataSync()[0]!));
  assert.ok(grads[name(a.lora_A)]!.abs().sum().dataSync()[0]! > 0, 'A still gets a gradient');
});

test('PiSSA: A, B from the top-r singular triplets; base + LoRA at init equals the original W', () => {
  const base = denseLayer(IN, OUT);
  const K0 = base.getWeights()[0]!.clone();
  const x = input();
  const y0 = base.apply(x) as tf.Tensor;
  const layer = new LoraDense({ base });
  layer.addAdapter('default', cfg({ init_lora_weights: 'pissa', lora_alpha: 8, r: 4 })); // scaling 2
  const a = layer.adapter('default');
  assert.ok(maxAbsDiff(layer.apply(x) as tf.Tensor, y0) < 1e-5, 'outputs at init equal the base');
  const Kres = base.getWeights()[0]!;
  assert.ok(maxAbsDiff(Kres.add(layer.deltaWeight().transpose()), K0) < 1e-5, 'W_res + s·B·A = W');
  const sigma = svd(arr2(K0.transpose())).sigma;
  // A·Aᵀ = diag(σ_j / scaling): the rows of A are scaled right singular vectors.
  const AAt = arr2(tf.matMul(a.lora_A.read(), a.lora_A.read(), false, true));
  for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) {
    const want = i === j ? sigma[i]! / a.scaling : 0;
    assert.ok(Math.abs(AAt[i]![j]! - want) < 1e-4 * sigma[0]!, `A·Aᵀ[${i}][${j}]`);
  }
  const resSigma = svd(arr2(Kres)).sigma;
  assert.ok(Math.abs(resSigma[0]! - sigma[4]!) < 1e-4, 'the residual keeps the spectrum below the top r');
  assert.throws(() => new LoraDense({ base: denseLayer(4, 3) }).addAdapter('p', cfg({ init_lora_weights: 'pissa', r: 4 })), /PiSSA needs r <= min\(in, out\) = 3/);
});

test('several adapters on one layer: switch, disable, delete', () => {
  const base = denseLayer(IN, OUT);
  const x = input();
  const y0 = base.apply(x) as tf.Tensor;
  const layer = new LoraDense({ base });
  layer.addAdapter('a', cfg({ init_lora_weights: false, seed: 1 }));
  layer.addAdapter('b', cfg({ init_lora_weights: false, seed: 2 }));
  assert.equal(layer.activeAdapter, 'a');
  const ya = layer.apply(x) as tf.Tensor;
  layer.setAdapter('b');
  const yb = layer.apply(x) as tf.Tensor;
  assert.ok(maxAbsDiff(ya, yb) > 1e-3);
  assert.ok(maxDiff2(arr2(yb), reference(layer, x)) < 1e-5);
  layer.disableAdapters();
  assert.equal(maxAbsDiff(layer.apply(x) as tf.Tensor, y0), 0);
  layer.enableAdapters();
  layer.setAdapter('a');
  assert.equal(maxAbsDiff(layer.apply(x) as tf.Tensor, ya), 0);
  const n = tf.memory().numTensors;
  layer.deleteAdapter('a');
  assert.equal(tf.memory().numTensors, n - 2, 'A and B of the deleted adapter are freed');
  assert.equal(layer.activeAdapter, 'b');
  assert.throws(() => layer.adapter('a'), /layer '.*' has no adapter 'a'; adapters are: b/);
  assert.throws(() => layer.addAdapter('b', cfg()), /already has an adapter 'b'/);
  assert.throws(() => layer.addAdapter('../x', cfg()), /adapter name must be letters, digits/);
});

test('getConfig → registered class → fromConfig rebuilds an equivalent layer', () => {
  const layer = new LoraDense({ base: denseLayer(IN, OUT, { activation: 'relu' }) });
  layer.addAdapter('default', cfg({ init_lora_weights: false, use_dora: true }));
  layer.addAdapter('second', cfg({ r: 2 }));
  const config = layer.getConfig();
  assert.equal(LoraDense.className, 'LoraLabLoraDense');
  const entry = tf.serialization.SerializationMap.getMap().classNameMap['LoraLabLoraDense'];
  assert.ok(entry, 'LoraDense is registered');
  const [cls, fromConfig] = entry!;
  const rebuilt = fromConfig(cls, JSON.parse(JSON.stringify(config))) as LoraDense;
  assert.deepEqual(rebuilt.adapterNames, ['default', 'second']);
  rebuilt.setWeights(layer.getWeights());
  const x = input();
  assert.equal(maxAbsDiff(rebuilt.apply(x) as tf.Tensor, layer.apply(x) as tf.Tensor), 0);
});

test('errors: a non-Dense layer, a Dense not built yet', () => {
  const ln = tf.layers.layerNormalization({ name: 'ln_x' });
  assert.throws(() => new LoraDense({ base: ln }), /'ln_x' is a LayerNormalization, not a linear layer \(Dense, LoraLabConv1D\)/);
  assert.throws(() => new LoraDense({ base: tf.layers.dense({ units: 3, name: 'fresh' }) }), /Dense layer 'fresh' is not built yet: call it once/);
});
