// One training step of the GPT three ways, timed side by side on the active backend: the base model's forward +
// backward (gradients of every weight, no update), a LoRA step (r = 8 on q_proj, v_proj: Hu et al. 2021 §4.2) and
// a full fine-tuning step, each with global-norm clipping and Adam as src/train/loop.ts does. Also what the LoRA
// paper's §4.2 argument is about: trainable parameters, Adam's state, and the tensor bytes a step needs.
import * as tf from '@tensorflow/tfjs';
import { Gpt } from '../../src/models/gpt.js';
import { gptConfig, type GptPresetName } from '../../src/models/config.js';
import { CharTokenizer } from '../../src/data/tokenizer.js';
import { batchAt, type LmBatch } from '../../src/data/batch.js';
import { textTask } from '../../src/data/tasks.js';
import { injectLora, type LoraModel } from '../../src/lora/index.js';
import { Adam } from '../../src/train/adam.js';
import { allVariables } from '../../src/train/params.js';

export { allVariables };
import { DEFAULT_LORA } from '../../src/train/finetune.js';
import { lmLoss } from '../../src/train/sft.js';
import { optimizerStateBytes, PeakMemory } from '../../src/train/memory.js';
import { interleaved, median } from './timing.js';

export interface TrainingOptions {
  preset: GptPresetName;
  /** Records per step. */
  batchSize: number;
  /** Most timed rounds (each times base, LoRA and full once). */
  reps: number;
  /** Fewer rounds (but at least `minReps`) when a round is slow: stop planning rounds past this many ms. */
  budgetMs?: number;
  /** @default 2 */
  minReps?: number;
  /** LoRA rank. @default 8 */
  r?: number;
  /** @default ['q_proj', 'v_proj'] */
  targetModules?: string[];
}

export interface StepKind {
  /** Median milliseconds per step. */
  ms: number;
  /** All timed steps, in order. */
  runs: number[];
  /** Positions processed per second: batch × context / step time. */
  tokensPerSec: number;
  trainableParams: number;
  /** Adam's m and v: 2 float32 per trainable parameter. */
  optimizerBytes: number;
  /** Most tensor bytes alive during a step beyond what was alive before it (activations, gradients, temporaries). */
  stepPeakBytes: number;
}

export interface TrainingResult {
  preset: GptPresetName;
  batchSize: number;
  contextLength: number;
  allParams: number;
  /** Bytes of the model's weights (float32). */
  weightBytes: number;
  base: StepKind;
  lora: StepKind;
  full: StepKind;
  /** Median over rounds of (LoRA step / full step) within the same round: a paired ratio, robust to load drift. */
  loraOverFull: number;
  /** Training loss at the last timed LoRA and full step (both should fall from ~ln V as the runs proceed). */
  lastLoss: { lora: number; full: number };
}

/** Two models of the same preset and seed: one stays plain (base, full fine-tuning), one gets LoRA. */
export interface BenchModels {
  tok: CharTokenizer;
  plain: Gpt;
  loraModel: Gpt;
  lora: LoraModel;
  batch: LmBatch;
  dispose(): void;
}

export function makeModels(preset: GptPresetName, batchSize: number, r: number = DEFAULT_LORA.r,
  targetModules: readonly string[] = DEFAULT_LORA.target_modules): BenchModels {
  const tok = new CharTokenizer();
  const config = gptConfig({ preset, vocabSize: tok.vocabSize });
  const plain = new Gpt(config, { seed: 0 });
  const loraModel = new Gpt(config, { seed: 0 });
  const lora = injectLora(loraModel, { r, lora_alpha: DEFAULT_LORA.lora_alpha, target_modules: targetModules });
  // Every row padded to the full context, as a PyTorch run at "context 64" would feed it.
  const batch = batchAt(textTask('reverse'), tok, 0, 0, batchSize, { length: config.contextLength, lossOn: 'all' });
  return {
    tok,
    plain,
    loraModel,
    lora,
    batch,
    dispose() {
      lora.unload();
      plain.dispose();
      loraModel.dispose();
    },
  };
}

