// Adapter combination: 'cat' is the exact weighted sum, 'svd' its Eckart–Young truncation, 'linear' PEFT's A/B mix
// with its cross terms; add_weighted_adapter on a LoraModel. Leak-checked.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { Matrix } from 'ml-matrix';
import { addWeightedAdapter, adapterDeltas, combineFactors, weightedDelta, type LoraFactors } from '../src/lora/combine.js';
import { injectLora } from '../src/lora/model.js';
import { singularValues } from '../src/linalg/index.js';
import type { LayerTree } from '../src/models/module.js';

function rand(rows: number, cols: number, seed: number): Matrix {
  let s = seed >>> 0;
  const m = new Matrix(rows, cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      m.set(i, j, s / 4294967296 - 0.5);
    }
  }
  return m;
}

function factors(r: number, out: number, inF: number, scaling: number, seed: number): LoraFactors {
  return { lora_A: rand(r, inF, seed), lora_B: rand(out, r, seed + 1), scaling };
}

const maxDiff = (a: Matrix, b: Matrix) => Math.max(...a.clone().sub(b).abs().to1DArray());

describe('combine (plain matrices)', () => {
  const p1 = factors(2, 7, 5, 2, 1); // α/r = 2
  const p2 = factors(3, 7, 5, 0.5, 7);
  const w = [0.7, -1.3];

  it("'cat' stacks w_i·s_i·A_i and B_i: B·A is exactly Σ w_i·s_i·B_i·A_i, rank r1 + r2", () => {
    const { lora_A, lora_B } = combineFactors([p1, p2], w, { combination_type: 'cat' });
    assert.deepEqual([lora_A.rows, lora_A.columns, lora_B.rows, lora_B.columns], [5, 5, 7, 5]);
    const ref = p1.lora_B.mmul(p1.lora_A).mul(w[0]! * 2).add(p2.lora_B.mmul(p2.lora_A).mul(w[1]! * 0.5));
    assert.ok(maxDiff(lora_B.mmul(lora_A), ref) < 1e-12);
    assert.ok(maxDiff(weightedDelta([p1, p2], w), ref) < 1e-12);
  });

  it("'svd' at rank ≥ r1 + r2 is exact; below, its error is √(Σ dropped σ²) of the weighted sum (Eckart–Young)", () => {
    const target = weightedDelta([p1, p2], w);
    const full = combineFactors([p1, p2], w, { combination_type: 'svd', svd_rank: 5 });
    assert.ok(maxDiff(full.lora_B.mmul(full.lora_A), target) < 1e-10);
    const sigma = singularValues(target);
    const k2 = combineFactors([p1, p2], w, { combination_type: 'svd', svd_rank: 2 });
    const err = k2.lora_B.mmul(k2.lora_A).sub(target).norm('frobenius');
    const dropped = Math.sqrt(Array.from(sigma).slice(2).reduce((s, x) => s + x * x, 0));
    assert.ok(Math.abs(err - dropped) < 1e-10, `${err} vs ${dropped}`);
    // default rank: the largest source rank (PEFT)
    assert.equal(combineFactors([p1, p2], w).lora_A.rows, 3);
  });

  it("'linear' mixes A's and B's by √(w·s): exact for one adapter, cross terms for two", () => {
    const q1 = factors(3, 7, 5, 1, 3);
    const one = combineFactors([q1], [0.6], { combination_type: 'linear' });
    assert.ok(maxDiff(one.lora_B.mmul(one.lora_A), q1.lora_B.mmul(q1.lora_A).mul(0.6)) < 1e-12);
    const q2 = factors(3, 7, 5, 1, 9);
    const two = combineFactors([q1, q2], [0.5, 0.5], { combination_type: 'linear' });
    const mixed = q1.lora_B.clone().add(q2.lora_B).mmul(q1.lora_A.clone().add(q2.lora_A)).mul(0.5);
    assert.ok(maxDiff(two.lora_B.mmul(two.lora_A), mixed) < 1e-12);
    const exact = weightedDelta([q1, q2], [0.5, 0.5]);
    assert.ok(maxDiff(two.lora_B.mmul(two.lora_A), exact) > 1e-3); // the cross terms B1·A2 + B2·A1
  });

  it('rejects what PEFT rejects, saying why', () => {
    assert.throws(() => combineFactors([p1, p2], w, { combination_type: 'linear' }), /'linear' needs equal ranks, got r = 2, 3/);
    assert.throws(() => combineFactors([p1, factors(2, 7, 5, 1, 3)], [1, -1], { combination_type: 'linear' }), /weight·scaling = -1 < 0/);
    assert.throws(() => combineFactors([p1, p2], [1]), /2 adapters but 1 weights/);
    assert.throws(() => combineFactors([p1, factors(2, 6, 5, 1, 3)], [1, 1]), /adapter 1 is for a \[6, 5\] weight but adapter 0 for \[7, 5\]/);
    assert.throws(() => combineFactors([p1, p2], w, { combination_type: 'svd', svd_rank: 6 }), /svd_rank must be an integer in 1\.\.5/);
    assert.throws(() => combineFactors([p1], [1], { combination_type: 'ties' as 'svd' }), /must be 'cat', 'linear' or 'svd'/);
  });
});

