// One fine-tuning run of a GPT by LoRA or by full fine-tuning, measured as it goes: after each evaluation step, the
// masked loss and exact match on the target task and on probes of what the base could already do (forgetting), as
// Biderman et al. 2024 ("LoRA Learns Less and Forgets Less", arXiv 2405.09673, §3–4) measure both along training.
// Weights are read as W [out, in] (PyTorch's orientation; a TF.js Dense kernel is K = Wᵀ [in, out]).
import * as tf from '@tensorflow/tfjs';
import { Matrix } from 'ml-matrix';
import type { Gpt } from '../models/gpt.js';
import { batchAt } from '../data/batch.js';
import { mixSeed } from '../data/rng.js';
import { makeExamples, type Example } from '../data/tasks.js';
import { lmLoss } from '../train/sft.js';
import { train } from '../train/loop.js';
import type { Adam } from '../train/adam.js';
import { scoreAnswers } from '../train/eval.js';
import { allVariables } from '../train/params.js';
import { countParams } from '../train/memory.js';
import { injectLora, type LoraModel } from '../lora/model.js';
import { isLoraLayer } from '../lora/lora-layer.js';
import { loraConfig, type LoraConfigInput } from '../lora/config.js';
import { isQuantized } from '../quant/base.js';
import { denseLayerPaths } from './weight-update.js';
import type { ExperimentOptions } from './experiment.js';
import { snapshotModel } from './snapshot.js';

/** What is trained: a LoRA adapter (PEFT's config fields), or every weight of the model. */
export type FineTuneMethod = { method: 'lora'; lora: LoraConfigInput } | { method: 'full' };

/**
 * model, tokenizer, steps, batchSize and warmupSteps as in runExperiment(); `task` is also scored as probe 'target'
 * on its fixed validation examples.
 */
export interface FineTuneOptions
  extends Pick<ExperimentOptions, 'model' | 'tokenizer' | 'task' | 'steps' | 'batchSize' | 'warmupSteps'> {
  /** Learning rate (Adam), constant after the warm-up, so the state after step s is that of an s-step run. */
  lr: number;
  /** Seeds the data order, dropout and (LoRA) the initialisation of lora_A. @default 0 */
  seed?: number;
  /** Also score the probes after each of these steps (the base, step 0, and the last step are always scored). */
  evalSteps?: readonly number[];
  /** Example sets scored besides the target (e.g. the base's own task on prompts the target never shows). */
  probes?: Readonly<Record<string, readonly Example[]>>;
  /** Validation examples of the target task (split 'val', seed 1). @default 64 */
  valExamples?: number;
}

/** Loss (nats per answer token) and greedy exact match of one example set. */
export interface ProbeScore {
  loss: number;
  exactMatch: number;
}

/** The scores of every probe after `step` optimizer steps (step 0: the base). */
export interface CurvePoint {
  step: number;
  scores: Record<string, ProbeScore>;
}

export interface FineTuneRun {
  method: 'lora' | 'full';
  /** Trainable and all parameters. */
  trainable: number;
  all: number;
  /** Probe scores at step 0, at each evaluation step and at the last step, in step order. */
  curve: CurvePoint[];
  /** Training loss of every step. */
  losses: number[];
  /**
   * W′ [out, in] of every linear layer the run changed (LoRA: W₀ + scaling·B·A of each wrapped layer; full
   * fine-tuning: every Dense layer), float32 values in row-major order, keyed by path.
   */
  weights: Map<string, { rows: number; columns: number; values: Float32Array }>;
}

/** W [out, in] of the Dense layer at `path` of a plain model (kernel K = Wᵀ [in, out]). */
async function denseW(model: Gpt, path: string): Promise<{ rows: number; columns: number; values: Float32Array }> {
  const layer = model.layers.get(path)!;
  const K = layer.weights[0]!.read(); // [in, out]
  const W = tf.transpose(K); // [out, in]
  const values = (await W.data()) as Float32Array;
  W.dispose();
  return { rows: K.shape[1]!, columns: K.shape[0]!, values };
}

/** A stored W′ as a float64 Matrix [out, in]. */
export function weightMatrix(w: { rows: number; columns: number; values: Float32Array }): Matrix {
  const M = new Matrix(w.rows, w.columns);
  for (let i = 0; i < w.rows; i++) for (let j = 0; j < w.columns; j++) M.set(i, j, w.values[i * w.columns + j]!);
  return M;
}

/**
 * Fine-tunes `options.model` by `spec` and returns the curve of probe scores and the changed weights. The model's
 * weights are snapshotted first and written back at the end, so the next run starts from the same base.
 */