/** One step as src/train/loop.ts takes it: loss → gradients → clip the global norm to 1 → Adam (none: base). */
export async function step(model: Gpt, batch: LmBatch, vars: tf.Variable[], adam: Adam | null, meter = new PeakMemory()): Promise<number> {
  const { value, grads } = tf.variableGrads(() => {
    const l = lmLoss(model, batch, { training: true });
    meter.sample(); // activations alive: the forward pass's peak
    return l;
  }, vars);
  const gradList = vars.map((v) => grads[v.name]!);
  meter.sample();
  const norm = tf.tidy(() => tf.sqrt(tf.addN(gradList.map((g) => g.square().sum())))); // scalar
  const [loss, n] = await Promise.all([value.data(), norm.data()]);
  tf.dispose([value, norm]);
  if (adam !== null) adam.apply(gradList, 1e-3, n[0]! > 1 ? 1 / n[0]! : 1);
  tf.dispose(gradList);
  return loss[0]!;
}

export async function benchTraining(models: BenchModels, options: TrainingOptions): Promise<TrainingResult> {
  const { plain, loraModel, lora, batch } = models;
  const fullVars = allVariables(plain);
  const adamFull = new Adam(fullVars);
  const adamLora = new Adam(lora.paramGroups());
  const loraVars = adamLora.variables(); // Adam.apply takes gradients in its own (group) order
  const meters = { base: new PeakMemory(), lora: new PeakMemory(), full: new PeakMemory() };
  const extra = { base: 0, lora: 0, full: 0 };
  const last = { lora: NaN, full: NaN };
  const measured = (kind: 'base' | 'lora' | 'full', run: (m: PeakMemory) => Promise<number>) => async () => {
    const before = tf.memory().numBytes;
    meters[kind].peak = 0;
    const loss = await run(meters[kind]);
    extra[kind] = Math.max(extra[kind], meters[kind].peak - before);
    if (kind !== 'base') last[kind] = loss;
  };
  const fns = {
    base: measured('base', (m) => step(plain, batch, fullVars, null, m)),
    lora: measured('lora', (m) => step(loraModel, batch, loraVars, adamLora, m)),
    full: measured('full', (m) => step(plain, batch, fullVars, adamFull, m)),
  };
  // One untimed round (kernel compilation, JIT, allocator warm-up) also tells how many rounds the budget allows.
  const t0 = performance.now();
  await interleaved(fns, 1, 0);
  const roundMs = performance.now() - t0;
  const affordable = options.budgetMs === undefined ? options.reps : Math.floor(options.budgetMs / roundMs);
  const reps = Math.max(options.minReps ?? 2, Math.min(options.reps, affordable));
  const times = await interleaved(fns, reps, 0);
  adamFull.dispose();
  adamLora.dispose();

  const T = batch.length;
  const count = (vars: tf.Variable[]) => vars.reduce((n, v) => n + v.size, 0);
  const kind = (k: 'base' | 'lora' | 'full', trainable: number, optimizer: boolean): StepKind => {
    const ms = median(times[k]);
    return {
      ms,
      runs: times[k],
      tokensPerSec: (batch.batchSize * T) / (ms / 1000),
      trainableParams: trainable,
      optimizerBytes: optimizer ? optimizerStateBytes(trainable) : 0,
      stepPeakBytes: extra[k],
    };
  };
  const allParams = count(fullVars);
  return {
    preset: options.preset,
    batchSize: batch.batchSize,
    contextLength: T,
    allParams,
    weightBytes: 4 * allParams,
    base: kind('base', count(fullVars), false),
    lora: kind('lora', count(loraVars), true),
    full: kind('full', count(fullVars), true),
    loraOverFull: median(times.lora.map((ms, i) => ms / times.full[i]!)),
    lastLoss: last,
  };
}
