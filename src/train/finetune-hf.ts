// Fine-tuning recipe for a Hugging Face causal LM (loadPretrained) on SFT records (sft-data.ts): LoRA with PEFT's
// default targets for the model type unless told otherwise (Hu et al. 2021), the shared training loop (loop.ts:
// trainable variables only, warm-up then cosine, clipping, Adam), the held-out loss every evalEvery steps.
// The CLI (`lora-lab finetune --model`) and notebook 10 both run this.
import { injectLora, type LoraConfigInput, type LoraModel } from '../lora/index.js';
import type { HfCausalLm } from '../models/hf/loader.js';
import type { Adam } from './adam.js';
import type { FinetuneResult } from './finetune.js';
import { train, type Progress } from './loop.js';
import { countParams, optimizerStateBytes } from './memory.js';
import { asParamGroups } from './params.js';
import { lmLoss } from './sft.js';
import { sftBatch, sftBatchAt, type SftData } from './sft-data.js';
import { mixSeed } from '../data/rng.js';

/** The LoRA settings `lora-lab finetune --model` starts from: r 8, α 16 on PEFT's default targets for the model type. */
export const DEFAULT_HF_LORA = { r: 8, lora_alpha: 16, lora_dropout: 0 } as const satisfies LoraConfigInput;

export interface HfFinetuneOptions {
  /** LoRA settings (PEFT names); target_modules omitted = PEFT's default for the model type. @default DEFAULT_HF_LORA */
  lora?: LoraConfigInput;
  /** Continue this LoraModel (e.g. from loadAdapter) instead of injecting a new adapter. */
  loraModel?: LoraModel;
  /** Continue with this optimizer (restored with loadTrainingState). */
  optimizer?: Adam;
  /** Total optimizer steps. */
  steps: number;
  /** Records per step. @default 4 */
  batchSize?: number;
  /** Split each step's records into this many micro-batches (gradient accumulation; must divide batchSize). @default 1 */
  gradAccum?: number;
  /** Peak learning rate. @default 2e-4 */
  lr?: number;
  /** Linear warm-up steps. @default 5 % of steps */
  warmupSteps?: number;
  /** Seeds the data order, dropout and the LoRA init. @default 0 */
  seed?: number;
  /** Held-out loss every this many steps (and after the last), when data.eval has records. @default 50 */
  evalEvery?: number;
  onProgress?: (p: Progress) => void;
  progressEveryMs?: number;
  signal?: AbortSignal;
}

/** Fine-tunes `model` in place on `data.train`; only the adapter learns. Rejects with NonFiniteLossError on NaN/Inf. */
export async function finetuneHf(model: HfCausalLm, data: SftData, o: HfFinetuneOptions): Promise<FinetuneResult> {
  const seed = o.seed ?? 0;
  const batchSize = o.batchSize ?? 4;
  const gradAccum = o.gradAccum ?? 1;
  if (!Number.isInteger(gradAccum) || gradAccum < 1 || batchSize % gradAccum !== 0) {
    throw new Error(`gradAccum must be a positive integer dividing the batch size ${batchSize}, got ${gradAccum}`);
  }
  const lora = o.loraModel ?? injectLora(model, { ...DEFAULT_HF_LORA, seed, ...o.lora });
  const params = lora.paramGroups();
  const trainable = o.optimizer?.variables() ?? asParamGroups(params).flatMap((g) => g.variables);
  const trainableParams = countParams(trainable);
  const evalBatch = data.eval.length > 0 ? sftBatch(data.eval.slice(0, 64), data.padId) : undefined;
  const result = await train({
    params,
    optimizer: o.optimizer,
    steps: o.steps,
    lr: o.lr ?? 2e-4,
    warmupSteps: o.warmupSteps ?? Math.ceil(0.05 * o.steps),
    schedule: 'cosine',
    accumulate: gradAccum,
    loss: (s, m) => lmLoss(model, sftBatchAt(data, seed, s, batchSize, { index: m, count: gradAccum }), {
      training: true, seed: mixSeed(seed, s, m),
    }),
    valLoss: evalBatch === undefined ? undefined : () => lmLoss(model, evalBatch),
    evalEvery: o.evalEvery ?? 50,
    onProgress: o.onProgress,
    progressEveryMs: o.progressEveryMs,
    signal: o.signal,
  });
  return { lora, result, trainableParams, allParams: lora.countParams().all, optimizerBytes: optimizerStateBytes(trainableParams) };
}
