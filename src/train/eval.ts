// Evaluation: exact match of greedy answers on a task's examples (the fine-tune's headline metric), the same
// exact match and the masked loss from one teacher-forced forward pass (scoreAnswers), and classification
// accuracy. All async and read results with `await data()` only.
import * as tf from '@tensorflow/tfjs';
import { generate, type CausalLm } from '../models/generate.js';
import { lmBatch, promptTokens } from '../data/batch.js';
import { batchTensors } from './sft.js';
import { maskedCrossEntropy } from './loss.js';
import type { CharTokenizer } from '../data/tokenizer.js';
import type { Example } from '../data/tasks.js';

export interface ExactMatchResult {
  /** Fraction of examples whose generated answer equals the expected one exactly. */
  accuracy: number;
  correct: number;
  total: number;
  /** The generated answers, in example order. */
  predictions: string[];
}

/** Greedy-decodes an answer for each prompt and compares it with the expected answer. */
export async function exactMatch(
  model: CausalLm,
  tok: CharTokenizer,
  examples: readonly Example[],
  options: { batchSize?: number } = {},
): Promise<ExactMatchResult> {
  if (examples.length === 0) throw new Error('exactMatch needs at least one example, got 0');
  const maxAnswer = Math.max(...examples.map((e) => [...e.answer].length));
  const outputs = await generate(
    model,
    examples.map((e) => promptTokens(tok, e.prompt)),
    { maxNewTokens: maxAnswer + 1, eosId: tok.eosId, batchSize: options.batchSize },
  );
  const predictions = outputs.map((ids) => tok.decode(ids));
  const correct = predictions.filter((p, i) => p === examples[i]!.answer).length;
  return { accuracy: correct / examples.length, correct, total: examples.length, predictions };
}

export interface AnswerScores {
  /** Masked cross-entropy over the answer tokens and <eos>, in nats per token (what `lmLoss` computes). */
  loss: number;
  /** Fraction of examples whose every answer token and <eos> is the argmax: greedy decoding's exact match. */
  exactMatch: number;
  correct: number;
  total: number;
}

/**
 * Loss and exact match of a batch of examples from ONE teacher-forced forward pass. Greedy decoding writes the
 * expected answer (then <eos>) exactly when, fed the expected prefix, the argmax at every answer position is
 * the expected token: by induction each greedy step then sees the expected prefix. So this exact match equals
 * `exactMatch()`'s, at the cost of one forward pass instead of one per generated token.
 */
export async function scoreAnswers(model: CausalLm, tok: CharTokenizer, examples: readonly Example[]): Promise<AnswerScores> {
  if (examples.length === 0) throw new Error('scoreAnswers needs at least one example, got 0');
  const batch = lmBatch(examples, tok);
  if (batch.length > model.config.contextLength) {
    throw new Error(`the longest record has ${batch.length} positions, more than contextLength ${model.config.contextLength}`);
  }
  const [loss, right] = tf.tidy(() => {
    const { inputs, targets, mask } = batchTensors(batch); // [B, T] each
    const logits = model.logits(inputs); // [B, T, V]
    const wrong = logits.argMax(-1).notEqual(targets).toFloat().mul(mask).sum(-1); // [B]: wrong answer tokens
    return [maskedCrossEntropy(logits, targets, mask), wrong.equal(0).toFloat().sum()];
  });
  const l = (await loss.data())[0]!;
  const correct = Math.round((await right.data())[0]!);
  tf.dispose([loss, right]);
  return { loss: l, exactMatch: correct / examples.length, correct, total: examples.length };
}

/** Share of rows whose argmax(logits) equals the label. logits [N, C], labels [N]. */
export async function accuracy(logits: tf.Tensor2D, labels: tf.Tensor1D | Int32Array): Promise<number> {
  const pred = tf.tidy(() => logits.argMax(-1)); // [N]
  const p = await pred.data();
  pred.dispose();
  const y = labels instanceof Int32Array ? labels : ((await labels.data()) as Int32Array);
  if (y.length !== p.length) throw new Error(`accuracy: ${p.length} predictions but ${y.length} labels`);
  let ok = 0;
  for (let i = 0; i < p.length; i++) if (p[i] === y[i]) ok++;
  return ok / p.length;
}
