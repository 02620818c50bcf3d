// Packs records into next-token-prediction batches with a loss mask (plain arrays; train/ makes tensors).
// Record tokens: <bos> prompt = answer <eos>. inputs = tokens[0..n−2], targets = tokens[1..n−1]; for SFT the
// mask is 1 only where the target is an answer token or <eos>, so prompt tokens add nothing to the loss.
import type { CharTokenizer } from './tokenizer.js';
import { exampleAt, SEPARATOR, type Example, type Split, type TextTask } from './tasks.js';

/** One batch, row-major [batchSize, length]. Rows are right-padded with <pad> (mask 0 there). */
export interface LmBatch {
  readonly batchSize: number;
  readonly length: number;
  /** Token ids fed to the model, [batchSize, length]. */
  readonly inputs: Int32Array;
  /** The next token at each position, [batchSize, length]. */
  readonly targets: Int32Array;
  /** 1 where the target counts in the loss, else 0, [batchSize, length]. */
  readonly mask: Float32Array;
}

export interface LmBatchOptions {
  /** 'answer': loss on answer tokens and <eos> only (SFT); 'all': on every real token (pretraining). @default 'answer' */
  lossOn?: 'answer' | 'all';
  /** Pad every row to this many positions (default: the longest row). */
  length?: number;
}

/** The prompt as the model sees it before answering: <bos> prompt = (ids). */
export function promptTokens(tok: CharTokenizer, prompt: string): number[] {
  return tok.encode(`${prompt}${SEPARATOR}`, { bos: true });
}

/** Packs examples into a batch. */
export function lmBatch(examples: readonly Example[], tok: CharTokenizer, options: LmBatchOptions = {}): LmBatch {
  if (examples.length === 0) throw new Error('lmBatch needs at least one example, got 0');
  const lossOn = options.lossOn ?? 'answer';
  const rows = examples.map((e) => {
    const prompt = promptTokens(tok, e.prompt);
    const answer = tok.encode(e.answer, { eos: true });
    return { tokens: [...prompt, ...answer], firstAnswer: prompt.length };
  });
  const longest = Math.max(...rows.map((r) => r.tokens.length - 1));
  const length = options.length ?? longest;
  if (length < longest) {
    throw new Error(`length ${length} is shorter than the longest record (${longest} positions): use length >= ${longest}`);
  }
  const B = rows.length;
  const inputs = new Int32Array(B * length).fill(tok.padId);
  const targets = new Int32Array(B * length).fill(tok.padId);
  const mask = new Float32Array(B * length);
  rows.forEach((r, b) => {
    for (let t = 0; t < r.tokens.length - 1; t++) {
      inputs[b * length + t] = r.tokens[t]!;
      targets[b * length + t] = r.tokens[t + 1]!;
      // target t is tokens[t + 1]: an answer token (or <eos>) from t + 1 >= firstAnswer on
      mask[b * length + t] = lossOn === 'all' || t + 1 >= r.firstAnswer ? 1 : 0;
    }
  });
  return { batchSize: B, length, inputs, targets, mask };
}

/**
 * The batch of training step `step`: examples step·B .. step·B + B − 1 of the task's stream for `seed`.
 * A pure function of its arguments, so a resumed run sees exactly the batches an uninterrupted one would.
 */
export function batchAt(
  task: TextTask,
  tok: CharTokenizer,
  seed: number,
  step: number,
  batchSize: number,
  options: LmBatchOptions & { split?: Split } = {},
): LmBatch {
  const examples = Array.from({ length: batchSize }, (_, j) => exampleAt(task, seed, step * batchSize + j, options.split));
  return lmBatch(examples, tok, options);
}

/**
 * Each record of a batch as the tokens it must predict (targets, specials written as <eos> and <pad>) beside its
 * loss mask: the rows of a loss-mask picture (charts/loss-mask.ts).
 */
export function maskedTargets(batch: LmBatch, tok: CharTokenizer): { tokens: string[]; mask: number[] }[] {
  const { batchSize: B, length: T } = batch;
  return Array.from({ length: B }, (_, b) => ({
    tokens: Array.from(batch.targets.subarray(b * T, (b + 1) * T), (id) => tok.decode([id], { keepSpecials: true })),
    mask: Array.from(batch.mask.subarray(b * T, (b + 1) * T)),
  }));
}
