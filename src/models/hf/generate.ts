// Text generation for the Hugging Face decoders: prefill the prompt once, then one token per step reading the
// KV cache (kv-cache.ts), so a step costs O(S) attention instead of re-running the whole prefix. Greedy or
// sampled (sampling.ts); stops at an eos id, at maxNewTokens or at the context length; streams each new token
// to a callback. Without the cache every step re-reads prompt + output: the same tokens, more work.
import * as tf from '@tensorflow/tfjs';
import { mixSeed, seededRandom } from '../../data/rng.js';
import type { CausalLm } from '../generate.js';
import type { HfForwardOptions } from './attention.js';
import type { KvCache } from './kv-cache.js';
import { sampleToken, validateSampleOptions, type SampleOptions } from './sampling.js';

/** A causal LM that can decode incrementally. */
export interface CachedCausalLm extends CausalLm {
  newCache(): KvCache;
  forward(tokens: tf.Tensor2D, options?: HfForwardOptions): tf.Tensor3D;
}

export interface GenerateTokensOptions extends SampleOptions {
  /** Most tokens to add (fewer if the context fills or eos comes). @default 32 */
  maxNewTokens?: number;
  /** Stop when one of these is produced (it is not returned); e.g. tokenizer.eosIds. */
  eosIds?: readonly number[];
  /** Seed of the sampling draws (a rerun with the same seed gives the same text). @default 0 */
  seed?: number;
  /** Decode with the KV cache. @default true */
  useCache?: boolean;
  /** Called with each new token as soon as it is chosen (awaited), and its index among the new tokens. */
  onToken?: (id: number, index: number) => void | Promise<void>;
}

/**
 * The decoding settings a generation_config.json asks for, as transformers' generate() reads them: greedy unless
 * do_sample (then temperature, top_k 50, top_p 1.0 by default), max_new_tokens, and the eos id(s).
 */
export function generationOptions(generationConfig: Record<string, unknown> | null | undefined): GenerateTokensOptions {
  const g = generationConfig ?? {};
  const num = (k: string): number | undefined => (typeof g[k] === 'number' ? (g[k] as number) : undefined);
  const out: GenerateTokensOptions = {};
  if (g['do_sample'] === true) {
    out.temperature = num('temperature') ?? 1;
    out.topK = num('top_k') ?? 50;
    out.topP = num('top_p') ?? 1;
  }
  const maxNew = num('max_new_tokens');
  if (maxNew !== undefined) out.maxNewTokens = maxNew;
  const eos = g['eos_token_id'];
  const list: unknown[] = Array.isArray(eos) ? eos : eos === undefined || eos === null ? [] : [eos];
  const ids = list.filter((x): x is number => Number.isInteger(x));
  if (ids.length > 0) out.eosIds = ids;
  validateSampleOptions(out);
  return out;
}

/** The continuation of `prompt` (token ids), without the stopping eos. */
export async function generateTokens(
  model: CachedCausalLm,
  prompt: readonly number[],
  options: GenerateTokensOptions = {},
): Promise<number[]> {
  const maxNew = options.maxNewTokens ?? 32;
  if (!Number.isInteger(maxNew) || maxNew < 0) throw new Error(`maxNewTokens must be a non-negative integer, got ${maxNew}`);
  validateSampleOptions(options);
  const { contextLength, vocabSize } = model.config;
  if (prompt.length === 0) throw new Error('the prompt is empty: give at least one token (e.g. the bos id)');
  prompt.forEach((id, i) => {
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
      throw new Error(`prompt token ${i} is ${id}, outside the vocabulary 0..${vocabSize - 1}`);
    }
  });
  if (prompt.length > contextLength) {
    throw new Error(`the prompt has ${prompt.length} tokens, more than the context length ${contextLength}: shorten it`);
  }
  const eos = new Set(options.eosIds ?? []);
  const rng = seededRandom(mixSeed(options.seed ?? 0, 0x5eed));
  const steps = Math.min(maxNew, contextLength - prompt.length);
  const cache = options.useCache === false ? undefined : model.newCache();
  const seq = [...prompt];
  const out: number[] = [];
  try {
    let input = seq; // what the next forward pass reads: the prompt, then (with the cache) one token
    for (let step = 0; step < steps; step++) {
      const logits = tf.tidy(() => {
        const x = tf.tensor2d(input, [1, input.length], 'int32'); // [1, T]
        return model.forward(x, { cache, lastOnly: true }).reshape([-1]); // [V]
      });
      const row = await logits.data();
      logits.dispose();
      const id = sampleToken(row, options, rng);
      if (eos.has(id)) break;
      out.push(id);
      seq.push(id);
      await options.onToken?.(id, out.length - 1);
      input = cache === undefined ? seq : [id];
    }
  } finally {
    cache?.dispose();
  }
  return out;
}