describe('add_weighted_adapter on a LoraModel', () => {
  let tree: LayerTree;
  before(async () => {
    await tf.setBackend('cpu');
    tree = { layers: new Map() };
    ['q_proj', 'k_proj', 'v_proj'].forEach((p, i) => {
      const d = tf.layers.dense({ units: 12, kernelInitializer: tf.initializers.randomNormal({ stddev: 0.1, seed: i }) });
      d.apply(tf.zeros([1, 10]));
      tree.layers.set(p, d);
    });
  });
  after(() => {
    for (const l of tree.layers.values()) l.dispose();
  });

  it("makes a scaling-1 adapter whose ΔW is the weighted sum ('cat', missing layers count as 0) and leaves the sources alone", async () => {
    const before = tf.memory().numTensors;
    const m = injectLora(tree, { r: 2, lora_alpha: 4, target_modules: ['q_proj', 'v_proj'], init_lora_weights: false, seed: 1 }, 'a');
    m.addAdapter('b', { r: 3, lora_alpha: 3, target_modules: ['q_proj', 'k_proj'], init_lora_weights: false, seed: 2 });
    const da = await adapterDeltas(m, 'a');
    const db = await adapterDeltas(m, 'b');
    await addWeightedAdapter(m, ['a', 'b'], [0.5, 2], 'ab', { combination_type: 'cat' });
    assert.equal(m.config('ab').r, 5);
    assert.equal(m.config('ab').lora_alpha, 5);
    assert.deepEqual([...m.config('ab').target_modules].sort(), ['k_proj', 'q_proj', 'v_proj']);
    assert.equal(m.activeAdapter, 'a'); // unchanged, as in PEFT
    const dab = await adapterDeltas(m, 'ab');
    for (const p of ['q_proj', 'k_proj', 'v_proj']) {
      const ref = Matrix.zeros(12, 10);
      if (da.has(p)) ref.add(da.get(p)!.clone().mul(0.5));
      if (db.has(p)) ref.add(db.get(p)!.clone().mul(2));
      assert.ok(maxDiff(dab.get(p)!, ref) < 1e-5, p);
    }
    // svd at the default rank (max r = 3) is the best rank-3 approximation of the same sum
    await addWeightedAdapter(m, ['a', 'b'], [0.5, 2], 'ab_svd', { combination_type: 'svd' });
    const dsvd = await adapterDeltas(m, 'ab_svd');
    const q = dab.get('q_proj')!;
    const tail = Math.sqrt(Array.from(singularValues(q)).slice(3).reduce((s, x) => s + x * x, 0));
    assert.ok(Math.abs(dsvd.get('q_proj')!.clone().sub(q).norm('frobenius') - tail) < 1e-4);
    // outputs: the combined adapter equals base + Σ w_i·ΔW_i
    m.setAdapter('ab');
    const x = tf.randomNormal([4, 10], 0, 1, 'float32', 5);
    const y = tree.layers.get('v_proj')!.apply(x) as tf.Tensor;
    m.disableAdapters();
    const base = tree.layers.get('v_proj')!.apply(x) as tf.Tensor;
    m.enableAdapters();
    const want = tf.tidy(() => base.add(tf.matMul(x, tf.tensor2d(da.get('v_proj')!.to2DArray()), false, true).mul(0.5)));
    const d = tf.tidy(() => y.sub(want).abs().max().dataSync()[0]!);
    assert.ok(d < 1e-5, `max |Δ| ${d}`);
    tf.dispose([x, y, base, want]);
    await assert.rejects(addWeightedAdapter(m, ['a', 'nope'], [1, 1], 'c'), /no adapter 'nope'/);
    await assert.rejects(addWeightedAdapter(m, ['a'], [1], 'b'), /adapter 'b' already exists/);
    await assert.rejects(addWeightedAdapter(m, ['a', 'b'], [1, 1], 'lin', { combination_type: 'linear' }), /'linear' needs equal ranks, got r = 2, 3/);
    m.unload();
    assert.equal(tf.memory().numTensors, before);
  });
});
