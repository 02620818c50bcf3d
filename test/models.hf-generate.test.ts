// Generation with the KV cache: cached and uncached decoding give the same tokens (greedy and sampled), eos
// stops a run, tokens stream to the callback in order, and the sampling rules keep exactly the tokens that
// temperature / top-k / top-p allow (checked against counts over many draws).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadPretrained } from '../src/models/hf/loader.js';
import { generateTokens, generationOptions } from '../src/models/hf/generate.js';
import { sampleToken, validateSampleOptions } from '../src/models/hf/sampling.js';
import { seededRandom } from '../src/data/rng.js';
import { buildHfFixtures } from './helpers/hf-fixtures.js';

describe('sampleToken', () => {
  const logits = [1, 3, 2, 3, -1, 0.5]; // ids 1 and 3 tie for the max
  it('is greedy at temperature 0 (argmax, ties to the lower id)', () => {
    assert.equal(sampleToken(logits, {}, seededRandom(0)), 1);
  });

  it('draws from softmax(logits / T) within top-k and top-p', () => {
    const count = (o: Parameters<typeof sampleToken>[1], n = 4000) => {
      const rng = seededRandom(1);
      const c = new Array(logits.length).fill(0);
      for (let i = 0; i < n; i++) c[sampleToken(logits, o, rng)]++;
      return c.map((x) => x / n);
    };
    const p = logits.map((l) => Math.exp(l));
    const z = p.reduce((a, b) => a + b, 0);
    const freq = count({ temperature: 1 }, 20000);
    freq.forEach((f, i) => assert.ok(Math.abs(f - p[i]! / z) < 0.015, `id ${i}: ${f} vs ${p[i]! / z}`));
    // top-k 2 keeps ids 1 and 3 (equal logits): each about 1/2.
    const k2 = count({ temperature: 1, topK: 2 });
    assert.deepEqual(k2.map((f) => f > 0), [false, true, false, true, false, false]);
    assert.ok(Math.abs(k2[1]! - 0.5) < 0.03);
    // top-k 3 with a tie at the 3rd place is id 2 (logit 2): ids 1, 3, 2.
    assert.deepEqual(count({ temperature: 1, topK: 3 }).map((f) => f > 0), [false, true, true, true, false, false]);
    // top-p 0.5: ids 1 and 3 hold 2·e³/z ≈ 0.77 ≥ 0.5 but id 1 alone (0.38) does not reach it.
    assert.deepEqual(count({ temperature: 1, topP: 0.5 }).map((f) => f > 0), [false, true, false, true, false, false]);
    // top-p 0.3: the first candidate alone (0.38) reaches it.
    assert.deepEqual(count({ temperature: 1, topP: 0.3 }).map((f) => f > 0), [false, true, false, false, false, false]);
    // A low temperature concentrates on the maxima.
    assert.ok(count({ temperature: 0.05 })[1]! + count({ temperature: 0.05 })[3]! > 0.999);
  });

  it('rejects bad options with the value', () => {
    assert.throws(() => validateSampleOptions({ temperature: -1 }), /temperature must be a number ≥ 0 \(0 = greedy\), got -1/);
    assert.throws(() => validateSampleOptions({ topK: 1.5 }), /topK must be a non-negative integer/);
    assert.throws(() => validateSampleOptions({ topP: 0 }), /topP must be in \(0, 1\]/);
  });
});

describe('generationOptions', () => {
  it("reads generation_config.json as transformers' generate() does", () => {
    assert.deepEqual(generationOptions(null), {});
    assert.deepEqual(generationOptions({ eos_token_id: [2, 33], max_new_tokens: 5 }), { maxNewTokens: 5, eosIds: [2, 33] });
    assert.deepEqual(generationOptions({ do_sample: true, temperature: 0.6, top_p: 0.9, eos_token_id: 2 }),
      { temperature: 0.6, topK: 50, topP: 0.9, eosIds: [2] });
    assert.throws(() => generationOptions({ do_sample: true, top_p: 2 }), /topP must be in \(0, 1\]/);
  });
});

describe('generateTokens on the tiny checkpoints', () => {
  let root = '';
  let cleanup = () => {};
  before(async () => {
    await tf.setBackend('cpu');
    ({ root, cleanup } = buildHfFixtures());
  });
  after(() => cleanup());

  for (const name of ['gpt2-prefix-f16', 'llama-gqa-bf16', 'qwen2-bias-f32']) {
    it(`${name}: cached and uncached decoding give the same tokens, greedy and sampled; no leaks`, async () => {
      const { model, tokenizer } = await loadPretrained(path.join(root, name));
      const before = tf.memory().numTensors;
      const prompt = tokenizer.encode('the cat is');
      const greedy = await generateTokens(model, prompt, { maxNewTokens: 6 });
      assert.equal(greedy.length, 6);
      assert.deepEqual(await generateTokens(model, prompt, { maxNewTokens: 6, useCache: false }), greedy);
      const o = { maxNewTokens: 6, temperature: 1.5, topK: 20, topP: 0.95, seed: 3 };
      const sampled = await generateTokens(model, prompt, o);
      assert.deepEqual(await generateTokens(model, prompt, { ...o, useCache: false }), sampled);
      assert.deepEqual(await generateTokens(model, prompt, o), sampled, 'a seed reproduces the draws');
      const other = await Promise.all([4, 5, 6, 7].map((seed) => generateTokens(model, prompt, { ...o, seed })));
      assert.ok(other.some((t) => t.join() !== sampled.join()), 'different seeds should give different text');
      // Greedy continuation = argmax of the uncached logits at each step.
      const x = tf.tensor2d([[...prompt, ...greedy.slice(0, 2)]], undefined, 'int32');
      const y = tf.tidy(() => model.logits(x).argMax(-1));
      const arg = (await y.array()) as number[][];
      assert.deepEqual(arg[0]!.slice(prompt.length - 1, prompt.length + 2), greedy.slice(0, 3));
      tf.dispose([x, y]);
      assert.equal(tf.memory().numTensors, before, 'generation leaked tensors');
      model.dispose();
    });
  }

  it('stops at an eos id, streams tokens in order, and stops at the context length', async () => {
    const { model, tokenizer } = await loadPretrained(path.join(root, 'gpt2-bare-f32-sharded'));
    const prompt = tokenizer.encode('hello');
    const all = await generateTokens(model, prompt, { maxNewTokens: 8 });
    const streamed: [number, number][] = [];
    const stopped = await generateTokens(model, prompt, {
      maxNewTokens: 8, eosIds: [all[3]!], onToken: (id, i) => void streamed.push([id, i]),
    });
    const cut = all.indexOf(all[3]!);
    assert.deepEqual(stopped, all.slice(0, cut));
    assert.deepEqual(streamed, stopped.map((id, i) => [id, i]));
    // n_positions is 16: a 12-token prompt leaves room for 4.
    assert.equal((await generateTokens(model, new Array(12).fill(5), { maxNewTokens: 10 })).length, 4);
    await assert.rejects(generateTokens(model, new Array(17).fill(5)), /the prompt has 17 tokens, more than the context length 16/);
    await assert.rejects(generateTokens(model, [300]), /prompt token 0 is 300, outside the vocabulary 0\.\.299/);
    await assert.rejects(generateTokens(model, []), /the prompt is empty/);
    model.dispose();
  });
});
