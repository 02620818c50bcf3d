// What fine-tuning changed, layer by layer: weights read as W [out, in] (= the TF.js kernel transposed), written
// back the same way, ΔW per layer and its spectrum, and the model run with every ΔW cut to rank k, held against
// W₀ + Σ_{i≤k} σᵢ·uᵢ·vᵢᵀ built from known factors, and against the layer's own output x·(W₀ + ΔW_k)ᵀ + b.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { Matrix } from 'ml-matrix';
import {
  denseLayerPaths,
  denseWeights,
  truncatedUpdateSweep,
  updateSpectra,
  weightDeltas,
  writeDenseWeights,
} from '../src/experiments/index.js';
import { frobeniusNorm, maxAbsDiff, prescribedSpectrum, randomGaussian } from '../src/linalg/index.js';
import { TinyMlp } from './helpers/tiny-mlp.js';

await tf.setBackend('cpu');

const kernelOf = async (m: TinyMlp, p: string) => (await m.layers.get(p)!.weights[0]!.read().array()) as number[][];

/** A rank-3 update of each layer of the tiny MLP, with its factors: ΔW = Σ σᵢ·uᵢ·vᵢᵀ. */
function plantedDeltas(W0: Map<string, Matrix>) {
  const planted = new Map<string, ReturnType<typeof prescribedSpectrum>>();
  let seed = 10;
  for (const [p, W] of W0) planted.set(p, prescribedSpectrum(W.rows, W.columns, [3, 2, 0.5], seed++));
  return { planted, deltas: new Map([...planted].map(([p, f]) => [p, f.M] as const)) };
}

/** W₀ + Σ_{i<k} σᵢ·uᵢ·vᵢᵀ from the planted factors, term by term. */
function rankK(W0: Matrix, f: ReturnType<typeof prescribedSpectrum>, k: number): Matrix {
  const out = W0.clone();
  for (let a = 0; a < Math.min(k, f.sigma.length); a++) {
    const u = f.U.getColumnVector(a);
    const v = f.V.getColumnVector(a);
    out.add(u.mmul(v.transpose()).mul(f.sigma[a]!));
  }
  return out;
}

