// Combining LoRA adapters into a new one, as PEFT's LoraModel.add_weighted_adapter (tuners/lora/model.py) with
// combination_type "cat", "linear" or "svd". Sources i have ΔW_i = s_i·B_i·A_i (s_i = scaling, A_i [r_i, in],
// B_i [out, r_i]) and weights w_i; the result has r = lora_alpha = new rank, so its scaling is 1.
//   cat:    A = [w_1·s_1·A_1; w_2·s_2·A_2; ...], B = [B_1 B_2 ...]  ⇒ B·A = Σ w_i·ΔW_i exactly, rank Σ r_i.
//   linear: A = Σ √(w_i·s_i)·A_i, B = Σ √(w_i·s_i)·B_i (equal ranks) ⇒ B·A = Σ w_i·ΔW_i + cross terms B_i·A_j.
//   svd:    Σ w_i·ΔW_i = U·diag(σ)·Vᵀ truncated to rank k: B = U_k·diag(σ_k), A = V_kᵀ (Eckart–Young optimal).
// (PEFT's svd path multiplies each source's scaling in once more, w_i·s_i·ΔW_i; with lora_alpha = r, s_i = 1 and
// the two agree. Here the combined update is the weighted sum of the sources' actual updates.) Every LoRA layer kind
// combines alike (an embedding's in = V, out = d); DoRA adapters are refused by name (their magnitudes do not add).
import * as tf from '@tensorflow/tfjs';
import { Matrix } from 'ml-matrix';
import { svd } from '../linalg/index.js';
import type { LoraConfig } from './config.js';
import type { LoraModel } from './model.js';

export type CombinationType = 'cat' | 'linear' | 'svd';

/** One adapter of one layer, PEFT orientation. */
export interface LoraFactors {
  lora_A: Matrix; // [r, in]
  lora_B: Matrix; // [out, r]
  /** α/r (or α/√r): ΔW = scaling·B·A. */
  scaling: number;
}

export interface CombineOptions {
  /** @default 'svd' (PEFT's default) */
  combination_type?: CombinationType;
  /** Rank of an 'svd' result. @default the largest source rank (PEFT) */
  svd_rank?: number;
}

function checkParts(parts: readonly LoraFactors[], weights: readonly number[]): void {
  if (parts.length === 0) throw new Error('nothing to combine: give at least one adapter');
  if (weights.length !== parts.length) {
    throw new Error(`${parts.length} adapters but ${weights.length} weights: give one weight per adapter`);
  }
  weights.forEach((w, i) => {
    if (!Number.isFinite(w)) throw new Error(`weight ${i} is ${w}: weights must be finite numbers`);
  });
  const [out, inF] = [parts[0]!.lora_B.rows, parts[0]!.lora_A.columns];
  parts.forEach((p, i) => {
    if (p.lora_A.rows !== p.lora_B.columns) {
      throw new Error(`adapter ${i}: lora_A is [${p.lora_A.rows}, ${p.lora_A.columns}] but lora_B is [${p.lora_B.rows}, ${p.lora_B.columns}]: A's rows and B's columns are both r`);
    }
    if (p.lora_A.columns !== inF || p.lora_B.rows !== out) {
      throw new Error(`adapter ${i} is for a [${p.lora_B.rows}, ${p.lora_A.columns}] weight but adapter 0 for [${out}, ${inF}]: combine adapters of the same layer`);
    }
    if (!Number.isFinite(p.scaling)) throw new Error(`adapter ${i} has scaling ${p.scaling}`);
  });
}

/** Σ w_i·s_i·B_i·A_i [out, in]: what a combination should add to the base weight. */
export function weightedDelta(parts: readonly LoraFactors[], weights: readonly number[]): Matrix {
  checkParts(parts, weights);
  const out = Matrix.zeros(parts[0]!.lora_B.rows, parts[0]!.lora_A.columns);
  parts.forEach((p, i) => out.add(p.lora_B.mmul(p.lora_A).mul(weights[i]! * p.scaling)));
  return out;
}

