// Fine-tuning recipe for the tiny GPT on a text task: LoRA (PEFT names; default r = 8 on q_proj + v_proj,
// Hu et al. 2021 §4.2/§7.1) or full fine-tuning, same data, seed and loop, so the two compare fairly.
// Measures what the LoRA paper's argument is about: trainable parameters, optimizer-state bytes, peak memory, time.
import * as tf from '@tensorflow/tfjs';
import type { Gpt } from '../models/gpt.js';
import type { CharTokenizer } from '../data/tokenizer.js';
import { makeExamples, textTask, type TextTaskName } from '../data/tasks.js';
import { batchAt, lmBatch } from '../data/batch.js';
import { mixSeed } from '../data/rng.js';
import { injectLora, type LoraConfigInput, type LoraModel } from '../lora/index.js';
import { Adam } from './adam.js';
import { train, type Progress, type TrainResult } from './loop.js';
import { lmLoss } from './sft.js';
import { exactMatch, type ExactMatchResult } from './eval.js';
import { countParams, optimizerStateBytes } from './memory.js';
import { allVariables, asParamGroups } from './params.js';

/**
 * The LoRA setup the tutorial and `lora-lab finetune` use unless told otherwise: r = 8 on q_proj + v_proj (Hu et al.
 * 2021 §7.1) with lora_alpha = 16, so scaling = 2. (loraConfig itself fills in PEFT's defaults: r = 8, lora_alpha = 8.)
 */
export const DEFAULT_LORA = {
  r: 8,
  lora_alpha: 16,
  lora_dropout: 0,
  target_modules: ['q_proj', 'v_proj'],
} as const satisfies LoraConfigInput;

export interface FinetuneOptions {
  /** What to learn. @default 'reverse' */
  task?: TextTaskName;
  /** 'lora': train only A, B of the adapter; 'full': every weight. @default 'lora' */
  method?: 'lora' | 'full';
  /** LoRA settings (PEFT names). @default DEFAULT_LORA */
  lora?: LoraConfigInput;
  /** Name of the adapter to create. @default 'default' */
  adapterName?: string;
  /** Continue an existing LoraModel (e.g. from loadAdapter) instead of injecting a new adapter. */
  loraModel?: LoraModel;
  /** Continue with this optimizer (restored with loadTrainingState); its step is where training resumes. */
  optimizer?: Adam;
  /** Total optimizer steps. @default 300 */
  steps?: number;
  /** Records per step. @default 32 */
  batchSize?: number;
  /** Peak learning rate (warm-up, then cosine to 10 %). @default 3e-3 */
  lr?: number;
  /** @default 20 */
  warmupSteps?: number;
  /** Seeds the data order, dropout and the LoRA init. @default 0 */
  seed?: number;
  /** Validation loss every this many steps (64 held-out records). @default 50 */
  evalEvery?: number;
  onProgress?: (p: Progress) => void;
  /** See TrainOptions.progressEveryMs. @default 0 */
  progressEveryMs?: number;
  signal?: AbortSignal;
}

export interface FinetuneResult {
  /** The LoRA wrapper (method 'lora'), else null. The base model is changed in place either way. */
  lora: LoraModel | null;
  /** Losses, timing, peak memory; `result.optimizer` holds the state to save for a resume. */
  result: TrainResult;
  trainableParams: number;
  allParams: number;
  /** Adam's m and v for the trainable parameters, float32. */
  optimizerBytes: number;
}

/**
 * Fine-tunes `model` in place on `task`. With method 'lora' the base weights stay bit-identical and only the
 * adapter learns. Rejects with NonFiniteLossError on NaN/Inf (the weights are then the last good ones).
 */
export async function finetuneGpt(model: Gpt, tok: CharTokenizer, options: FinetuneOptions = {}): Promise<FinetuneResult> {
  const task = textTask(options.task ?? 'reverse');
  const method = options.method ?? 'lora';
  const seed = options.seed ?? 0;
  const batchSize = options.batchSize ?? 32;
  let lora: LoraModel | null = null;
  let params;
  if (method === 'lora') {
    lora = options.loraModel ?? injectLora(model, { ...DEFAULT_LORA, seed, ...options.lora }, options.adapterName ?? 'default');
    params = lora.paramGroups();
  } else if (method === 'full') {
    params = allVariables(model);
  } else {
    throw new Error(`method must be 'lora' or 'full', got '${String(method)}'`);
  }
  const trainable = options.optimizer?.variables() ?? asParamGroups(params).flatMap((g) => g.variables);
  const trainableParams = countParams(trainable);
  const allParams = lora ? lora.countParams().all : countParams(allVariables(model));
  const val = lmBatch(makeExamples(task, 64, seed, 'val'), tok);
  const result = await train({
    params,
    optimizer: options.optimizer,
    steps: options.steps ?? 300,
    lr: options.lr ?? 3e-3,
    warmupSteps: options.warmupSteps ?? 20,
    schedule: 'cosine',
    loss: (s) => lmLoss(model, batchAt(task, tok, seed, s, batchSize), { training: true, seed: mixSeed(seed, s) }),
    valLoss: () => lmLoss(model, val),
    evalEvery: options.evalEvery ?? 50,
    onProgress: options.onProgress,
    progressEveryMs: options.progressEveryMs,
    signal: options.signal,
  });
  return { lora, result, trainableParams, allParams, optimizerBytes: optimizerStateBytes(trainableParams) };
}

/** Exact match of greedy answers on `n` held-out (test split) examples of a task. */
export async function evaluateTask(
  model: Gpt,
  tok: CharTokenizer,
  task: TextTaskName,
  options: { n?: number; seed?: number } = {},
): Promise<ExactMatchResult> {
  return exactMatch(model, tok, makeExamples(textTask(task), options.n ?? 200, options.seed ?? 0, 'test'));
}
