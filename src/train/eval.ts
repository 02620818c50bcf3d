// Evaluation: exact match of greedy answers on a task's examples (the fine-tune's headline metric), and
// classification accuracy. Both async and read results with `await data()` only.
import * as tf from '@tensorflow/tfjs';
import { generate, type CausalLm } from '../models/generate.js';
import { promptTokens } from '../data/batch.js';
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
