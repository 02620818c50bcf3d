// scoreAnswers() against the slow way: greedy decoding's exact match (exactMatch) and lmLoss on the same
// examples, on the bundled GPT with its trained adapters (near 100 %, partly right, and all wrong), no leaks.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { exactMatch, scoreAnswers } from '../src/train/eval.js';
import { lmLoss } from '../src/train/sft.js';
import { lmBatch } from '../src/data/batch.js';
import { makeExamples, textTask } from '../src/data/tasks.js';
import { bundledAdapter, bundledCheckpoint, loadGpt } from '../src/models/checkpoint.js';
import { loadAdapter } from '../src/lora/adapter.js';
import { useBackend } from '../src/backend/index.js';
import type { Gpt } from '../src/models/gpt.js';
import type { CharTokenizer } from '../src/data/tokenizer.js';

describe('scoreAnswers()', () => {
  let model: Gpt;
  let tok: CharTokenizer;
  before(async () => {
    await useBackend('wasm', { log: null }); // greedy decoding on plain-JS cpu would take minutes
    ({ model, tokenizer: tok } = await loadGpt(bundledCheckpoint('gpt')));
  });

  const agree = async (task: string, n: number) => {
    const examples = makeExamples(textTask(task), n, 5, 'test');
    const slow = await exactMatch(model, tok, examples);
    const fast = await scoreAnswers(model, tok, examples);
    const t = lmLoss(model, lmBatch(examples, tok));
    const loss = (await t.data())[0]!;
    t.dispose();
    assert.equal(fast.correct, slow.correct, `${task}: teacher-forced ${fast.correct} vs greedy ${slow.correct}`);
    assert.equal(fast.total, n);
    assert.equal(fast.exactMatch, slow.accuracy);
    assert.ok(Math.abs(fast.loss - loss) < 1e-5, `${task}: loss ${fast.loss} vs lmLoss ${loss}`);
    return fast;
  };

  it('gives greedy decoding\'s exact match and lmLoss\'s loss, whether the model is right, partly right or wrong', async () => {
    const tensors = tf.memory().numTensors;
    assert.equal((await agree('copy', 24)).exactMatch, 1); // the pretraining task
    assert.equal((await agree('shift', 24)).correct, 0); // the base cannot shift
    const lm = await loadAdapter(model, bundledAdapter('repeat'));
    const partly = await agree('repeat', 32); // about 90 %: some answers right, some wrong
    assert.ok(partly.correct > 16 && partly.correct < 32, `repeat adapter: ${partly.correct} of 32`);
    lm.unload();
    assert.equal(tf.memory().numTensors, tensors);
  });

  it('refuses no examples and records longer than the context', async () => {
    await assert.rejects(scoreAnswers(model, tok, []), /scoreAnswers needs at least one example, got 0/);
    const long = [{ prompt: 'abcd '.repeat(4).trim(), answer: 'abcd '.repeat(4).trim() }];
    await assert.rejects(scoreAnswers(model, tok, long), /more than contextLength 32/);
  });
});
