// What fine-tuning changed in a model's linear layers (Hu et al. 2021, §4.1 and §7, arXiv 2106.09685): every
// Dense weight read as W [out, in] (PyTorch's orientation; a TF.js Dense keeps the kernel K = Wᵀ [in, out]), the
// update ΔW = W_tuned − W₀ per layer with its singular values, and the model evaluated with every ΔW cut to its
// top k singular directions, W₀ + ΔW_k (ΔW_k the truncated SVD, the best rank-k part by Eckart–Young).
import * as tf from '@tensorflow/tfjs';
import { Matrix } from 'ml-matrix';
import type { LayerTree } from '../models/module.js';
import { frobeniusNorm, reconstruct, singularValues, svd, type Svd } from '../linalg/index.js';

/** The paths of a model's Dense layers (the linear layers LoRA adapts), in the model's order. */
export function denseLayerPaths(tree: LayerTree, include: (path: string) => boolean = () => true): string[] {
  return [...tree.layers].filter(([p, l]) => l.getClassName() === 'Dense' && include(p)).map(([p]) => p);
}

function denseKernel(tree: LayerTree, path: string): tf.LayerVariable {
  const layer = tree.layers.get(path);
  if (layer === undefined || layer.getClassName() !== 'Dense') {
    const dense = denseLayerPaths(tree);
    throw new Error(`no Dense layer at '${path}'; Dense layers are: ${dense.join(', ') || 'none'}`);
  }
  const kernel = layer.weights[0];
  if (kernel === undefined || kernel.shape.length !== 2) {
    throw new Error(`Dense layer '${path}' has no built 2-D kernel yet: run the model once (or build it) first`);
  }
  return kernel;
}

/**
 * Every Dense layer's weight (or those `include` accepts) as W [out, in], in float64, keyed by path. Reads with
 * `await array()`, so it works on every backend.
 */
export async function denseWeights(
  tree: LayerTree,
  include: (path: string) => boolean = () => true,
): Promise<Map<string, Matrix>> {
  const out = new Map<string, Matrix>();
  for (const p of denseLayerPaths(tree, include)) {
    const K = (await denseKernel(tree, p).read().array()) as number[][]; // [in, out]
    out.set(p, new Matrix(K).transpose()); // W = Kᵀ [out, in]
  }
  return out;
}

/** Writes each W [out, in] of `weights` into the Dense layer at its path (as the kernel Wᵀ); shapes checked first. */
export function writeDenseWeights(tree: LayerTree, weights: ReadonlyMap<string, Matrix>): void {
  for (const [p, W] of weights) {
    const [dIn, dOut] = denseKernel(tree, p).shape as [number, number];
    if (W.rows !== dOut || W.columns !== dIn) {
      throw new Error(
        `weight for '${p}' is ${W.rows}×${W.columns} but the layer's W is ${dOut}×${dIn} [out, in]: give W, not Wᵀ`,
      );
    }
  }
  for (const [p, W] of weights) {
    const kernel = tf.tensor2d(W.transpose().to2DArray(), [W.columns, W.rows], 'float32'); // K = Wᵀ [in, out]
    denseKernel(tree, p).write(kernel);
    kernel.dispose();
  }
}

/** ΔW = after − before for each path; both maps must hold the same paths and shapes. */
export function weightDeltas(
  before: ReadonlyMap<string, Matrix>,
  after: ReadonlyMap<string, Matrix>,
): Map<string, Matrix> {
  const onlyOne = [...before.keys()].filter((p) => !after.has(p));
  onlyOne.push(...[...after.keys()].filter((p) => !before.has(p)));
  if (onlyOne.length > 0) {
    throw new Error(`weightDeltas: paths in only one of the maps: ${onlyOne.join(', ')}: read both with one filter`);
  }
  const out = new Map<string, Matrix>();
  for (const [p, W0] of before) {
    const W = after.get(p)!;
    if (W.rows !== W0.rows || W.columns !== W0.columns) {
      throw new Error(`weightDeltas: '${p}' is ${W0.rows}×${W0.columns} before and ${W.rows}×${W.columns} after`);
    }
    out.set(p, Matrix.sub(W, W0)); // a fresh matrix: both inputs stay as they were
  }
  return out;
}

/** One layer's update: its singular values (descending) and its size relative to the weight it changed. */
export interface LayerUpdate {
  readonly path: string;
  /** d_out, d_in. */
  readonly rows: number;
  readonly columns: number;
  /** σᵢ(ΔW), descending, min(d_out, d_in) of them. */
  readonly sigma: Float64Array;
  /** ‖ΔW‖_F / ‖W₀‖_F. */
  readonly relativeNorm: number;
}

/** The spectrum of every update, in the order of `deltas`. */
export function updateSpectra(deltas: ReadonlyMap<string, Matrix>, base: ReadonlyMap<string, Matrix>): LayerUpdate[] {
  return [...deltas].map(([path, D]) => {
    const W0 = base.get(path);
    if (W0 === undefined) throw new Error(`updateSpectra: no base weight for '${path}': pass the W₀ of the deltas`);
    const relativeNorm = frobeniusNorm(D) / frobeniusNorm(W0);
    return { path, rows: D.rows, columns: D.columns, sigma: singularValues(D), relativeNorm };
  });
}

/**
 * For each k of `ks`: sets every layer in `deltas` to W₀ + ΔW_k (k = 0: W₀ itself; k past a layer's
 * min(d_out, d_in): its whole ΔW), then awaits `measure(k)`. Afterwards, also when `measure` throws, the layers hold
 * W₀ + ΔW again. Each ΔW is factored once.
 */
export async function truncatedUpdateSweep<T>(
  tree: LayerTree,
  base: ReadonlyMap<string, Matrix>,
  deltas: ReadonlyMap<string, Matrix>,
  ks: readonly number[],
  measure: (k: number) => Promise<T>,
): Promise<{ k: number; result: T }[]> {
  const bad = ks.filter((k) => !Number.isInteger(k) || k < 0);
  if (bad.length > 0) {
    throw new Error(`truncatedUpdateSweep: ranks k must be integers ≥ 0, got ${bad.join(', ')}: use e.g. [0, 2, 8]`);
  }
  const factors = new Map<string, Svd>();
  for (const [p, D] of deltas) {
    if (!base.has(p)) throw new Error(`truncatedUpdateSweep: no base weight for '${p}': pass the W₀ of the deltas`);
    factors.set(p, svd(D));
  }
  const weightsAt = (k: number) =>
    new Map(
      [...factors].map(([p, f]) => {
        const kk = Math.min(k, f.sigma.length);
        return [p, kk === 0 ? base.get(p)! : Matrix.add(reconstruct(f, kk), base.get(p)!)] as const;
      }),
    );
  const out: { k: number; result: T }[] = [];
  try {
    for (const k of ks) {
      writeDenseWeights(tree, weightsAt(k));
      out.push({ k, result: await measure(k) });
    }
  } finally {
    const tuned = [...deltas].map(([p, D]) => [p, Matrix.add(D, base.get(p)!)] as const); // W₀ + ΔW
    writeDenseWeights(tree, new Map(tuned));
  }
  return out;
}