/** The combined adapter's lora_A [k, in] and lora_B [out, k]; its scaling is 1 (r = lora_alpha = k). */
export function combineFactors(
  parts: readonly LoraFactors[],
  weights: readonly number[],
  options: CombineOptions = {},
): { lora_A: Matrix; lora_B: Matrix } {
  checkParts(parts, weights);
  const type = options.combination_type ?? 'svd';
  const ranks = parts.map((p) => p.lora_A.rows);
  if (type === 'cat') {
    const A = new Matrix(ranks.reduce((a, b) => a + b, 0), parts[0]!.lora_A.columns);
    const B = new Matrix(parts[0]!.lora_B.rows, A.rows);
    let row = 0;
    parts.forEach((p, i) => {
      A.setSubMatrix(p.lora_A.clone().mul(weights[i]! * p.scaling), row, 0);
      B.setSubMatrix(p.lora_B, 0, row);
      row += p.lora_A.rows;
    });
    return { lora_A: A, lora_B: B };
  }
  if (type === 'linear') {
    if (new Set(ranks).size !== 1) {
      throw new Error(`combination_type 'linear' needs equal ranks, got r = ${ranks.join(', ')}: use 'cat' or 'svd'`);
    }
    const A = Matrix.zeros(ranks[0]!, parts[0]!.lora_A.columns);
    const B = Matrix.zeros(parts[0]!.lora_B.rows, ranks[0]!);
    parts.forEach((p, i) => {
      const ws = weights[i]! * p.scaling;
      if (ws < 0) throw new Error(`combination_type 'linear' takes √(weight·scaling), but adapter ${i} has weight·scaling = ${ws} < 0: use 'cat' or 'svd' for negative weights`);
      A.add(p.lora_A.clone().mul(Math.sqrt(ws)));
      B.add(p.lora_B.clone().mul(Math.sqrt(ws)));
    });
    return { lora_A: A, lora_B: B };
  }
  if (type === 'svd') {
    const delta = weightedDelta(parts, weights); // [out, in]
    const k = options.svd_rank ?? Math.max(...ranks);
    const kMax = Math.min(delta.rows, delta.columns);
    if (!Number.isInteger(k) || k < 1 || k > kMax) {
      throw new Error(`svd_rank must be an integer in 1..${kMax} (min(out, in)), got ${k}`);
    }
    const f = svd(delta); // delta = U·diag(σ)·Vᵀ
    const B = new Matrix(delta.rows, k);
    const A = new Matrix(k, delta.columns);
    for (let j = 0; j < k; j++) {
      for (let o = 0; o < delta.rows; o++) B.set(o, j, f.U.get(o, j) * f.sigma[j]!); // U_k·diag(σ_k)
      for (let c = 0; c < delta.columns; c++) A.set(j, c, f.V.get(c, j)); // V_kᵀ
    }
    return { lora_A: A, lora_B: B };
  }
  throw new Error(`combination_type must be 'cat', 'linear' or 'svd', got ${JSON.stringify(type)}`);
}

/** The rank a combination produces (PEFT's rule). */
export function combinedRank(ranks: readonly number[], options: CombineOptions = {}): number {
  const type = options.combination_type ?? 'svd';
  if (type === 'cat') return ranks.reduce((a, b) => a + b, 0);
  if (type === 'linear') return ranks[0]!;
  return options.svd_rank ?? Math.max(...ranks);
}

async function variableMatrix(v: tf.LayerVariable): Promise<Matrix> {
  const [rows, cols] = v.shape as [number, number];
  const data = await v.read().data();
  const m = new Matrix(rows, cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) m.set(i, j, data[i * cols + j]!);
  return m;
}

/**
 * Adds adapter `adapterName` to `model`, the combination of `adapters` with `weights` (PEFT's add_weighted_adapter).
 * Its config is the first source's with r = lora_alpha = the new rank (scaling 1), no rsLoRA or DoRA, and the
 * union of the sources' targets; a layer missing a source counts that source as ΔW = 0 there.
 * The active adapter does not change: setAdapter(adapterName) to use it.
 */
