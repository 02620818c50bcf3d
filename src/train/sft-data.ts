// Supervised fine-tuning data for a Hugging Face causal LM: JSONL examples (src/data/jsonl.ts) → token ids with a
// "learn" flag per token, as TRL's SFTTrainer trains on them by default: prompt-completion → loss on the completion
// and eos only; text → loss on every token and eos; messages → the chat template rendered, loss on the assistant
// turns only. Then a seeded held-out split, the batch of step s (a pure function of seed and s, so a resumed run
// sees the same batches), and the exact mean loss over a set of records (Σ token losses / Σ learned tokens).
import * as tf from '@tensorflow/tfjs';
import type { LmBatch } from '../data/batch.js';
import type { SftExample, SftMessage } from '../data/jsonl.js';
import { mixSeed, seededRandom } from '../data/rng.js';
import type { HfTokenizer } from '../models/hf/tokenizer.js';
import { maskedCrossEntropy } from './loss.js';
import { batchTensors, type TrainableLm } from './sft.js';

/** One tokenised example: ids, and 1 where the token is one the model learns to predict. */
export interface SftRecord {
  ids: number[];
  learn: Uint8Array;
  /** The JSONL line it came from. */
  line: number;
  /** Cut to the length limit. */
  truncated: boolean;
}

/** Records ready to train on: a training and a held-out part, and the id padding uses (masked out). */
export interface SftData {
  train: SftRecord[];
  eval: SftRecord[];
  padId: number;
  /** Lines dropped because nothing learnable was left within the length limit. */
  dropped: number[];
  truncated: number;
}

/**
 * The chat rendered whole, and the character spans of the assistant turns: turn i spans from the render of the
 * messages before it (with the generation prompt, i.e. the assistant's header) to the render including it.
 */
function chatSpans(tok: HfTokenizer, messages: SftMessage[], where: string): { full: string; spans: [string, string][] } {
  const full = tok.applyChatTemplate(messages);
  const spans: [string, string][] = [];
  let at = 0;
  messages.forEach((m, i) => {
    if (m.role !== 'assistant') return;
    const before = i === 0 ? '' : tok.applyChatTemplate(messages.slice(0, i), { addGenerationPrompt: true });
    const after = tok.applyChatTemplate(messages.slice(0, i + 1));
    if (!after.startsWith(before) || !full.startsWith(after) || before.length < at) {
      throw new Error(
        `${where}: the chat template does not render these messages turn by turn (message ${i} changes what came ` +
          `before it), so the assistant's tokens cannot be found: use {"prompt", "completion"} data instead`,
      );
    }
    spans.push([before, after]);
    at = after.length;
  });
  return { full, spans };
}

/**
 * How many leading tokens of `prefix` the whole text's tokens share: where the learned part starts. Where the text
 * before a part and the part's first characters tokenise together ("▁" + "is" → "▁is"), that token is learned too.
 */
function sharedPrefix(prefix: readonly number[], ids: readonly number[]): number {
  let n = 0;
  while (n < prefix.length && n < ids.length && prefix[n] === ids[n]) n++;
  return n;
}

/**
 * Token ids and learn flags of one example, cut to `maxTokens` tokens (the model sees maxTokens − 1 positions). As
 * TRL does, the whole text is tokenised once and a part's tokens are found by tokenising the text before it: a
 * completion starts where the prompt's tokens end; an assistant turn runs from the end of the chat before it (with
 * the assistant's header) to the end of the chat up to and including it. Prompt-completion and text records end with
 * the tokenizer's eos (learned); a chat's template writes its own end-of-turn tokens.
 */
export function tokenizeExample(tok: HfTokenizer, ex: SftExample, maxTokens: number, source = 'data'): SftRecord {
  let ids: number[];
  let learn: Uint8Array;
  if (ex.kind === 'messages') {
    const { full, spans } = chatSpans(tok, ex.messages, `${source}:${ex.line}`);
    const encode = (text: string) => (text === '' ? [] : tok.encode(text, { addSpecialTokens: false }));
    ids = encode(full);
    learn = new Uint8Array(ids.length);
    for (const [before, after] of spans) learn.fill(1, sharedPrefix(encode(before), ids), encode(after).length);
  } else {
    const text = ex.kind === 'text' ? ex.text : ex.prompt + ex.completion;
    ids = tok.encode(text);
    const start = ex.kind === 'text' ? 0 : sharedPrefix(tok.encode(ex.prompt), ids);
    if (tok.eosId !== null) ids.push(tok.eosId);
    learn = new Uint8Array(ids.length).fill(1, start);
  }
  const truncated = ids.length > maxTokens;
  return { ids: ids.slice(0, maxTokens), learn: learn.slice(0, maxTokens), line: ex.line, truncated };
}

/** How many tokens of a record are targets of the loss (a token at position 0 has no context to be predicted from). */
export function learnedTokens(r: SftRecord): number {
  let n = 0;
  for (let i = 1; i < r.learn.length; i++) n += r.learn[i]!;
  return n;
}

export interface SftDataOptions {
  /** Longest record in tokens (the model's context + 1 at most). */
  maxTokens: number;
  /** Share of the examples held out for the eval loss (at least one when there are two or more). @default 0.1 */
  evalFraction?: number;
  /** Held-out examples given separately (then evalFraction is not used). */
  evalExamples?: SftExample[];
  /** Seeds the split. @default 0 */
  seed?: number;
  /** Names the data in errors. @default 'data' */
  source?: string;
}