describe('reading and writing Dense weights as W [out, in]', () => {
  it('reads every Dense layer (not the LayerNorm) as the transposed kernel', async () => {
    const m = new TinyMlp(1);
    assert.deepEqual(denseLayerPaths(m), ['encoder.q_proj', 'encoder.v_proj', 'lm_head']);
    assert.deepEqual(denseLayerPaths(m, (p) => p.startsWith('encoder.')), ['encoder.q_proj', 'encoder.v_proj']);
    const W = await denseWeights(m);
    assert.deepEqual([...W.keys()], ['encoder.q_proj', 'encoder.v_proj', 'lm_head']);
    const q = W.get('encoder.q_proj')!;
    assert.deepEqual([q.rows, q.columns], [12, 16], 'W is [out, in]; the kernel is [16, 12]');
    const K = await kernelOf(m, 'encoder.q_proj');
    assert.equal(maxAbsDiff(q, new Matrix(K).transpose()), 0);
    m.dispose();
  });

  it('writes W back so the layer computes x·Wᵀ + b, and checks every shape before writing any', async () => {
    const m = new TinyMlp(2);
    const before = tf.memory().numTensors;
    const W = randomGaussian(12, 12, 3); // v_proj: 12 → 12
    writeDenseWeights(m, new Map([['encoder.v_proj', W]]));
    assert.equal(tf.memory().numTensors, before, 'no tensor left behind');
    const back = (await denseWeights(m, (p) => p === 'encoder.v_proj')).get('encoder.v_proj')!;
    assert.ok(maxAbsDiff(back, W) < 1e-6, 'float32 round trip');
    const x = randomGaussian(4, 12, 4);
    const b = (await m.layers.get('encoder.v_proj')!.weights[1]!.read().array()) as number[];
    const y = tf.tidy(() => m.layers.get('encoder.v_proj')!.apply(tf.tensor2d(x.to2DArray())) as tf.Tensor);
    const expected = x.mmul(W.transpose()).addRowVector(b); // [4, 12]
    assert.ok(maxAbsDiff((await y.array()) as number[][], expected) < 1e-5);
    y.dispose();

    const q0 = await kernelOf(m, 'encoder.q_proj');
    const wrong = new Map([
      ['encoder.q_proj', randomGaussian(12, 16, 5)],
      ['lm_head', randomGaussian(12, 5, 6)], // the kernel's shape, not W's
    ]);
    assert.throws(() => writeDenseWeights(m, wrong), /weight for 'lm_head' is 12×5 but the layer's W is 5×12 \[out, in\]/);
    assert.deepEqual(await kernelOf(m, 'encoder.q_proj'), q0, 'nothing was written');
    assert.throws(() => writeDenseWeights(m, new Map([['norm', W]])), /no Dense layer at 'norm'; Dense layers are: encoder\.q_proj/);
    m.dispose();
  });
});

describe('updates and their spectra', () => {
  it('ΔW = after − before, inputs untouched; mismatched maps are an error naming the paths', () => {
    const a = new Map([['x', randomGaussian(3, 2, 1)]]);
    const b = new Map([['x', randomGaussian(3, 2, 2)]]);
    const a0 = a.get('x')!.clone();
    const d = weightDeltas(a, b).get('x')!;
    assert.ok(maxAbsDiff(d, Matrix.sub(b.get('x')!, a0)) < 1e-15);
    assert.equal(maxAbsDiff(a.get('x')!, a0), 0);
    assert.throws(() => weightDeltas(a, new Map([['y', randomGaussian(3, 2, 3)]])), /only one of the maps: x, y/);
    assert.throws(() => weightDeltas(a, new Map([['x', randomGaussian(2, 3, 3)]])), /'x' is 3×2 before and 2×3 after/);
  });

  it("a planted rank-3 update shows 3 non-zero singular values, and its norm relative to W₀'s", async () => {
    const m = new TinyMlp(3);
    const W0 = await denseWeights(m);
    const { deltas, planted } = plantedDeltas(W0);
    const spectra = updateSpectra(deltas, W0);
    assert.deepEqual(spectra.map((s) => s.path), [...W0.keys()]);
    for (const s of spectra) {
      assert.equal(s.sigma.length, Math.min(s.rows, s.columns));
      assert.ok(Math.abs(s.sigma[0]! - 3) < 1e-9 && Math.abs(s.sigma[2]! - 0.5) < 1e-9);
      assert.ok(s.sigma[3]! < 1e-9, `${s.path}: σ₄ = ${s.sigma[3]}`);
      const expected = frobeniusNorm(planted.get(s.path)!.M) / frobeniusNorm(W0.get(s.path)!);
      assert.ok(Math.abs(s.relativeNorm - expected) < 1e-12);
    }
    assert.throws(() => updateSpectra(deltas, new Map()), /no base weight for 'encoder\.q_proj'/);
    m.dispose();
  });
});

describe('truncatedUpdateSweep', () => {
  it('runs the model at W₀ + ΔW_k for each k, then leaves W₀ + ΔW in place, with no tensor left behind', async () => {
    const m = new TinyMlp(4);
    const W0 = await denseWeights(m);
    const { deltas, planted } = plantedDeltas(W0);
    const x = randomGaussian(5, 16, 7);
    const xt = tf.tensor2d(x.to2DArray());
    const before = tf.memory().numTensors;
    const rows = await truncatedUpdateSweep(m, W0, deltas, [0, 1, 2, 3, 50], async (k) => {
      const held = await denseWeights(m);
      // the weights in the layers are exactly the rank-k truncation (to float32)
      const err = Math.max(...[...held].map(([p, W]) => maxAbsDiff(W, rankK(W0.get(p)!, planted.get(p)!, k))));
      // and the layer computes with them: encoder.q_proj's pre-activation output x·(W₀ + ΔW_k)ᵀ + b
      const b = (await m.layers.get('encoder.q_proj')!.weights[1]!.read().array()) as number[];
      const lin = x.mmul(rankK(W0.get('encoder.q_proj')!, planted.get('encoder.q_proj')!, k).transpose()).addRowVector(b);
      const y = m.layers.get('encoder.q_proj')!.apply(xt) as tf.Tensor; // relu(x·Wᵀ + b)
      const relu = lin.to2DArray().map((row) => row.map((v) => Math.max(0, v)));
      const outErr = maxAbsDiff((await y.array()) as number[][], relu);
      y.dispose();
      return { err, outErr };
    });
    assert.deepEqual(rows.map((r) => r.k), [0, 1, 2, 3, 50]);
    for (const { k, result } of rows) {
      assert.ok(result.err < 1e-6, `k = ${k}: weights off by ${result.err}`);
      assert.ok(result.outErr < 1e-5, `k = ${k}: layer output off by ${result.outErr}`);
    }
    const after = await denseWeights(m);
    for (const [p, W] of after) assert.ok(maxAbsDiff(W, Matrix.add(W0.get(p)!, deltas.get(p)!)) < 1e-6, p);
    assert.equal(tf.memory().numTensors, before);
    xt.dispose();
    m.dispose();
  });

  it('puts W₀ + ΔW back when the measurement throws, and refuses negative or fractional k', async () => {
    const m = new TinyMlp(5);
    const W0 = await denseWeights(m);
    const { deltas } = plantedDeltas(W0);
    await assert.rejects(
      truncatedUpdateSweep(m, W0, deltas, [1], async () => {
        throw new Error('evaluation failed');
      }),
      /evaluation failed/,
    );
    const after = await denseWeights(m);
    for (const [p, W] of after) assert.ok(maxAbsDiff(W, Matrix.add(W0.get(p)!, deltas.get(p)!)) < 1e-6, p);
    await assert.rejects(truncatedUpdateSweep(m, W0, deltas, [2, -1, 1.5], async () => 0), /integers ≥ 0, got -1, 1\.5/);
    m.dispose();
  });
});
