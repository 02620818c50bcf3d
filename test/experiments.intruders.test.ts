// Intruder dimensions against matrices built with known singular vectors: W′ = W₀ has none and every cosine 1; a
// large update along a direction outside W₀'s column space is one intruder with cosine 0; one along the bisector of
// two of W₀'s directions has best cosine 1/√2; the chance level sits near √(2 ln d / d) for a full basis.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix } from 'ml-matrix';
import { chanceMaxCosine, intruderDimensions, intrudersByLayer } from '../src/experiments/intruders.js';
import { randomOrthogonal } from '../src/linalg/index.js';

// W₀ = U·diag(σ)·Vᵀ [8, 6]: its left singular vectors span 6 of ℝ⁸'s 8 dimensions; Q's last 2 columns are outside.
const Q = randomOrthogonal(8, 3); // [8, 8]
const U = Q.subMatrix(0, 7, 0, 5); // [8, 6]
const V = randomOrthogonal(6, 4); // [6, 6]
const sigma = [6, 5, 4, 3, 2, 1];
const W0 = U.mmul(Matrix.diag(sigma)).mmul(V.transpose()); // [8, 6]
const outer = (u: Matrix, v: Matrix, s: number) => u.mmul(v.transpose()).mul(s);

describe('intruderDimensions()', () => {
  it('finds none when W′ = W₀: each singular vector matches itself', () => {
    const a = intruderDimensions(W0, W0, { k: 6 });
    a.maxCosine.forEach((c) => assert.ok(Math.abs(c - 1) < 1e-9, `${c}`));
    assert.equal(a.intruders, 0);
    a.sigma.forEach((s, i) => assert.ok(Math.abs(s - sigma[i]!) < 1e-9));
  });

  it('a large update into a direction W₀ cannot produce is one intruder, at the top, with the predicted cosine', () => {
    // u ⊥ range(W₀), so W′ᵀW′ = W₀ᵀW₀ + s²·v₆v₆ᵀ: W′'s top pair is v₆ with σ = √(σ₆² + s²), and its left vector
    // (σ₆·u₆ + s·u)/σ has cosine σ₆/σ with u₆ and 0 with every other uᵢ.
    const s = 20;
    const u = Q.getColumnVector(6); // orthogonal to every column of U
    const W = Matrix.add(W0, outer(u, V.getColumnVector(5), s)); // [8, 6]
    const a = intruderDimensions(W0, W, { k: 3, threshold: 0.5 });
    const top = Math.hypot(sigma[5]!, s);
    assert.ok(Math.abs(a.sigma[0]! - top) < 1e-9, `${a.sigma[0]}`);
    assert.ok(Math.abs(a.maxCosine[0]! - sigma[5]! / top) < 1e-9, `${a.maxCosine[0]}`);
    assert.ok(Math.abs(a.maxCosine[1]! - 1) < 1e-9 && Math.abs(a.maxCosine[2]! - 1) < 1e-9); // u₁, u₂ untouched
    assert.equal(a.intruders, 1);
  });

  it('an update along the bisector of u₃ and u₄ has best cosine 1/√2 (the threshold decides)', () => {
    const u = Matrix.add(U.getColumnVector(2), U.getColumnVector(3)).div(Math.SQRT2);
    const v = Q.subMatrix(0, 5, 7, 7); // any unit vector of ℝ⁶ will do: take one with no special alignment
    const vn = v.div(v.norm());
    const W = Matrix.add(W0, outer(u, vn, 1e4)); // so large that W′'s top direction is u to ~1e-3
    const a = intruderDimensions(W0, W, { k: 1, threshold: 0.8 });
    assert.ok(Math.abs(a.maxCosine[0]! - Math.SQRT1_2) < 2e-3, `${a.maxCosine[0]}`);
    assert.equal(a.intruders, 1);
    assert.equal(intruderDimensions(W0, W, { k: 1, threshold: 0.6 }).intruders, 0);
  });

  it('names mismatched shapes and bad options', () => {
    assert.throws(() => intruderDimensions(W0, W0.transpose()), /W0 is 8×6 but W′ is 6×8/);
    assert.throws(() => intruderDimensions(W0, W0, { k: 7 }), /k must be an integer in 1..6/);
    assert.throws(() => intruderDimensions(W0, W0, { k: 3, threshold: 0 }), /threshold must be in \(0, 1\]/);
  });
});

describe('intrudersByLayer()', () => {
  it('analyses each tuned layer against the base of the same path, and names a missing one', () => {
    const W = Matrix.add(W0, outer(Q.getColumnVector(6), V.getColumnVector(5), 20));
    const base = new Map([['a', W0], ['b', W0]]);
    const out = intrudersByLayer(base, new Map([['b', W], ['a', W0]]), { k: 2 });
    assert.deepEqual([...out.keys()], ['b', 'a']);
    assert.deepEqual([out.get('b')!.intruders, out.get('a')!.intruders], [1, 0]);
    assert.deepEqual(out.get('b'), intruderDimensions(W0, W, { k: 2 })); // the remembered basis gives the same
    assert.throws(() => intrudersByLayer(base, new Map([['c', W0]])), /no base weight for 'c'; base has: a, b/);
  });
});

describe('chanceMaxCosine()', () => {
  it('random unit vectors against a full basis of ℝ¹²⁸ have best cosines near √(2 ln d / d), never below 1/√d', () => {
    const d = 128;
    const W = randomOrthogonal(d, 5).mmul(Matrix.diag(Array.from({ length: d }, (_, i) => d - i)));
    const c = chanceMaxCosine(W, 300, 1);
    assert.equal(c.length, 300);
    assert.ok(c.every((x) => x >= 1 / Math.sqrt(d) - 1e-12 && x < 0.5), `${Math.min(...c)}–${Math.max(...c)}`);
    const mean = c.reduce((s, x) => s + x, 0) / c.length;
    assert.ok(Math.abs(mean - Math.sqrt((2 * Math.log(d)) / d)) < 0.05, `mean ${mean}`);
    assert.deepEqual(chanceMaxCosine(W, 300, 1), c); // seeded
  });
});
