// LoRA on the project's tiny GPT (the integration the notebooks rely on): q/v targets and "all-linear"
// resolve to the expected module paths, the model equals its base at step 0, merged = unmerged, and an
// adapter saved from one GPT loads onto a fresh copy of the same base with identical logits.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { Gpt } from '../src/models/gpt.js';
import { gptConfig } from '../src/models/config.js';
import { injectLora } from '../src/lora/model.js';
import { loadAdapter, saveAdapter } from '../src/lora/adapter.js';
import { maxAbsDiff } from './helpers/tiny-mlp.js';

before(async () => {
  await tf.setBackend('cpu');
});

const config = gptConfig({ preset: 'nano', vocabSize: 11 });
const tokens = () => tf.tensor2d([[1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 0, 1]], [2, 6], 'int32');

test('LoRA on the GPT: PEFT paths, base outputs at init, merge = unmerged, save → load identical', async () => {
  const gpt = new Gpt(config, { seed: 3 });
  const y0 = gpt.logits(tokens());
  const all = injectLora(gpt, { target_modules: 'all-linear', r: 2 });
  assert.deepEqual([...all.loraLayers().keys()].slice(0, 6), [
    'layers.0.self_attn.q_proj', 'layers.0.self_attn.k_proj', 'layers.0.self_attn.v_proj',
    'layers.0.self_attn.o_proj', 'layers.0.mlp.up_proj', 'layers.0.mlp.down_proj',
  ]);
  assert.ok(!all.loraLayers().has('lm_head'), 'all-linear leaves the output head alone');
  all.unload();

  const lm = injectLora(gpt, { target_modules: ['q_proj', 'v_proj'], r: 4, lora_alpha: 8, init_lora_weights: false });
  assert.deepEqual([...lm.loraLayers().keys()], ['layers.0.self_attn.q_proj', 'layers.0.self_attn.v_proj', 'layers.1.self_attn.q_proj', 'layers.1.self_attn.v_proj']);
  const yLora = gpt.logits(tokens());
  assert.ok(maxAbsDiff(yLora, y0) > 1e-4, 'a non-zero B changes the logits');
  lm.disableAdapters();
  assert.equal(maxAbsDiff(gpt.logits(tokens()), y0), 0, 'disabled adapters give the base logits exactly');
  lm.enableAdapters();
  lm.merge();
  assert.ok(maxAbsDiff(gpt.logits(tokens()), yLora) <= 1e-5);
  lm.unmerge();

  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lora-lab-gpt-'));
  await saveAdapter(lm, dir);
  const fresh = new Gpt(config, { seed: 3 });
  await loadAdapter(fresh, dir);
  assert.equal(maxAbsDiff(fresh.logits(tokens()), yLora), 0);
  gpt.dispose();
  fresh.dispose();
  await fs.rm(dir, { recursive: true });
});
