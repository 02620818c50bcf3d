// SFT data for Hugging Face models: which tokens are learned for each JSONL format (completion + eos; every token of a
// text; the assistant turns of a chat), cutting to a length, the seeded held-out split, epoch-wise batches that are a
// pure function of (seed, step), and the exact mean loss over records.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { bundledGpt2Tokenizer, HfTokenizer } from '../src/models/hf/tokenizer.js';
import { parseJsonl, type SftExample } from '../src/data/jsonl.js';
import { learnedTokens, prepareSftData, sftBatch, sftBatchAt, sftLoss, tokenizeExample, type SftRecord } from '../src/train/sft-data.js';
import { lmLoss } from '../src/train/sft.js';
import { loadPretrained } from '../src/models/hf/loader.js';
import { buildHfFixtures } from './helpers/hf-fixtures.js';

let gpt2: HfTokenizer;
let sp: HfTokenizer;
let fx = { root: '', cleanup: () => {} };

const learnedText = (tok: HfTokenizer, r: SftRecord) => tok.decode(r.ids.filter((_, i) => r.learn[i] === 1));

describe('SFT data', () => {
  before(async () => {
    await tf.setBackend('cpu');
    gpt2 = await bundledGpt2Tokenizer();
    fx = buildHfFixtures();
    sp = await HfTokenizer.fromDir(path.join(fx.root, 'llama-gqa-bf16'));
  });
  after(() => fx.cleanup());

  it('prompt-completion: the prompt is context, the completion and eos are learned', () => {
    const ex: SftExample = { kind: 'prompt_completion', line: 1, prompt: 'The capital of France is', completion: ' Paris.' };
    const r = tokenizeExample(gpt2, ex, 100);
    assert.deepEqual(r.ids, [...gpt2.encode('The capital of France is Paris.'), 50256]);
    assert.equal(learnedText(gpt2, r), ' Paris.<|endoftext|>');
    assert.deepEqual([...r.learn].slice(0, 5), [0, 0, 0, 0, 0]);
    assert.equal(learnedTokens(r), 3);
    // A Llama-style tokenizer adds <s> to the prompt, which is never learned.
    const s = tokenizeExample(sp, { kind: 'prompt_completion', line: 1, prompt: 'the', completion: ' lora' }, 100);
    assert.equal(s.ids[0], 1);
    assert.equal(learnedText(sp, s).trim(), 'lora</s>');
    assert.equal(s.learn[0], 0);
  });

  it('text: every token and eos are learned; a chat: only the assistant turns', () => {
    const t = tokenizeExample(gpt2, { kind: 'text', line: 1, text: 'low rank updates' }, 100);
    assert.equal(learnedText(gpt2, t), 'low rank updates<|endoftext|>');
    const messages = [
      { role: 'user', content: 'hello' }, { role: 'assistant', content: 'hi there' },
      { role: 'user', content: 'the lora' }, { role: 'assistant', content: 'is on' },
    ];
    const c = tokenizeExample(sp, { kind: 'messages', line: 1, messages }, 200);
    assert.deepEqual(c.ids, sp.encodeChat(messages), 'the rendered chat, tokenised whole');
    // Both assistant contents with their end-of-turn, nothing of the users' turns or the headers.
    assert.equal(learnedText(sp, c).replace(/\s+/g, ''), 'hithere</s>ison</s>');
  });

  it('cuts records to maxTokens and says so', () => {
    const r = tokenizeExample(gpt2, { kind: 'text', line: 7, text: 'one two three four five six' }, 4);
    assert.equal(r.ids.length, 4);
    assert.equal(r.truncated, true);
    assert.equal(r.line, 7);
  });

  it('splits off a seeded held-out part, drops records with nothing to learn, pads with the pad id', () => {
    const lines = Array.from({ length: 20 }, (_, i) => JSON.stringify({ prompt: `item ${i} is`, completion: ` ${i * 3}` }));
    lines.push(JSON.stringify({ prompt: 'a very long prompt that fills every position there is', completion: ' x' }));
    const examples = parseJsonl(lines.join('\n'));
    const a = prepareSftData(gpt2, examples, { maxTokens: 8, evalFraction: 0.25, seed: 4 });
    assert.deepEqual(a.dropped, [21]);
    assert.equal(a.eval.length, 5);
    assert.equal(a.train.length, 15);
    const linesOf = (rs: SftRecord[]) => rs.map((r) => r.line);
    assert.deepEqual([...linesOf(a.train), ...linesOf(a.eval)].sort((x, y) => x - y), Array.from({ length: 20 }, (_, i) => i + 1));
    assert.deepEqual(linesOf(prepareSftData(gpt2, examples, { maxTokens: 8, evalFraction: 0.25, seed: 4 }).eval), linesOf(a.eval));
    assert.notDeepEqual(linesOf(prepareSftData(gpt2, examples, { maxTokens: 8, evalFraction: 0.25, seed: 5 }).eval), linesOf(a.eval));
    assert.equal(a.padId, 50256, "GPT-2 has no pad token: eos pads (masked out)");
    assert.throws(() => prepareSftData(gpt2, examples.slice(20), { maxTokens: 8 }), /no training example has a completion token within 8 tokens/);
  });

  it('batches: every record once per epoch, the same batch for the same (seed, step), masks = learn of the targets', () => {
    const recs: SftRecord[] = Array.from({ length: 5 }, (_, i) => ({
      ids: Array.from({ length: 2 + i }, (_, j) => 10 * i + j), learn: Uint8Array.from({ length: 2 + i }, (_, j) => (j >= 1 ? 1 : 0)),
      line: i + 1, truncated: false,
    }));
    const data = { train: recs, padId: 0 };
    const firstIds = (b: ReturnType<typeof sftBatch>) => Array.from({ length: b.batchSize }, (_, r) => b.inputs[r * b.length]! / 10);
    // 5 records, batch 5: step 0 and step 1 are two epochs, each a permutation of all five
    assert.deepEqual(firstIds(sftBatchAt(data, 1, 0, 5)).sort(), [0, 1, 2, 3, 4]);
    assert.deepEqual(firstIds(sftBatchAt(data, 1, 1, 5)).sort(), [0, 1, 2, 3, 4]);
    assert.deepEqual(sftBatchAt(data, 1, 3, 2), sftBatchAt(data, 1, 3, 2));
    const b = sftBatch([recs[0]!, recs[2]!], 0);
    assert.equal(b.length, 3);
    assert.deepEqual([...b.inputs], [0, 0, 0, 20, 21, 22]);
    assert.deepEqual([...b.targets], [1, 0, 0, 21, 22, 23]);
    assert.deepEqual([...b.mask], [1, 0, 0, 1, 1, 1]);
  });

  it('sftLoss is the mean over learned tokens of all records, whatever the batch size', async () => {
    const { model, tokenizer } = await loadPretrained(path.join(fx.root, 'gpt2-prefix-f16'));
    try {
      const examples = parseJsonl(['ab=ba', 'cde=edc', 'f=f', 'gh=hg', 'xyz=zyx'].map((s) => {
        const [p, c] = s.split('=');
        return JSON.stringify({ prompt: p, completion: c });
      }).join('\n'));
      const data = prepareSftData(tokenizer, examples, { maxTokens: 16, evalFraction: 0 });
      let sum = 0;
      let n = 0;
      for (const r of data.train) {
        const l = tf.tidy(() => lmLoss(model, sftBatch([r], data.padId)));
        sum += (await l.data())[0]! * learnedTokens(r);
        n += learnedTokens(r);
        l.dispose();
      }
      for (const bs of [1, 2, 5]) {
        assert.ok(Math.abs((await sftLoss(model, data.train, data.padId, bs)) - sum / n) < 1e-5, `batch size ${bs}`);
      }
    } finally {
      model.dispose();
    }
  });
});