export async function runFineTune(spec: FineTuneMethod, options: FineTuneOptions): Promise<FineTuneRun> {
  const { model, tokenizer, task, steps } = options;
  if (spec.method !== 'lora' && spec.method !== 'full') {
    throw new Error(`method must be 'lora' or 'full', got ${JSON.stringify((spec as { method: unknown }).method)}`);
  }
  if (!Number.isInteger(steps) || steps < 1) {
    throw new Error(`steps must be a positive integer, got ${steps}: use e.g. 100`);
  }
  const evalAt = [...new Set([0, ...(options.evalSteps ?? []), steps])].sort((a, b) => a - b);
  const bad = evalAt.find((s) => !Number.isInteger(s) || s < 0 || s > steps);
  if (bad !== undefined) throw new Error(`evalSteps must be integers in 0..${steps} (steps), got ${bad}`);
  const probes = options.probes ?? {};
  if ('target' in probes) {
    throw new Error("probe name 'target' is taken by the task's own validation examples: rename it");
  }
  const sets: [string, readonly Example[]][] = [
    ['target', makeExamples(task, options.valExamples ?? 64, 1, 'val')],
    ...Object.entries(probes),
  ];
  for (const [name, ex] of sets) if (ex.length === 0) throw new Error(`probe '${name}' has no examples`);
  for (const [p, l] of model.layers) {
    if (isLoraLayer(l) || isQuantized(l)) {
      throw new Error(`layer '${p}' is a ${l.getClassName()}: runFineTune() needs a plain base (unload adapters)`);
    }
  }
  const batchSize = options.batchSize ?? 16;
  const seed = options.seed ?? 0;
  const restore = snapshotModel(model);

  const score = async (): Promise<Record<string, ProbeScore>> => {
    const out: Record<string, ProbeScore> = {};
    for (const [name, ex] of sets) {
      const s = await scoreAnswers(model, tokenizer, ex);
      out[name] = { loss: s.loss, exactMatch: s.exactMatch };
    }
    return out;
  };

  let lm: LoraModel | undefined;
  let optimizer: Adam | undefined;
  try {
    const curve: CurvePoint[] = [{ step: 0, scores: await score() }];
    let params: tf.Variable[] | ReturnType<LoraModel['paramGroups']>;
    let trainable: number;
    let all: number;
    if (spec.method === 'lora') {
      lm = injectLora(model, loraConfig({ ...spec.lora, seed: spec.lora.seed ?? seed }));
      params = lm.paramGroups().filter((g) => g.variables.length > 0);
      ({ trainable, all } = lm.countParams());
    } else {
      params = allVariables(model);
      trainable = all = countParams(params);
    }
    const losses: number[] = [];
    for (const upTo of evalAt.slice(1)) {
      const res = await train({
        ...(optimizer ? { optimizer } : { params }),
        steps: upTo,
        lr: options.lr,
        warmupSteps: options.warmupSteps ?? 0,
        loss: (s) =>
          lmLoss(model, batchAt(task, tokenizer, seed, s, batchSize), { training: true, seed: mixSeed(seed, s) }),
      });
      optimizer = res.optimizer;
      losses.push(...res.losses);
      curve.push({ step: upTo, scores: await score() });
    }
    const weights = new Map<string, { rows: number; columns: number; values: Float32Array }>();
    if (lm) {
      for (const [p, l] of lm.loraLayers()) {
        const W = tf.tidy(() => l.baseWeight().add(l.deltaWeight())) as tf.Tensor2D; // W₀ + scaling·B·A [out, in]
        const [rows, columns] = W.shape;
        weights.set(p, { rows, columns, values: (await W.data()) as Float32Array });
        W.dispose();
      }
    } else {
      for (const p of denseLayerPaths(model)) weights.set(p, await denseW(model, p));
    }
    return { method: spec.method, trainable, all, curve, losses, weights };
  } finally {
    optimizer?.dispose();
    lm?.unload();
    restore();
  }
}

/** W′ [out, in] of the run's changed linear layers as float64 matrices, those whose path `include` accepts. */
export function tunedWeights(run: FineTuneRun, include: (path: string) => boolean = () => true): Map<string, Matrix> {
  return new Map([...run.weights].filter(([p]) => include(p)).map(([p, w]) => [p, weightMatrix(w)]));
}

/** One row per curve point: the step, then `<probe>Loss` and `<probe>Match` (exact match) of every probe. */
export function curveRows(run: FineTuneRun): Record<string, number>[] {
  return run.curve.map((c) => {
    const row: Record<string, number> = { step: c.step };
    for (const [name, s] of Object.entries(c.scores)) {
      row[`${name}Loss`] = s.loss;
      row[`${name}Match`] = s.exactMatch;
    }
    return row;
  });
}
