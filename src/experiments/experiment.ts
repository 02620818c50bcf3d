// One LoRA fine-tuning run as an experiment: inject a variant into a pretrained GPT (LoRA, rsLoRA, DoRA, PiSSA,
// LoRA+, or QLoRA: quantizeBase then injectLora), train on a text task with the masked SFT loss, measure, and put the base
// back exactly as it was, so a sweep can run many variants on one model. Hu et al. 2021 §4; PEFT's LoraConfig.
import * as tf from '@tensorflow/tfjs';
import { Matrix } from 'ml-matrix';
import { frobeniusNorm } from '../linalg/lowrank.js';
import type { Gpt } from '../models/gpt.js';
import type { CharTokenizer } from '../data/tokenizer.js';
import { batchAt, lmBatch } from '../data/batch.js';
import { makeExamples, type TextTask } from '../data/tasks.js';
import { lmLoss } from '../train/sft.js';
import { train, type Progress } from '../train/loop.js';
import type { Adam } from '../train/adam.js';
import { scoreAnswers } from '../train/eval.js';
import { loraConfig, type LoraConfigInput } from '../lora/config.js';
import { injectLora, type LoraModel } from '../lora/model.js';
import { isLoraLayer } from '../lora/lora-layer.js';
import { isQuantized, quantizeBase, weightBytes, type QuantizeBaseOptions, type QuantizedBase } from '../quant/base.js';
import { snapshotModel } from './snapshot.js';

/** What to train. Exactly one of `lora` / `qlora`. */
export interface ExperimentSpec {
  /** A label for tables and charts. @default derived from the config */
  name?: string;
  /** Plain LoRA and its variants, by PEFT's config fields (use_rslora, use_dora, init_lora_weights: 'pissa', loraplus_lr_ratio). */
  lora?: LoraConfigInput;
  /** QLoRA: quantizeBase(model, quant) (every linear layer but the head by default), then LoRA with `config`. */
  qlora?: { config: LoraConfigInput; quant: QuantizeBaseOptions };
}

export interface ExperimentOptions {
  model: Gpt;
  tokenizer: CharTokenizer;
  task: TextTask;
  /** Optimizer steps. */
  steps: number;
  /** Peak learning rate (Adam); LoRA+ multiplies it for lora_B. */
  lr: number;
  /** Examples per step. @default 16 */
  batchSize?: number;
  /** Seed of the training data order and dropout masks. @default 0 */
  seed?: number;
  /** Linear warm-up steps. @default 0 */
  warmupSteps?: number;
  /**
   * Train on a fixed pool of this many examples (split 'train', cycled in order, batch after batch) instead of a
   * fresh stream: the small-data regime where an adapter can memorise and dropout has something to prevent.
   * The result then also reports `trainLoss` on the pool. @default undefined (a fresh stream)
   */
  trainExamples?: number;
  /** Size of the fixed validation batch (split 'val', seed 1). @default 64 */
  valExamples?: number;
  /** Also measure exact-match accuracy of greedy answers on the validation examples. @default false */
  exactMatch?: boolean;
  /**
   * Also measure the validation loss (and exact match, when asked) after each of these steps: a learning curve
   * from the same run, which is trained in segments (the same batches and updates as one uninterrupted run).
   */
  evalSteps?: readonly number[];
  /** Return lora_A, lora_B, ΔW and the base W of every wrapped layer (float64, PEFT orientation). @default false */
  keepWeights?: boolean;
  onProgress?: (p: Progress) => void;
}

/** The learned adapter of one layer, PEFT orientation. */
export interface LearnedLayer {
  lora_A: Matrix; // [r, in]
  lora_B: Matrix; // [out, r]
  /** ΔW = scaling·B·A [out, in] (DoRA: the direction update only). */
  delta: Matrix;
  /** The frozen base weight W [out, in] this adapter was trained on (PiSSA: the residual base). */
  weight: Matrix;
}

