// Quantisation: the NF4 table against quantiles of N(0, 1) computed here, round-trip error bounds, storage bytes,
// the on-device packing, QuantizedDense against a dequantised reference, quantizeBase + injectLora (QLoRA), no leaks.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import {
  NF4_CODE, bitsPerWeight, blockScales, dequantizeWeight, quantizationError, quantizedBytes, quantizeWeight,
} from '../src/quant/weight.js';
import { packWords, quantizeDense, QuantizedDense, unpackFields } from '../src/quant/dense.js';
import { quantizeBase, weightBytes } from '../src/quant/base.js';
import { injectLora } from '../src/lora/model.js';
import { isLoraLayer, type LoraLayer } from '../src/lora/lora-layer.js';
import type { LayerTree } from '../src/models/module.js';

/** Deterministic N(0, std²) values (mulberry32 + Box–Muller). */
function gaussian(n: number, seed: number, std = 1): Float32Array {
  let s = seed >>> 0;
  const u = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return Float32Array.from({ length: n }, () => std * Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u()));
}

/** Φ(x) from erf's Taylor series (converges to double precision for |x| < 3). */
function normalCdf(x: number): number {
  const z = x / Math.SQRT2;
  let term = z, sum = z;
  for (let n = 1; n < 200; n++) {
    term *= (-z * z) / n;
    sum += term / (2 * n + 1);
  }
  return 0.5 * (1 + (2 / Math.sqrt(Math.PI)) * sum);
}

