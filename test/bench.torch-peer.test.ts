// The PyTorch peer of the training-step benchmark on a tiny shape: it builds the same GPT (its full parameter count
// equals lora-lab's for the same shape), trains LoRA's r·(in + out) per target, and reports finite timings as JSON.
// Skipped, saying why, where no Python with torch is installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { findTorchPython, runTorchPeer } from '../bench/lib/torch-peer.js';
import { Gpt } from '../src/models/gpt.js';
import { gptConfig } from '../src/models/config.js';
import { allVariables } from '../src/train/params.js';

test('the PyTorch peer builds the same GPT and LoRA config, and times both steps', async (t) => {
  const found = await findTorchPython();
  if ('unavailable' in found) {
    t.skip(found.unavailable);
    return;
  }
  await tf.setBackend('cpu');
  const vocab = 31;
  const r = await runTorchPeer({ preset: 'nano', batchSize: 2, vocab, r: 4, alpha: 8, targets: ['q_proj', 'v_proj'], threads: 1, reps: 2, budgetS: 5 });
  assert.ok(!('unavailable' in r), JSON.stringify(r));
  const ours = new Gpt(gptConfig({ preset: 'nano', vocabSize: vocab }), { seed: 1 });
  const ourParams = allVariables(ours).reduce((n, v) => n + v.size, 0);
  assert.equal(r.full.trainableParams, ourParams, 'PyTorch and lora-lab build the same architecture');
  assert.equal(r.lora.trainableParams, 2 * 2 * 4 * (32 + 32), '2 layers × (q, v) × r·(in + out)');
  assert.equal(r.threads, 1);
  for (const k of [r.full, r.lora]) assert.ok(k.ms > 0 && Number.isFinite(k.tokensPerSec) && k.runs.length === r.reps);
  assert.ok(r.loraOverFull > 0 && r.loraOverFull < 2);
  ours.dispose();
});
