// Tokenizers from tokenizer.json: the bundled GPT-2 tokenizer gives js-tiktoken's ids (the reference for GPT-2's
// BPE), a Llama-style SentencePiece BPE gives the ids a plain BPE over its merges gives, bos/eos come from the
// configs in transformers' order, and chat templates render with the special tokens.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Tiktoken } from 'js-tiktoken/lite';
import r50k from 'js-tiktoken/ranks/r50k_base';
import { HfTokenizer, bundledGpt2Tokenizer } from '../src/models/hf/tokenizer.js';
import { buildHfFixtures } from './helpers/hf-fixtures.js';

const SENTENCES = [
  'Hello world, it\'s 2026!',
  '  LoRA\'s rank r = 8:  ΔW = B·A\n\ttabs, 日本語 and émojis 🤖',
  "I'll've they're 12345 6.5% <b>tags</b>   trailing   ",
  'The quick brown fox jumps over the lazy dog.',
];

describe('GPT-2 tokenizer (data/tokenizers/gpt2)', () => {
  it('encodes to the ids js-tiktoken gives for r50k_base, and decodes back', async () => {
    const enc = new Tiktoken(r50k);
    const tok = await bundledGpt2Tokenizer();
    for (const s of SENTENCES) {
      const ids = tok.encode(s);
      assert.deepEqual(ids, enc.encode(s), s);
      assert.equal(tok.decode(ids), s);
    }
    assert.deepEqual(tok.encode('Hello world'), [15496, 995]);
    assert.deepEqual(tok.tokenize('Hello world'), ['Hello', 'Ġworld']);
    assert.equal(tok.vocabSize, 50257);
    assert.equal(tok.eosId, 50256);
    assert.equal(tok.bosId, 50256);
    assert.deepEqual(tok.encode('a<|endoftext|>b'), [64, 50256, 65]);
    assert.equal(tok.decode([64, 50256, 65], { skipSpecialTokens: true }), 'ab');
    assert.equal(tok.chatTemplate, null);
    assert.throws(() => tok.applyChatTemplate([{ role: 'user', content: 'hi' }]), /no chat_template in tokenizer_config\.json/);
    assert.throws(() => tok.decode([50257]), /token id 50257 is outside the tokenizer's vocabulary 0\.\.50256/);
  });
});

describe('a Llama-style tokenizer folder', () => {
  let root = '';
  let cleanup = () => {};
  before(() => ({ root, cleanup } = buildHfFixtures()));
  after(() => cleanup());

  it('gives BPE ids over its merges, with <s> added and unknown characters fused into <unk>', async () => {
    const tok = await HfTokenizer.fromDir(path.join(root, 'llama-gqa-bf16'));
    // Reference: "▁" + text with spaces as "▁", merged by rank (a plain BPE over SP64_MERGES).
    assert.deepEqual(tok.encode('hello lora world'), [1, 3, 35, 63, 57, 44, 4, 62, 15, 7]);
    assert.deepEqual(tok.encode('the cat is in the snow!'), [1, 36, 51, 42, 47, 22, 3, 37, 36, 41, 17, 58, 32]);
    assert.deepEqual(tok.encode('Hi 42'), [1, 3, 0, 12, 3, 0]);
    assert.deepEqual(tok.encode('hello', { addSpecialTokens: false }), [3, 35, 63]);
    assert.equal(tok.decode(tok.encode('hello lora world'), { skipSpecialTokens: true }), 'hello lora world');
  });

  it('takes bos/eos from generation_config.json first, then config.json, then tokenizer_config.json', async () => {
    const tok = await HfTokenizer.fromDir(path.join(root, 'llama-gqa-bf16'));
    assert.equal(tok.bosId, 1);
    assert.deepEqual(tok.eosIds, [2, 33]); // generation_config.json's list
    const json = await import('node:fs').then((fs) => JSON.parse(fs.readFileSync(path.join(root, 'llama-gqa-bf16', 'tokenizer.json'), 'utf8')));
    assert.deepEqual(new HfTokenizer(json, { eos_token: '</s>' }).eosIds, [2]);
    assert.deepEqual(new HfTokenizer(json, { eos_token: '</s>' }, { modelConfig: { eos_token_id: 33 } }).eosIds, [33]);
  });

  it('rebuilds the post-processor from add_bos_token / add_eos_token as LlamaTokenizerFast does', async () => {
    const fs = await import('node:fs');
    const dir = path.join(root, 'llama-gqa-bf16');
    const json = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8'));
    const config = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8'));
    assert.deepEqual(new HfTokenizer(json, { ...config, add_bos_token: false }).encode('hello'), [3, 35, 63]);
    assert.deepEqual(new HfTokenizer(json, { ...config, add_eos_token: true }).encode('hello'), [1, 3, 35, 63, 2]);
    // Another tokenizer class keeps tokenizer.json's post-processor.
    assert.deepEqual(new HfTokenizer(json, { ...config, add_bos_token: false, tokenizer_class: 'PreTrainedTokenizerFast' }).encode('hello'), [1, 3, 35, 63]);
  });

  it('renders the chat template with the special tokens and the generation prompt', async () => {
    const tok = await HfTokenizer.fromDir(path.join(root, 'llama-gqa-bf16'));
    const messages = [{ role: 'user', content: 'hello' }, { role: 'assistant', content: 'lora' }];
    assert.equal(tok.applyChatTemplate(messages), '<s>[user] hello</s>[assistant] lora</s>');
    assert.equal(tok.applyChatTemplate(messages.slice(0, 1), { addGenerationPrompt: true }), '<s>[user] hello</s>[assistant] ');
    const ids = tok.encodeChat(messages.slice(0, 1));
    assert.equal(ids[0], 1);
    assert.equal(ids.filter((i) => i === 1).length, 1, 'the template writes <s>; encodeChat must not add another');
    assert.equal(ids.at(-1), 2);
    assert.throws(() => tok.applyChatTemplate([{ role: 'user' } as never]), /message 0 must be \{"role": string, "content": string\}/);
  });

  it('refuses a file that is not a tokenizer.json', () => {
    assert.throws(() => new HfTokenizer({ vocab: {} }, {}, { source: 'x/tokenizer.json' }), /x\/tokenizer\.json is not a tokenizer\.json/);
  });
});