/** Φ⁻¹(p) by bisection. */
function normalPpf(p: number): number {
  let lo = -6, hi = 6;
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2;
    if (normalCdf(mid) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

function linspace(a: number, b: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => a + ((b - a) * i) / (n - 1));
}

describe('quantize', () => {
  before(async () => {
    await tf.setBackend('cpu');
  });

  it('NF4_CODE is QLoRA\'s table: N(0,1) quantiles at offset 0.9677083, 8 positive + 0 + 7 negative, scaled to [-1, 1]', () => {
    const offset = 0.9677083;
    const pos = linspace(offset, 0.5, 9).slice(0, -1).map(normalPpf);
    const neg = linspace(offset, 0.5, 8).slice(0, -1).map((p) => -normalPpf(p));
    const v = [...pos, 0, ...neg].sort((a, b) => a - b);
    const max = Math.max(...v);
    assert.equal(NF4_CODE.length, 16);
    v.forEach((x, k) => assert.ok(Math.abs(x / max - NF4_CODE[k]!) < 1e-6, `level ${k}: ${x / max} vs ${NF4_CODE[k]}`));
  });

  it('int8 per row: |W − Ŵ| ≤ absmax_row / 254, and each row\'s absmax entry comes back exactly', () => {
    const [out, inF] = [5, 37];
    const W = gaussian(out * inF, 1, 0.02);
    const q = quantizeWeight(W, [out, inF], { bits: 'int8' });
    const Wh = dequantizeWeight(q);
    for (let o = 0; o < out; o++) {
      const row = W.subarray(o * inF, (o + 1) * inF);
      const absmax = Math.max(...Array.from(row, Math.abs));
      for (let i = 0; i < inF; i++) {
        assert.ok(Math.abs(row[i]! - Wh[o * inF + i]!) <= absmax / 254 + 1e-9, `row ${o} col ${i}`);
        if (Math.abs(row[i]!) === absmax) assert.ok(Math.abs(Wh[o * inF + i]! - row[i]!) < 1e-9);
      }
    }
    assert.equal(quantizedBytes(q), out * inF + 4 * out); // 1 byte per value + one float per row
  });

  it('nf4 picks the nearest level of its block: Ŵ = NF4_CODE[k]·absmax with no closer level', () => {
    const n = 3 * 64 + 10; // a partial last block
    const W = gaussian(n, 2);
    const q = quantizeWeight(W, [2, n / 2], { bits: 'nf4' });
    const Wh = dequantizeWeight(q);
    const s = blockScales(q);
    assert.equal(s.length, 4);
    for (let i = 0; i < n; i++) {
      const scale = s[Math.floor(i / 64)]!;
      const dists = NF4_CODE.map((c) => Math.abs(W[i]! / scale - c));
      const best = Math.min(...dists);
      const got = Math.abs(W[i]! / scale - Wh[i]! / scale);
      assert.ok(Math.abs(got - best) < 1e-6, `value ${i}: chose a level ${got} away, nearest is ${best}`);
    }
  });

  it('stores 4.5 bits per weight for nf4/int4 with blocks of 64, about 4.13 with double quantisation, 8 + 32/in for int8', () => {
    const [out, inF] = [64, 128];
    const W = gaussian(out * inF, 3);
    const nf4 = quantizeWeight(W, [out, inF], { bits: 'nf4' });
    assert.equal(quantizedBytes(nf4), (out * inF) / 2 + 4 * ((out * inF) / 64));
    assert.equal(bitsPerWeight(nf4), 4.5);
    const dq = quantizeWeight(W, [out, inF], { bits: 'nf4', doubleQuant: true });
    const blocks = (out * inF) / 64;
    assert.equal(quantizedBytes(dq), (out * inF) / 2 + blocks + 4 * Math.ceil(blocks / 256) + 4);
    assert.ok(bitsPerWeight(dq) < 4.2 && bitsPerWeight(dq) > 4.1);
    assert.equal(bitsPerWeight(quantizeWeight(W, [out, inF], { bits: 'int8' })), 8 + 32 / inF);
  });

  it('on Gaussian weights NF4 errs less than uniform int4 at the same bits, and int8 far less than both', () => {
    const W = gaussian(256 * 64, 4, 0.02);
    const e = (scheme: 'int8' | 'int4' | 'nf4') => quantizationError(W, quantizeWeight(W, [256, 64], { bits: scheme })).relative;
    assert.ok(e('nf4') < 0.9 * e('int4'), `nf4 ${e('nf4')} vs int4 ${e('int4')}`);
    assert.ok(e('int8') < 0.2 * e('nf4'), `int8 ${e('int8')} vs nf4 ${e('nf4')}`);
    // double quantisation changes the scales a little, the error hardly at all
    const dq = quantizationError(W, quantizeWeight(W, [256, 64], { bits: 'nf4', doubleQuant: true })).relative;
    assert.ok(Math.abs(dq - e('nf4')) < 0.1 * e('nf4'));
  });

  it('rejects bad input with the value and the fix', () => {
    assert.throws(() => quantizeWeight([1, 2], [1, 2], { bits: 'fp8' as 'nf4' }), /bits must be 'int8', 'int4' or 'nf4', got "fp8"/);
    assert.throws(() => quantizeWeight([1, 2, 3], [1, 2], { bits: 'nf4' }), /has 3 values but shape \[1, 2\] needs 2/);
    assert.throws(() => quantizeWeight([1, 2], [1, 2], { bits: 'int8', doubleQuant: true }), /doubleQuant applies to the 4-bit schemes/);
    assert.throws(() => quantizeWeight([1, NaN], [1, 2], { bits: 'nf4' }), /weight value 1 is NaN/);
    assert.throws(() => quantizeWeight([1, 2], [1, 2], { bits: 'nf4', blockSize: 0 }), /blockSize must be a positive integer, got 0/);
    assert.throws(() => QuantizedDense.fromConfig(QuantizedDense, {}), /cannot be rebuilt from its config alone: build it with quantizeDense/);
  });

  it('packs bytes into int32 words and unpacks 8- and 4-bit fields, high bytes (negative words) included', () => {
    const bytes = Uint8Array.from([0, 255, 128, 7, 200, 1, 0xab, 0xff, 3]);
    const words = packWords(bytes);
    assert.equal(words.length, 3);
    assert.ok(words[1]! < 0); // 0xff in the top byte
    const before = tf.memory().numTensors;
    const w = tf.tensor1d(words, 'int32');
    const b8 = unpackFields(w, 8);
    const b4 = unpackFields(w, 4);
    assert.deepEqual(Array.from(b8.dataSync()).slice(0, bytes.length), Array.from(bytes));
    const nibbles = Array.from(bytes).flatMap((b) => [b & 15, b >> 4]);
    assert.deepEqual(Array.from(b4.dataSync()).slice(0, nibbles.length), nibbles);
    tf.dispose([w, b8, b4]);
    assert.equal(tf.memory().numTensors, before);
  });

  for (const [scheme, doubleQuant] of [['int8', false], ['int4', false], ['nf4', false], ['nf4', true]] as const) {
    it(`QuantizedDense (${scheme}${doubleQuant ? ', double quantisation' : ''}) computes x·Ŵᵀ + b with Ŵ from the codes, no leaks`, () => {
      const [out, inF] = [6, 23]; // 138 values: partial block, partial word
      const W = gaussian(out * inF, 5, 0.1);
      const q = quantizeWeight(W, [out, inF], { bits: scheme, doubleQuant, blockSize: 16 });
      const bias = Float32Array.from({ length: out }, (_, o) => 0.01 * o);
      const layer = new QuantizedDense({ weight: q, bias });
      const before = tf.memory().numTensors;
      const x = gaussian(4 * inF, 6);
      const y = tf.tidy(() => layer.apply(tf.tensor2d(x, [4, inF])) as tf.Tensor);
      const got = y.dataSync();
      const Wh = dequantizeWeight(q);
      for (let n = 0; n < 4; n++) {
        for (let o = 0; o < out; o++) {
          let ref = bias[o]!;
          for (let i = 0; i < inF; i++) ref += x[n * inF + i]! * Wh[o * inF + i]!;
          assert.ok(Math.abs(got[n * out + o]! - ref) < 1e-5, `(${n}, ${o}): ${got[n * out + o]} vs ${ref}`);
        }
      }
      y.dispose();
      assert.equal(tf.memory().numTensors, before);
      // resident bytes: packed codes (rounded up to words) + scales + bias (+ the 16-entry table)
      const codeBytes = 4 * Math.ceil(q.codes.length / 4);
      const extra = (scheme === 'nf4' ? 64 : 0) + 4 * out;
      const scaleBytes = doubleQuant ? 4 * Math.ceil(q.quantizedScales!.codes.length / 4) + 4 * q.quantizedScales!.step.length : 4 * q.scales!.length;
      assert.equal(layer.deviceBytes(), codeBytes + scaleBytes + extra);
      layer.dispose();
    });
  }

  it('quantizeDense keeps a Dense layer\'s outputs to within int8 rounding', async () => {
    const dense = tf.layers.dense({ units: 16, useBias: true, kernelInitializer: tf.initializers.randomNormal({ stddev: 0.1, seed: 1 }), biasInitializer: 'ones' });
    const x = tf.randomNormal([8, 32], 0, 1, 'float32', 2);
    const ref = dense.apply(x) as tf.Tensor;
    const q = await quantizeDense(dense, { bits: 'int8' });
    const y = q.apply(x) as tf.Tensor;
    const err = tf.tidy(() => y.sub(ref).abs().max().dataSync()[0]!);
    const scale = tf.tidy(() => ref.sub(1).abs().max().dataSync()[0]!);
    assert.ok(err < 0.02 * scale, `max error ${err} vs output scale ${scale}`);
    await assert.rejects(quantizeDense(tf.layers.layerNormalization({}), { bits: 'int8' }), /needs a Dense or Conv1D layer/);
    tf.dispose([x, ref, y]);
    q.dispose();
    dense.dispose();
  });

  describe('QLoRA', () => {
    let tree: LayerTree;
    let x: tf.Tensor2D;
    const paths = ['q_proj', 'v_proj', 'lm_head'];
    before(() => {
      tree = { layers: new Map() };
      paths.forEach((p, i) => {
        const d = tf.layers.dense({ units: 16, useBias: p !== 'lm_head', kernelInitializer: tf.initializers.randomNormal({ stddev: 0.1, seed: 10 + i }) });
        d.apply(tf.zeros([1, 16]));
        tree.layers.set(p, d);
      });
      x = tf.randomNormal([5, 16], 0, 1, 'float32', 3) as tf.Tensor2D;
    });
    after(() => {
      x.dispose();
      for (const l of tree.layers.values()) l.dispose();
    });

    it('quantizeBase quantises all but the head; injectLora wraps the targets, equals the quantised base at step 0, trains only A and B', async () => {
      const before = tf.memory().numTensors;
      const originals = paths.map((p) => tree.layers.get(p)!);
      const floatBytes = weightBytes(tree);
      const qb = await quantizeBase(tree, { bits: 'nf4' });
      assert.deepEqual(qb.modules, ['q_proj', 'v_proj']);
      assert.ok(tree.layers.get('v_proj') instanceof QuantizedDense);
      assert.equal(tree.layers.get('lm_head'), originals[2]); // the head stays float32
      const m = injectLora(tree, { r: 4, lora_alpha: 8, target_modules: ['q_proj'] });
      const q = tree.layers.get('q_proj') as LoraLayer;
      assert.ok(isLoraLayer(q) && q.kind === 'quantized');
      const diff = tf.tidy(() => (q.apply(x) as tf.Tensor).sub(q.base.apply(x) as tf.Tensor).abs().max().dataSync()[0]!);
      assert.equal(diff, 0); // B = 0
      assert.deepEqual(m.trainableVariables().map((v) => v.shape), [[4, 16], [16, 4]]);
      assert.equal(m.countParams().trainable, 4 * 16 * 2);
      assert.match(m.report(), /^trainable params: 128 \|\| all params: 928 \|\| trainable%: 13\.7931$/); // 2·(256 + 16) + 256 + 128
      assert.ok(weightBytes(tree) < floatBytes, `${weightBytes(tree)} vs ${floatBytes} float32 bytes`);
      // one gradient step reaches A and B only; the quantised base has no variables at all
      const { value, grads } = tf.variableGrads(() => (q.apply(x) as tf.Tensor).square().mean() as tf.Scalar, m.trainableVariables());
      assert.deepEqual(Object.keys(grads).sort(), m.trainableVariables().map((v) => v.name).sort());
      tf.dispose([value, ...Object.values(grads)]);
      m.unload();
      qb.restore();
      paths.forEach((p, i) => assert.equal(tree.layers.get(p), originals[i]));
      assert.equal(tf.memory().numTensors, before);
    });

    it('LoRA on a quantised base with an activation adds the update before it: act(x·Ŵᵀ + b + s·x·Aᵀ·Bᵀ)', async () => {
      const d = tf.layers.dense({ units: 8, activation: 'relu', kernelInitializer: tf.initializers.randomNormal({ stddev: 0.3, seed: 4 }) });
      d.apply(tf.zeros([1, 16]));
      const t: LayerTree = { layers: new Map([['up', d]]) };
      const qb = await quantizeBase(t, { bits: 'int8', target_modules: ['up'] });
      const m = injectLora(t, { r: 2, target_modules: ['up'], init_lora_weights: false });
      const l = t.layers.get('up') as LoraLayer;
      const a = l.adapter('default');
      const want = tf.tidy(() => {
        const W = l.baseWeight(); // Ŵ [out, in]
        return tf.relu(tf.matMul(x, W, false, true).add(tf.matMul(tf.matMul(x, a.lora_A.read(), false, true), a.lora_B.read(), false, true).mul(a.scaling)));
      });
      assert.ok(tf.tidy(() => (l.apply(x) as tf.Tensor).sub(want).abs().max().dataSync()[0]!) < 1e-5);
      m.unload();
      qb.restore();
      d.dispose();
    });

    it('refuses DoRA and PiSSA on a quantised base by name, and a quantisation target that matches nothing', async () => {
      const qb = await quantizeBase(tree, { bits: 'int8' });
      assert.throws(() => injectLora(tree, { target_modules: ['q_proj'], use_dora: true }), /DoRA is not implemented on a quantised base/);
      assert.throws(() => injectLora(tree, { target_modules: ['q_proj'], init_lora_weights: 'pissa' }), /PiSSA is not implemented on a quantised base/);
      assert.ok(!isLoraLayer(tree.layers.get('q_proj'))); // nothing changed
      qb.restore();
      await assert.rejects(quantizeBase(tree, { bits: 'int8', target_modules: ['k_proj'] }), /quantisation target 'k_proj' matched no layer/);
      assert.ok(!(tree.layers.get('q_proj') instanceof QuantizedDense));
    });
  });
});