export async function addWeightedAdapter(
  model: LoraModel,
  adapters: readonly string[],
  weights: readonly number[],
  adapterName: string,
  options: CombineOptions = {},
): Promise<void> {
  if (adapters.length === 0) throw new Error('add_weighted_adapter needs at least one source adapter');
  if (weights.length !== adapters.length) throw new Error(`${adapters.length} adapters but ${weights.length} weights: give one weight per adapter`);
  if (model.adapterNames.includes(adapterName)) {
    throw new Error(`adapter '${adapterName}' already exists: pick another name or deleteAdapter('${adapterName}') first`);
  }
  const configs: LoraConfig[] = adapters.map((a) => model.config(a)); // throws listing the adapters
  configs.forEach((c, i) => {
    if (c.use_dora) throw new Error(`adapter '${adapters[i]}' uses DoRA, whose magnitude vector cannot be combined: combine plain LoRA adapters`);
  });
  if (model.merged) throw new Error(`adapters are merged: unmerge() before combining`);
  // PEFT: a single source is always combined 'linear'.
  const type: CombinationType = adapters.length === 1 ? 'linear' : (options.combination_type ?? 'svd');
  const rank = combinedRank(configs.map((c) => c.r), { ...options, combination_type: type });

  // Read every layer's sources first, compute, and only then change the model.
  const plan = new Map<string, { lora_A: Matrix; lora_B: Matrix }>();
  for (const [path, layer] of model.loraLayers()) {
    const present = adapters.map((a, i) => ({ a, i })).filter(({ a }) => layer.adapterNames.includes(a));
    if (present.length === 0) continue;
    const parts: LoraFactors[] = [];
    for (const { a } of present) {
      const w = layer.adapter(a);
      parts.push({ lora_A: await variableMatrix(w.lora_A), lora_B: await variableMatrix(w.lora_B), scaling: w.scaling });
    }
    const pw = present.map(({ i }) => weights[i]!);
    // 'cat' keeps every source's rank slot: a missing source contributes zero rows/columns.
    if (type === 'cat' && present.length < adapters.length) {
      const full: LoraFactors[] = adapters.map((a, i) => {
        const j = present.findIndex((p) => p.i === i);
        if (j >= 0) return parts[j]!;
        return { lora_A: Matrix.zeros(configs[i]!.r, layer.inFeatures), lora_B: Matrix.zeros(layer.outFeatures, configs[i]!.r), scaling: 0 };
      });
      plan.set(path, combineFactors(full, weights, { combination_type: 'cat' }));
      continue;
    }
    if (type === 'svd') {
      const kMax = Math.min(layer.inFeatures, layer.outFeatures);
      if (rank > kMax) throw new Error(`svd_rank ${rank} exceeds min(in, out) = ${kMax} at '${path}': lower svd_rank`);
    }
    plan.set(path, combineFactors(parts, pw, { combination_type: type, svd_rank: rank }));
  }
  if (plan.size === 0) throw new Error(`no layer holds any of ${adapters.join(', ')}`);

  const first = configs[0]!;
  const allLists = configs.every((c) => typeof c.target_modules !== 'string');
  const target_modules = allLists ? [...new Set(configs.flatMap((c) => [...(c.target_modules as readonly string[])]))] : [...plan.keys()];
  model.addAdapter(adapterName, {
    ...first,
    r: rank,
    lora_alpha: rank,
    use_rslora: false,
    use_dora: false,
    init_lora_weights: true,
    target_modules,
  });
  for (const [path, layer] of model.loraLayers()) {
    if (!layer.adapterNames.includes(adapterName)) continue;
    const w = layer.adapter(adapterName);
    const p = plan.get(path);
    tf.tidy(() => {
      w.lora_A.write(p ? tf.tensor2d(p.lora_A.to2DArray(), [rank, layer.inFeatures]) : tf.zeros([rank, layer.inFeatures]));
      w.lora_B.write(p ? tf.tensor2d(p.lora_B.to2DArray(), [layer.outFeatures, rank]) : tf.zeros([layer.outFeatures, rank]));
    });
  }
}

/** ΔW of adapter `name` at every LoRA layer, as float64 matrices [out, in] (reads with `await data()`). */
export async function adapterDeltas(model: LoraModel, name: string): Promise<Map<string, Matrix>> {
  const out = new Map<string, Matrix>();
  for (const [path, layer] of model.loraLayers()) {
    if (!layer.adapterNames.includes(name)) continue;
    const d = layer.deltaWeight(name);
    const m = new Matrix((await d.array()) as number[][]);
    d.dispose();
    out.set(path, m);
  }
  return out;
}
