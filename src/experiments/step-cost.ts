// A full fine-tuning step and a LoRA step of the same GPT side by side, each one call of the library's training
// loop (train(), Adam, clipping), with their matrix-product FLOPs counted from the shapes (train/flops.ts): what a
// notebook times at a few model widths to see how much a LoRA step saves (Hu et al. 2021 §4.2; the bench measures
// the same at one size, bench/lib/training.ts). Timing is the caller's (interleaved, shown, never checked).
import { Gpt } from '../models/gpt.js';
import { gptConfig, type GptConfig } from '../models/config.js';
import { CharTokenizer } from '../data/tokenizer.js';
import { batchAt } from '../data/batch.js';
import { textTask, type TextTaskName } from '../data/tasks.js';
import { injectLora, type LoraConfigInput, type LoraModel } from '../lora/index.js';
import { Adam } from '../train/adam.js';
import { train } from '../train/loop.js';
import { lmLoss } from '../train/sft.js';
import { allVariables } from '../train/params.js';
import { DEFAULT_LORA } from '../train/finetune.js';
import { gptStepFlops, type StepFlops } from '../train/flops.js';

export interface StepPairOptions {
  /** d: the residual stream's width (the size the comparison varies). */
  dModel: number;
  /** @default 2 */
  nLayers?: number;
  /** @default 4 */
  nHeads?: number;
  /** @default 4·dModel */
  dFf?: number;
  /** Records per step. @default 16 */
  batchSize?: number;
  /** The records' task (their length sets T). @default 'shift' */
  task?: TextTaskName;
  /** LoRA settings (PEFT names). @default DEFAULT_LORA (r 8, lora_alpha 16, q_proj + v_proj) */
  lora?: LoraConfigInput;
  /** Seeds both models (the same initial weights) and the batch. @default 0 */
  seed?: number;
}

export interface StepPair {
  config: GptConfig;
  /** The batch every step trains on: B records of T positions. */
  shape: { batchSize: number; length: number };
  /** One full fine-tuning step (every weight, Adam); resolves to its loss. */
  full(): Promise<number>;
  /** One LoRA step (only lora_A / lora_B, Adam); resolves to its loss. */
  lora(): Promise<number>;
  /** Matrix-product FLOPs of each kind of step. */
  flops: { full: StepFlops; lora: StepFlops };
  /** The LoRA wrapper (its trainable variables, its report). */
  loraModel: LoraModel;
  /** Frees both models and optimizers. */
  dispose(): void;
}

/** Two copies of a freshly initialised GPT of width `dModel`, one for full fine-tuning and one with LoRA. */
export function trainingStepPair(o: StepPairOptions): StepPair {
  const tok = new CharTokenizer();
  const seed = o.seed ?? 0;
  const config = gptConfig({
    preset: 'tiny',
    vocabSize: tok.vocabSize,
    dModel: o.dModel,
    nLayers: o.nLayers ?? 2,
    nHeads: o.nHeads ?? 4,
    dFf: o.dFf ?? 4 * o.dModel,
    dropout: 0,
  });
  const batch = batchAt(textTask(o.task ?? 'shift'), tok, seed, 0, o.batchSize ?? 16);
  const shape = { batchSize: batch.batchSize, length: batch.length };
  const plain = new Gpt(config, { seed });
  const adapted = new Gpt(config, { seed });
  const loraModel = injectLora(adapted, { ...DEFAULT_LORA, seed, ...o.lora });
  const adamFull = new Adam(allVariables(plain));
  const adamLora = new Adam(loraModel.paramGroups());
  const step = async (model: Gpt, optimizer: Adam): Promise<number> => {
    const run = await train({
      optimizer,
      steps: optimizer.step + 1, // train() runs until the optimizer has taken this many steps: one more
      lr: 1e-3,
      loss: () => lmLoss(model, batch, { training: true }),
    });
    return run.losses[0]!;
  };
  const r = loraModel.config().r;
  return {
    config,
    shape,
    full: () => step(plain, adamFull),
    lora: () => step(adapted, adamLora),
    flops: {
      full: gptStepFlops(config, shape),
      lora: gptStepFlops(config, { ...shape, lora: { r, modules: [...loraModel.loraLayers().keys()] } }),
    },
    loraModel,
    dispose() {
      adamFull.dispose();
      adamLora.dispose();
      loraModel.unload();
      plain.dispose();
      adapted.dispose();
    },
  };
}