export interface ExperimentResult {
  name: string;
  /** Trainable parameters of the variant. */
  trainable: number;
  /** All parameters of the model with the adapter. */
  all: number;
  /** Masked validation loss of the plain base, of the variant before its first step, and after training. */
  baseValLoss: number;
  startValLoss: number;
  valLoss: number;
  /** Exact-match accuracy on the validation examples (when asked for). */
  accuracy?: number;
  /** Training loss of every step. */
  losses: number[];
  /** With `evalSteps`: validation loss (and exact match) after each of those steps and after the last. */
  curve?: { step: number; valLoss: number; accuracy?: number }[];
  /** With `trainExamples`: the loss on that pool after training (no dropout), to compare with valLoss. */
  trainLoss?: number;
  msPerStep: number;
  /** Peak bytes of live tensors during a training step. */
  peakBytes: number;
  /** Bytes of the model's weights as trained (quantised layers at their packed size). */
  weightBytes: number;
  /** Per wrapped layer, when keepWeights. */
  weights?: Map<string, LearnedLayer>;
}

async function toMatrix(t: tf.Tensor): Promise<Matrix> {
  return new Matrix((await t.array()) as number[][]);
}

function describe(spec: ExperimentSpec): string {
  if (spec.name) return spec.name;
  const c = spec.lora ?? spec.qlora!.config;
  const tags = [`r=${c.r ?? 8}`];
  if (c.use_rslora) tags.push('rsLoRA');
  if (c.use_dora) tags.push('DoRA');
  if (c.init_lora_weights === 'pissa') tags.push('PiSSA');
  if (c.loraplus_lr_ratio) tags.push(`LoRA+ ×${c.loraplus_lr_ratio}`);
  if (spec.qlora) tags.push(spec.qlora.quant.bits);
  return tags.join(' ');
}

/**
 * How far an adapter moved the weights: the mean over the adapted matrices of ‖ΔW‖_F = √(Σᵢⱼ ΔWᵢⱼ²), ΔW the
 * scaled update scaling·B·A [out, in]. Needs a result trained with `keepWeights`.
 */
export function meanDeltaNorm(result: ExperimentResult): number {
  if (result.weights === undefined || result.weights.size === 0) {
    throw new Error(`meanDeltaNorm: run '${result.name}' kept no weights: run it with keepWeights: true`);
  }
  const norms = [...result.weights.values()].map((w) => frobeniusNorm(w.delta));
  return norms.reduce((a, b) => a + b, 0) / norms.length;
}

/** Masked SFT loss of `model` on the task's fixed validation batch. */
export async function taskValLoss(model: Gpt, tokenizer: CharTokenizer, task: TextTask, examples = 64): Promise<number> {
  const t = tf.tidy(() => lmLoss(model, batchAt(task, tokenizer, 1, 0, examples, { split: 'val' })));
  const v = (await t.data())[0]!;
  t.dispose();
  return v;
}

/**
 * Trains one variant on `options.model` and returns its measurements. The model's weights are snapshotted first and
 * written back at the end (PiSSA rewrites the base kernel; QLoRA swaps layers), so the next run starts from the
 * same base. Seeds fix everything: the same spec and options give the same numbers on the same backend.
 */
