// Pretraining recipes for the bundled base models: the tiny GPT learns the `copy` task (language-model loss on
// every token), the MLP classifier learns the day-camera animals. Seeded end to end (init, data order), so the
// same options give the same weights on the same backend. `npm run pretrain` runs both and writes data/.
import * as tf from '@tensorflow/tfjs';
import { Gpt } from '../models/gpt.js';
import { gptConfig, type GptPresetName } from '../models/config.js';
import { MlpClassifier, CLASSIFIER_PRESETS } from '../models/classifier.js';
import { CharTokenizer } from '../data/tokenizer.js';
import { TEXT_TASKS, makeExamples } from '../data/tasks.js';
import { batchAt, lmBatch } from '../data/batch.js';
import { mixSeed } from '../data/rng.js';
import { animalData, type ClassData } from '../data/animals.js';
import { train, type Progress, type TrainResult } from './loop.js';
import { lmLoss } from './sft.js';
import { classCrossEntropy } from './loss.js';
import { exactMatch, accuracy } from './eval.js';
import { allVariables } from './params.js';

export interface PretrainGptOptions {
  /** Model size. @default 'tiny' */
  preset?: GptPresetName;
  /** Optimizer steps. @default 3000 */
  steps?: number;
  /** Records per step. @default 32 */
  batchSize?: number;
  /** Peak learning rate (100 warm-up steps, cosine decay to 10 %). @default 2e-3 */
  lr?: number;
  /** Seeds the initial weights, the data order and dropout. @default 0 */
  seed?: number;
  /** Held-out copy examples for the final exact-match check. @default 200 */
  evalExamples?: number;
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
}

export interface PretrainGptResult {
  model: Gpt;
  tokenizer: CharTokenizer;
  result: TrainResult;
  /** Mean loss over the last 50 steps (all tokens, so it includes the unpredictable prompt letters). */
  finalLoss: number;
  /** Exact match on held-out (test split) copy prompts. */
  copyExactMatch: number;
}

/** Pretrains a GPT on the copy task. The caller owns (and disposes) the returned model. */
export async function pretrainGpt(options: PretrainGptOptions = {}): Promise<PretrainGptResult> {
  const seed = options.seed ?? 0;
  const batchSize = options.batchSize ?? 32;
  const tokenizer = new CharTokenizer();
  const model = new Gpt(gptConfig({ preset: options.preset ?? 'tiny', vocabSize: tokenizer.vocabSize }), { seed });
  const copy = TEXT_TASKS.copy;
  // validation loss on the answers only: the part a model can get right (prompt letters are random)
  const val = lmBatch(makeExamples(copy, 64, seed, 'val'), tokenizer, { lossOn: 'answer' });
  const result = await train({
    params: allVariables(model),
    steps: options.steps ?? 3000,
    lr: options.lr ?? 2e-3,
    warmupSteps: 100,
    schedule: 'cosine',
    // data stream and dropout both derive from the seed and the step: resumable and reproducible
    loss: (s) => lmLoss(model, batchAt(copy, tokenizer, seed, s, batchSize, { lossOn: 'all' }), { training: true, seed: mixSeed(seed, s) }),
    valLoss: () => lmLoss(model, val),
    evalEvery: 250,
    onProgress: options.onProgress,
    signal: options.signal,
  });
  result.optimizer.dispose();
  const tail = result.losses.slice(-50);
  const em = await exactMatch(model, tokenizer, makeExamples(copy, options.evalExamples ?? 200, seed, 'test'));
  return {
    model,
    tokenizer,
    result,
    finalLoss: tail.reduce((a, b) => a + b, 0) / Math.max(1, tail.length),
    copyExactMatch: em.accuracy,
  };
}

export interface PretrainClassifierOptions {
  /** Full-batch steps over the training set. @default 150 */
  steps?: number;
  /** Training examples (day camera). @default 2000 */
  examples?: number;
  /** @default 1e-2 */
  lr?: number;
  /** @default 0 */
  seed?: number;
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
}

export interface PretrainClassifierResult {
  model: MlpClassifier;
  result: TrainResult;
  /** Test accuracy on the camera it learned (day) and on the new one (night): the gap LoRA is meant to close. */
  dayAccuracy: number;
  nightAccuracy: number;
}

/** Classification accuracy of `model` on a data set. */
export async function classifierAccuracy(model: MlpClassifier, data: ClassData): Promise<number> {
  const logits = tf.tidy(() => model.logits(tf.tensor2d(data.x, [data.n, data.dim])));
  const acc = await accuracy(logits, data.y);
  logits.dispose();
  return acc;
}

/** Pretrains the MLP classifier on day-camera animals. The caller owns the returned model. */
export async function pretrainClassifier(options: PretrainClassifierOptions = {}): Promise<PretrainClassifierResult> {
  const seed = options.seed ?? 0;
  const model = new MlpClassifier(CLASSIFIER_PRESETS.tiny, { seed });
  const data = animalData('day', options.examples ?? 2000, seed, 'train');
  const x = tf.tensor2d(data.x, [data.n, data.dim]);
  const y = tf.tensor1d(data.y, 'int32');
  try {
    const result = await train({
      params: allVariables(model),
      steps: options.steps ?? 150,
      lr: options.lr ?? 1e-2,
      loss: () => classCrossEntropy(model.logits(x, { training: true }), y),
      onProgress: options.onProgress,
      signal: options.signal,
    });
    result.optimizer.dispose();
    return {
      model,
      result,
      dayAccuracy: await classifierAccuracy(model, animalData('day', 1000, seed, 'test')),
      nightAccuracy: await classifierAccuracy(model, animalData('night', 1000, seed, 'test')),
    };
  } finally {
    tf.dispose([x, y]);
  }
}
