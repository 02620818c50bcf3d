// Writes data/tokenizers/gpt2/ (tokenizer.json, tokenizer_config.json) from the GPT-2 BPE ranks that the npm
// package js-tiktoken bundles (r50k_base: GPT-2's 50,257 tokens, MIT licence), in the Hugging Face layout.
// Vocabulary: rank → its bytes through GPT-2's bytes_to_unicode table. Merges: for each multi-byte token in
// rank order, the pair BPE builds it from (byte-pair encoding its bytes with only lower ranks leaves two parts).
// Run: npx tsx scripts/make-gpt2-tokenizer.ts [out-dir]   (deterministic: rerunning gives the same bytes)
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import r50k from 'js-tiktoken/ranks/r50k_base';

/** GPT-2's reversible byte → printable character map (openai/gpt-2 encoder.py bytes_to_unicode). */
export function bytesToUnicode(): string[] {
  const keep: number[] = [];
  for (let b = 33; b <= 126; b++) keep.push(b);
  for (let b = 161; b <= 172; b++) keep.push(b);
  for (let b = 174; b <= 255; b++) keep.push(b);
  const map: string[] = new Array(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    map[b] = keep.includes(b) ? String.fromCodePoint(b) : String.fromCodePoint(256 + extra++);
  }
  return map;
}

/** js-tiktoken's packed ranks: lines "<tag> <first rank> <base64 token> <base64 token> ...". */
export function unpackRanks(packed: string): Uint8Array[] {
  const byRank: Uint8Array[] = [];
  for (const line of packed.split('\n')) {
    if (line.length === 0) continue;
    const [, first, ...tokens] = line.split(' ');
    const start = Number.parseInt(first!, 10);
    tokens.forEach((t, i) => (byRank[start + i] = new Uint8Array(Buffer.from(t, 'base64'))));
  }
  for (let r = 0; r < byRank.length; r++) if (byRank[r] === undefined) throw new Error(`rank ${r} is missing from the packed ranks`);
  return byRank;
}

/** BPE of `token`'s bytes using only merges of rank < maxRank: the parts left. */
function bpeParts(token: Uint8Array, ranks: Map<string, number>, maxRank: number): string[] {
  let parts = [...token].map((b) => String.fromCharCode(b)); // byte strings (latin1) as map keys
  for (;;) {
    let best = -1;
    let bestRank = Infinity;
    for (let i = 0; i + 1 < parts.length; i++) {
      const r = ranks.get(parts[i]! + parts[i + 1]!);
      if (r !== undefined && r < bestRank) {
        bestRank = r;
        best = i;
      }
    }
    if (best < 0 || bestRank >= maxRank) return parts;
    parts = [...parts.slice(0, best), parts[best]! + parts[best + 1]!, ...parts.slice(best + 2)];
  }
}

export function gpt2TokenizerJson(): Record<string, unknown> {
  const byRank = unpackRanks(r50k.bpe_ranks);
  const latin1 = (b: Uint8Array) => String.fromCharCode(...b);
  const ranks = new Map(byRank.map((b, r) => [latin1(b), r]));
  const b2u = bytesToUnicode();
  const show = (s: string) => [...s].map((c) => b2u[c.charCodeAt(0)]).join('');
  const vocab: Record<string, number> = {};
  byRank.forEach((b, r) => (vocab[show(latin1(b))] = r));
  const merges: string[] = [];
  byRank.forEach((b, r) => {
    if (b.length < 2) return;
    const parts = bpeParts(b, ranks, r);
    if (parts.length !== 2) throw new Error(`rank ${r} (${show(latin1(b))}) does not split into one merge: ${parts.length} parts`);
    merges.push(`${show(parts[0]!)} ${show(parts[1]!)}`);
  });
  const specials = Object.entries(r50k.special_tokens) as [string, number][];
  for (const [t, id] of specials) vocab[t] = id;
  const byteLevel = (addPrefixSpace: boolean, trimOffsets: boolean) =>
    ({ type: 'ByteLevel', add_prefix_space: addPrefixSpace, trim_offsets: trimOffsets, use_regex: true });
  // The shape transformers' GPT2TokenizerFast saves (tokenizers 0.13+).
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specials.map(([content, id]) => ({
      id, content, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true,
    })),
    normalizer: null,
    pre_tokenizer: byteLevel(false, true),
    post_processor: byteLevel(true, false),
    decoder: byteLevel(true, true),
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '',
      fuse_unk: false, byte_fallback: false, vocab, merges,
    },
  };
}

export const GPT2_TOKENIZER_CONFIG = {
  add_bos_token: false,
  add_prefix_space: false,
  bos_token: '<|endoftext|>',
  clean_up_tokenization_spaces: true,
  eos_token: '<|endoftext|>',
  errors: 'replace',
  model_max_length: 1024,
  pad_token: null,
  tokenizer_class: 'GPT2Tokenizer',
  unk_token: '<|endoftext|>',
};

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const out = process.argv[2] ?? path.join(here, '..', 'data', 'tokenizers', 'gpt2');
  mkdirSync(out, { recursive: true });
  const json = gpt2TokenizerJson();
  writeFileSync(path.join(out, 'tokenizer.json'), JSON.stringify(json) + '\n');
  writeFileSync(path.join(out, 'tokenizer_config.json'), JSON.stringify(GPT2_TOKENIZER_CONFIG, null, 2) + '\n');
  const m = json['model'] as { vocab: object; merges: unknown[] };
  console.log(`wrote ${out}: ${Object.keys(m.vocab).length} tokens, ${m.merges.length} merges`);
}
