// Base checkpoints: round trip bit-identical (GPT + tokenizer, classifier), PyTorch orientation on disk, and one
// clear error per way a checkpoint can be wrong (missing files, keys, shapes, dtypes, values, config).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { Gpt } from '../src/models/gpt.js';
import { gptConfig } from '../src/models/config.js';
import { MlpClassifier } from '../src/models/classifier.js';
import { loadCheckpoint, loadClassifier, loadGpt, namedWeights, saveCheckpoint } from '../src/models/checkpoint.js';
import { CharTokenizer } from '../src/data/tokenizer.js';
import { decodeSafetensors, encodeSafetensors, f32Tensor, toFloat32 } from '../src/io/index.js';
import { injectLora } from '../src/lora/index.js';

let root: string;
before(async () => {
  await tf.setBackend('cpu');
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'lora-lab-ckpt-'));
});
after(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

const tok = new CharTokenizer();
const nano = (seed = 1) => new Gpt(gptConfig({ preset: 'nano', vocabSize: tok.vocabSize }), { seed });

async function weightsOf(m: { layers: Map<string, tf.layers.Layer> }): Promise<Float32Array[]> {
  return Promise.all([...m.layers.values()].flatMap((l) => l.weights.map(async (w) => (await w.read().data()) as Float32Array)));
}

async function saveNano(name: string): Promise<string> {
  const dir = path.join(root, name);
  const m = nano();
  await saveCheckpoint(m, dir, { tokenizer: tok, metadata: { note: 'test' } });
  m.dispose();
  return dir;
}

/** Rewrites model.safetensors of `dir` through `edit`. */
async function editWeights(dir: string, edit: (t: Map<string, ReturnType<typeof f32Tensor>>) => void): Promise<void> {
  const file = path.join(dir, 'model.safetensors');
  const { tensors, metadata } = decodeSafetensors(new Uint8Array(await fs.readFile(file)));
  edit(tensors);
  await fs.writeFile(file, encodeSafetensors(Object.fromEntries(tensors), metadata));
}

test('GPT round trip is bit-identical, keeps the tokenizer, and leaks nothing', async () => {
  const m = nano(7);
  const dir = path.join(root, 'gpt');
  await saveCheckpoint(m, dir, { tokenizer: tok, metadata: { steps: 3 } });
  const before = tf.memory().numTensors;
  const back = await loadGpt(dir);
  assert.deepEqual(await weightsOf(back.model), await weightsOf(m));
  assert.deepEqual(back.model.config, m.config);
  assert.equal(back.tokenizer.chars, tok.chars);
  assert.deepEqual(back.metadata, { steps: 3 });
  const nWeights = [...back.model.layers.values()].reduce((n, l) => n + l.weights.length, 0);
  assert.equal(tf.memory().numTensors, before + nWeights); // only the new model's variables
  m.dispose();
  back.model.dispose();
});

test('files use PyTorch names and [out, in] weights', async () => {
  const m = nano(2);
  const dir = path.join(root, 'orient');
  await saveCheckpoint(m, dir, { tokenizer: tok });
  const { tensors } = decodeSafetensors(new Uint8Array(await fs.readFile(path.join(dir, 'model.safetensors'))));
  const up = tensors.get('layers.0.mlp.up_proj.weight')!;
  assert.deepEqual(up.shape, [128, 32]); // [out, in]; the TF.js kernel is [32, 128]
  const kernel = (await m.layers.get('layers.0.mlp.up_proj')!.weights[0]!.read().array()) as number[][];
  const stored = toFloat32(up);
  assert.equal(stored[5 * 32 + 3], Math.fround(kernel[3]![5]!)); // weight[o=5][i=3] = kernel[i=3][o=5]
  for (const k of ['embed_tokens.weight', 'embed_positions.weight', 'layers.1.input_layernorm.weight', 'layers.1.input_layernorm.bias', 'norm.weight', 'lm_head.weight']) {
    assert.ok(tensors.has(k), k);
  }
  assert.equal(tensors.size, namedWeights(m).length);
  const config = JSON.parse(await fs.readFile(path.join(dir, 'config.json'), 'utf8'));
  assert.equal(config.model_type, 'gpt');
  assert.equal(config.tokenizer.chars, tok.chars);
  m.dispose();
});

test('classifier round trip; loadGpt refuses a classifier', async () => {
  const c = new MlpClassifier(undefined, { seed: 5 });
  const dir = path.join(root, 'clf');
  await saveCheckpoint(c, dir);
  const back = await loadClassifier(dir);
  assert.deepEqual(await weightsOf(back.model), await weightsOf(c));
  await assert.rejects(loadGpt(dir), /model_type is 'mlp_classifier', expected 'gpt'/);
  c.dispose();
  back.model.dispose();
});

test('a LoRA-wrapped model cannot be saved as a base checkpoint; a merged one can', async () => {
  const m = nano();
  const lora = injectLora(m, { r: 2, target_modules: ['q_proj'] });
  await assert.rejects(saveCheckpoint(m, path.join(root, 'lora'), { tokenizer: tok }), /layer 'layers\.0\.self_attn\.q_proj' is a LoraLabLoraDense.*mergeAndUnload/);
  lora.mergeAndUnload();
  await saveCheckpoint(m, path.join(root, 'lora'), { tokenizer: tok });
  await assert.rejects(saveCheckpoint(m, path.join(root, 'x')), /needs its tokenizer/);
  m.dispose();
});

test('each bad checkpoint fails with its own clear error', async () => {
  await assert.rejects(loadCheckpoint(path.join(root, 'nowhere')), /no checkpoint at '.*nowhere': config\.json not found/);

  let dir = await saveNano('no-weights');
  await fs.rm(path.join(dir, 'model.safetensors'));
  await assert.rejects(loadCheckpoint(dir), /model\.safetensors not found: the checkpoint is incomplete/);

  dir = await saveNano('missing-key');
  await editWeights(dir, (t) => t.delete('layers.1.self_attn.v_proj.weight'));
  await assert.rejects(loadCheckpoint(dir), /missing tensor 'layers\.1\.self_attn\.v_proj\.weight' \[32, 32\]/);

  dir = await saveNano('extra-key');
  await editWeights(dir, (t) => t.set('layers.9.mlp.up_proj.weight', f32Tensor([1], new Float32Array([0]))));
  await assert.rejects(loadCheckpoint(dir), /unexpected tensor 'layers\.9\.mlp\.up_proj\.weight'/);

  dir = await saveNano('bad-shape');
  await editWeights(dir, (t) => t.set('lm_head.weight', f32Tensor([32, 31], new Float32Array(32 * 31))));
  await assert.rejects(loadCheckpoint(dir), /tensor 'lm_head\.weight' has shape \[32, 31\] but config\.json implies \[31, 32\]/);

  dir = await saveNano('bad-dtype');
  await editWeights(dir, (t) => t.set('norm.bias', { dtype: 'I32', shape: [32], data: new Uint8Array(128) }));
  await assert.rejects(loadCheckpoint(dir), /tensor 'norm\.bias' is I32; expected a float type/);

  dir = await saveNano('nan');
  await editWeights(dir, (t) => t.set('norm.bias', f32Tensor([32], new Float32Array(32).fill(NaN))));
  await assert.rejects(loadCheckpoint(dir), /tensor 'norm\.bias' holds NaN at flat index 0/);

  dir = await saveNano('bad-config');
  const cfgFile = path.join(dir, 'config.json');
  const cfg = JSON.parse(await fs.readFile(cfgFile, 'utf8'));
  await fs.writeFile(cfgFile, JSON.stringify({ ...cfg, config: { ...cfg.config, nHeads: 5 } }));
  await assert.rejects(loadCheckpoint(dir), /config\.json: dModel \(32\) must be divisible by nHeads \(5\)/);
  await fs.writeFile(cfgFile, JSON.stringify({ ...cfg, model_type: 'bert' }));
  await assert.rejects(loadCheckpoint(dir), /unknown model_type 'bert'/);
  await fs.writeFile(cfgFile, JSON.stringify({ ...cfg, tokenizer: { ...cfg.tokenizer, chars: 'abc' } }));
  await assert.rejects(loadCheckpoint(dir), /tokenizer has 6 ids but config\.vocabSize is 31/);
  await fs.writeFile(cfgFile, '{ not json');
  await assert.rejects(loadCheckpoint(dir), /config\.json: not a valid checkpoint config/);
});
