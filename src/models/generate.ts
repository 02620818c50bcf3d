// Greedy decoding for a causal language model: append argmax(logits at the last position) until <eos>.
// Async and free of sync reads (only `await t.data()`), so it runs on webgpu too. No KV cache: the tiny
// models here re-read a few dozen tokens per step, which costs less than the bookkeeping would.
import * as tf from '@tensorflow/tfjs';

/** Anything with next-token logits [B, T] → [B, T, V] and a context length. */
export interface CausalLm {
  readonly config: { readonly contextLength: number; readonly vocabSize: number };
  logits(tokens: tf.Tensor2D, options?: { training?: boolean }): tf.Tensor3D;
}

export interface GenerateOptions {
  /** Most tokens to add per prompt (fewer if the context fills up). @default 32 */
  maxNewTokens?: number;
  /** Stop a row when it emits this id (not included in the output). */
  eosId?: number;
  /** Rows decoded together (prompts of equal length share a batch). @default 64 */
  batchSize?: number;
}

/**
 * Greedy continuation of each prompt (token ids). Returns only the new tokens, without the <eos>.
 * Prompts are grouped by length so a batch needs no padding (positions are absolute).
 */
export async function generate(model: CausalLm, prompts: readonly number[][], options: GenerateOptions = {}): Promise<number[][]> {
  const maxNew = options.maxNewTokens ?? 32;
  const batchSize = options.batchSize ?? 64;
  if (!Number.isInteger(maxNew) || maxNew < 0) throw new Error(`maxNewTokens must be a non-negative integer, got ${maxNew}`);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`batchSize must be a positive integer, got ${batchSize}`);
  const out: number[][] = prompts.map(() => []);
  const byLength = new Map<number, number[]>();
  prompts.forEach((p, i) => {
    if (p.length === 0) throw new Error(`prompt ${i} is empty: start it with <bos> at least`);
    if (p.length > model.config.contextLength) {
      throw new Error(`prompt ${i} has ${p.length} tokens, more than contextLength ${model.config.contextLength}`);
    }
    byLength.set(p.length, [...(byLength.get(p.length) ?? []), i]);
  });

  for (const [len, rows] of byLength) {
    for (let s = 0; s < rows.length; s += batchSize) {
      const group = rows.slice(s, s + batchSize);
      const seqs = group.map((i) => [...prompts[i]!]);
      const done = group.map(() => false);
      const steps = Math.min(maxNew, model.config.contextLength - len);
      for (let step = 0; step < steps && done.includes(false); step++) {
        const next = tf.tidy(() => {
          const x = tf.tensor2d(seqs.flat(), [seqs.length, len + step], 'int32'); // [b, t]
          const logits = model.logits(x); // [b, t, V]
          return logits.slice([0, len + step - 1, 0], [-1, 1, -1]).squeeze([1]).argMax(-1); // [b]
        });
        const ids = await next.data();
        next.dispose();
        group.forEach((row, j) => {
          const id = ids[j]!;
          seqs[j]!.push(id); // keep rows the same length; finished rows are ignored below
          if (done[j]) return;
          if (options.eosId !== undefined && id === options.eosId) done[j] = true;
          else out[row]!.push(id);
        });
      }
    }
  }
  return out;
}