/** Tokenises `examples`, drops those with nothing learnable left within maxTokens, and splits off the held-out part. */
export function prepareSftData(tok: HfTokenizer, examples: readonly SftExample[], o: SftDataOptions): SftData {
  const source = o.source ?? 'data';
  if (!Number.isInteger(o.maxTokens) || o.maxTokens < 2) throw new Error(`maxTokens must be an integer >= 2, got ${o.maxTokens}`);
  const frac = o.evalFraction ?? 0.1;
  if (!(frac >= 0 && frac < 1)) throw new Error(`evalFraction must be in [0, 1), got ${frac}: e.g. 0.1`);
  const dropped: number[] = [];
  let truncated = 0;
  const keep = (list: readonly SftExample[]) => list.flatMap((ex) => {
    const r = tokenizeExample(tok, ex, o.maxTokens, source);
    if (r.truncated) truncated++;
    if (learnedTokens(r) === 0) {
      dropped.push(ex.line);
      return [];
    }
    return [r];
  });
  let trainSet = keep(examples);
  let evalSet: SftRecord[] = [];
  if (o.evalExamples !== undefined) evalSet = keep(o.evalExamples);
  else if (frac > 0 && trainSet.length >= 2) {
    const order = permutation(trainSet.length, mixSeed(o.seed ?? 0, 1));
    const n = Math.max(1, Math.round(frac * trainSet.length));
    evalSet = order.slice(0, n).map((i) => trainSet[i]!);
    trainSet = order.slice(n).sort((a, b) => a - b).map((i) => trainSet[i]!);
  }
  if (trainSet.length === 0) {
    throw new Error(
      `${source}: no training example has a completion token within ${o.maxTokens} tokens ` +
        `(${dropped.length} dropped): shorten the prompts or raise the length limit`,
    );
  }
  const padId = tok.padId ?? tok.eosId ?? 0;
  return { train: trainSet, eval: evalSet, padId, dropped, truncated };
}

/** A seeded permutation of 0 .. n − 1 (Fisher–Yates). */
function permutation(n: number, seed: number): number[] {
  const rng = seededRandom(seed);
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [p[i], p[j]] = [p[j]!, p[i]!];
  }
  return p;
}

/** Records as one batch, right-padded with padId: inputs ids[0..n−2], targets ids[1..n−1], mask = learn of the target. */
export function sftBatch(records: readonly SftRecord[], padId: number): LmBatch {
  if (records.length === 0) throw new Error('sftBatch needs at least one record, got 0');
  const length = Math.max(...records.map((r) => r.ids.length - 1));
  const B = records.length;
  const inputs = new Int32Array(B * length).fill(padId);
  const targets = new Int32Array(B * length).fill(padId);
  const mask = new Float32Array(B * length);
  records.forEach((r, b) => {
    for (let t = 0; t + 1 < r.ids.length; t++) {
      inputs[b * length + t] = r.ids[t]!;
      targets[b * length + t] = r.ids[t + 1]!;
      mask[b * length + t] = r.learn[t + 1]!;
    }
  });
  return { batchSize: B, length, inputs, targets, mask };
}

/**
 * The batch of training step `step`: records step·B .. step·B + B − 1 of an endless stream that visits every record
 * once per epoch, in a fresh seeded order each epoch. With `micro` = {index, count}, only micro-batch `index` of
 * `count` equal parts of it (gradient accumulation; count must divide B).
 */
export function sftBatchAt(
  data: Pick<SftData, 'train' | 'padId'>,
  seed: number,
  step: number,
  batchSize: number,
  micro: { index: number; count: number } = { index: 0, count: 1 },
): LmBatch {
  if (batchSize % micro.count !== 0) {
    throw new Error(`batch size ${batchSize} does not split into ${micro.count} equal micro-batches: use a multiple of ${micro.count}`);
  }
  const n = data.train.length;
  const orders = new Map<number, number[]>();
  const records = Array.from({ length: batchSize }, (_, j) => {
    const k = step * batchSize + j;
    const epoch = Math.floor(k / n);
    if (!orders.has(epoch)) orders.set(epoch, permutation(n, mixSeed(seed, 2, epoch)));
    return data.train[orders.get(epoch)![k % n]!]!;
  });
  const size = batchSize / micro.count;
  return sftBatch(records.slice(micro.index * size, (micro.index + 1) * size), data.padId);
}

/** Mean loss per learned token over `records` (exact: batches are weighted by their learned tokens). */
export async function sftLoss(model: TrainableLm, records: readonly SftRecord[], padId: number, batchSize = 8): Promise<number> {
  if (records.length === 0) throw new Error('sftLoss needs at least one record');
  let sum = 0;
  let count = 0;
  for (let i = 0; i < records.length; i += batchSize) {
    const part = records.slice(i, i + batchSize);
    const n = part.reduce((s, r) => s + learnedTokens(r), 0);
    const loss = tf.tidy(() => {
      const { inputs, targets, mask } = batchTensors(sftBatch(part, padId));
      return maskedCrossEntropy(model.logits(inputs), targets, mask);
    });
    sum += (await loss.data())[0]! * n;
    loss.dispose();
    count += n;
  }
  return sum / count;
}