export async function runExperiment(spec: ExperimentSpec, options: ExperimentOptions): Promise<ExperimentResult> {
  if ((spec.lora === undefined) === (spec.qlora === undefined)) {
    throw new Error(`a ExperimentSpec needs exactly one of 'lora' or 'qlora', got ${JSON.stringify(Object.keys(spec))}`);
  }
  const { model, tokenizer, task } = options;
  const batchSize = options.batchSize ?? 16;
  const seed = options.seed ?? 0;
  const valN = options.valExamples ?? 64;
  const poolSize = options.trainExamples;
  if (poolSize !== undefined && (!Number.isInteger(poolSize) || poolSize < batchSize)) {
    throw new Error(`trainExamples must be an integer >= batchSize (${batchSize}), got ${poolSize}`);
  }
  const pool = poolSize === undefined ? undefined : makeExamples(task, poolSize, seed, 'train');
  const batchOf = (s: number) =>
    pool === undefined
      ? batchAt(task, tokenizer, seed, s, batchSize)
      : lmBatch(Array.from({ length: batchSize }, (_, j) => pool[(s * batchSize + j) % pool.length]!), tokenizer);
  for (const [p, l] of model.layers) {
    if (isLoraLayer(l) || isQuantized(l)) {
      throw new Error(`layer '${p}' is a ${l.getClassName()}: runExperiment() needs a plain base (unload earlier adapters first)`);
    }
  }
  const restore = snapshotModel(model);
  const baseValLoss = await taskValLoss(model, tokenizer, task, valN);

  let lm: LoraModel | undefined;
  let quantized: QuantizedBase | undefined;
  try {
    if (spec.qlora) quantized = await quantizeBase(model, spec.qlora.quant);
    lm = injectLora(model, loraConfig(spec.lora ?? spec.qlora!.config));
    const startValLoss = await taskValLoss(model, tokenizer, task, valN);
    const params = lm.paramGroups();
    const { trainable, all } = lm.countParams();
    const evalAt = [...new Set([...(options.evalSteps ?? []), options.steps])].sort((a, b) => a - b);
    const bad = evalAt.find((s) => !Number.isInteger(s) || s < 0 || s > options.steps);
    if (bad !== undefined) throw new Error(`evalSteps must be integers in 0..${options.steps} (steps), got ${bad}`);
    // Loss and exact match of the fixed validation batch (the examples taskValLoss uses), one forward pass.
    const validate = async () => {
      if (!options.exactMatch) return { valLoss: await taskValLoss(model, tokenizer, task, valN) };
      const s = await scoreAnswers(model, tokenizer, makeExamples(task, valN, 1, 'val'));
      return { valLoss: s.loss, accuracy: s.exactMatch };
    };
    const losses: number[] = [];
    const curve: { step: number; valLoss: number; accuracy?: number }[] = [];
    let optimizer: Adam | undefined;
    let ms = 0;
    let peakBytes = 0;
    try {
      for (const upTo of evalAt) {
        const res = await train({
          ...(optimizer ? { optimizer } : { params: params.filter((g) => g.variables.length > 0) }),
          steps: upTo,
          lr: options.lr,
          warmupSteps: options.warmupSteps ?? 0,
          loss: (s) => lmLoss(model, batchOf(s), { training: true, seed: seed * 100003 + s }),
          onProgress: options.onProgress,
        });
        optimizer = res.optimizer;
        ms += res.msPerStep * res.losses.length;
        peakBytes = Math.max(peakBytes, res.peakBytes);
        losses.push(...res.losses);
        curve.push({ step: upTo, ...(await validate()) });
      }
    } finally {
      optimizer?.dispose();
    }
    const { valLoss, accuracy } = curve[curve.length - 1]!;
    let trainLoss: number | undefined;
    if (pool !== undefined) {
      const t = tf.tidy(() => lmLoss(model, lmBatch(pool, tokenizer)));
      trainLoss = (await t.data())[0]!;
      t.dispose();
    }
    let weights: Map<string, LearnedLayer> | undefined;
    if (options.keepWeights) {
      weights = new Map();
      for (const [p, l] of lm.loraLayers()) {
        const d = l.deltaWeight();
        const W = l.baseWeight(); // [out, in]; a quantised base dequantised
        const a = l.adapter(l.activeAdapter!);
        weights.set(p, {
          lora_A: await toMatrix(a.lora_A.read()),
          lora_B: await toMatrix(a.lora_B.read()),
          delta: await toMatrix(d),
          weight: await toMatrix(W),
        });
        tf.dispose([d, W]);
      }
    }
    return {
      name: describe(spec),
      trainable,
      all,
      baseValLoss,
      startValLoss,
      valLoss,
      ...(accuracy !== undefined ? { accuracy } : {}),
      losses,
      ...(options.evalSteps ? { curve } : {}),
      ...(trainLoss !== undefined ? { trainLoss } : {}),
      msPerStep: losses.length ? ms / losses.length : 0,
      peakBytes,
      weightBytes: weightBytes(model),
      ...(weights ? { weights } : {}),
    };
  } finally {
    lm?.unload();
    quantized?.restore();
    restore();
  }
}
