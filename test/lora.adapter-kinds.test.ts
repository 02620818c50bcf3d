// Every adapter kind through files in PEFT's layout, and combination per kind: an embedding adapter
// (lora_embedding_A [r, V] / lora_embedding_B [d, r]) next to linear ones, Conv1D targets (fan_in_fan_out: true),
// an adapter over a quantised base (recorded, re-quantised from the full-precision model on load: identical outputs),
// validation before the model is touched; add_weighted_adapter on embedding and quantised adapters, DoRA refused.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadAdapter, readAdapter, saveAdapter } from '../src/lora/adapter.js';
import { addWeightedAdapter, adapterDeltas } from '../src/lora/combine.js';
import { injectLora } from '../src/lora/model.js';
import { isLoraLayer } from '../src/lora/lora-layer.js';
import { decodeSafetensors } from '../src/io/safetensors.js';
import { Gpt } from '../src/models/gpt.js';
import { gptConfig } from '../src/models/config.js';
import { Conv1D } from '../src/models/conv1d.js';
import type { LayerTree } from '../src/models/module.js';
import { quantizeBase } from '../src/quant/base.js';
import { CharTokenizer } from '../src/data/tokenizer.js';
import { maxAbsDiff, snapshot } from './helpers/tiny-mlp.js';

let root: string;
before(async () => {
  await tf.setBackend('cpu');
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'lora-lab-adapter-kinds-'));
});

const tok = new CharTokenizer();
const V = tok.vocabSize;
const gpt = () => new Gpt(gptConfig({ preset: 'nano', vocabSize: V }), { seed: 4 }); // seeded: two calls, one base
const ids = () => tf.tensor2d([tok.encode('abc=cba', { bos: true }), tok.encode('xy=yx', { bos: true }).concat([0, 0])], undefined, 'int32');
const keysOf = async (dir: string) => {
  const { tensors } = decodeSafetensors(new Uint8Array(await fs.readFile(path.join(dir, 'adapter_model.safetensors'))));
  return [...tensors].map(([k, t]) => `${k} [${t.shape.join(', ')}]`);
};

test("an embedding + linear adapter saves under PEFT's names and loads into a fresh copy with identical outputs", async () => {
  const src = gpt();
  const lm = injectLora(src, { r: 2, lora_alpha: 4, target_modules: ['embed_tokens', 'layers.0.self_attn.q_proj'], init_lora_weights: false });
  const x = ids();
  const y = src.logits(x);
  const dir = path.join(root, 'embedding');
  await saveAdapter(lm, dir);
  assert.deepEqual(await keysOf(dir), [
    `base_model.model.embed_tokens.lora_embedding_A [2, ${V}]`,
    'base_model.model.embed_tokens.lora_embedding_B [32, 2]',
    'base_model.model.layers.0.self_attn.q_proj.lora_A.weight [2, 32]',
    'base_model.model.layers.0.self_attn.q_proj.lora_B.weight [32, 2]',
  ]);
  const ad = await readAdapter(dir);
  assert.equal(ad.modules.get('embed_tokens')!.embedding, true);
  assert.equal(ad.baseQuantization, null);
  const dst = gpt();
  const lm2 = await loadAdapter(dst, dir);
  assert.equal(lm2.loraLayers().get('embed_tokens')!.kind, 'embedding');
  assert.equal(maxAbsDiff(dst.logits(x), y), 0);
  // An embedding adapter offered to a model whose layer is linear is refused before anything changes.
  const other = gpt();
  const wrong = path.join(root, 'wrong-kind');
  await fs.cp(dir, wrong, { recursive: true });
  const cfgPath = path.join(wrong, 'adapter_config.json');
  const json = JSON.parse(await fs.readFile(cfgPath, 'utf8'));
  await fs.writeFile(cfgPath, JSON.stringify({ ...json, target_modules: ['embed_tokens', 'layers.0.self_attn.q_proj', 'lm_head'] }));
  const before = snapshot(other);
  await assert.rejects(loadAdapter(other, wrong), /missing key 'base_model\.model\.lm_head\.lora_A\.weight' for layer 'lm_head'/);
  assert.deepEqual(snapshot(other), before);
  assert.ok([...other.layers.values()].every((l) => !isLoraLayer(l)));
  lm.unload();
  lm2.unload();
});

test('Conv1D targets: adapter_config.json carries fan_in_fan_out: true; A [r, in], B [out, r]; reloads identically', async () => {
  const tree = (): LayerTree => {
    const c = new Conv1D({ inFeatures: 8, outFeatures: 24, seed: 9, name: 'c_attn' });
    c.build();
    return { layers: new Map([['h.0.attn.c_attn', c as tf.layers.Layer]]) };
  };
  const a = tree();
  const lm = injectLora(a, { r: 2, target_modules: ['c_attn'], init_lora_weights: false });
  const dir = path.join(root, 'conv1d');
  await saveAdapter(lm, dir);
  const json = JSON.parse(await fs.readFile(path.join(dir, 'adapter_config.json'), 'utf8'));
  assert.equal(json.fan_in_fan_out, true);
  assert.deepEqual(await keysOf(dir), ['base_model.model.h.0.attn.c_attn.lora_A.weight [2, 8]', 'base_model.model.h.0.attn.c_attn.lora_B.weight [24, 2]']);
  const b = tree();
  await loadAdapter(b, dir);
  const x = tf.randomNormal([3, 8], 0, 1, 'float32', 2);
  assert.equal(maxAbsDiff(b.layers.get('h.0.attn.c_attn')!.apply(x) as tf.Tensor, a.layers.get('h.0.attn.c_attn')!.apply(x) as tf.Tensor), 0);
});

test('an adapter over a quantised base records the quantisation; loading re-quantises the full-precision model: identical outputs', async () => {
  const src = gpt();
  await quantizeBase(src, { bits: 'nf4', doubleQuant: true });
  const lm = injectLora(src, { r: 2, target_modules: ['q_proj', 'v_proj'], init_lora_weights: false });
  const x = ids();
  const y = src.logits(x);
  const dir = path.join(root, 'qlora');
  await saveAdapter(lm, dir);
  const json = JSON.parse(await fs.readFile(path.join(dir, 'adapter_config.json'), 'utf8'));
  assert.deepEqual(Object.keys(json.base_quantization), ['bits', 'block_size', 'double_quant', 'modules']);
  assert.equal(json.base_quantization.bits, 'nf4');
  assert.equal(json.base_quantization.double_quant, true);
  assert.equal(json.base_quantization.modules.length, 12, 'every quantised layer, targets or not');
  assert.equal(json.peft_type, 'LORA', 'otherwise a plain PEFT LoRA config (PEFT ignores the extra field)');
  const dst = gpt(); // full precision
  const lm2 = await loadAdapter(dst, dir);
  assert.equal(dst.layers.get('layers.0.mlp.up_proj')!.getClassName(), 'LoraLabQuantizedDense', 'non-targets re-quantised too');
  assert.equal(lm2.loraLayers().get('layers.0.self_attn.q_proj')!.kind, 'quantized');
  assert.equal(maxAbsDiff(dst.logits(x), y), 0, 'the same codes from the same weights');
  await loadAdapter(lm2, dir, 'again'); // a LoraModel over the same quantised base takes a second one
  assert.deepEqual(lm2.adapterNames, ['default', 'again']);
  const floatLm = injectLora(gpt(), { r: 2, target_modules: ['q_proj'] });
  await assert.rejects(loadAdapter(floatLm, dir, 'q'), /was trained over a quantised base: load it into the full-precision model/);
  assert.deepEqual(floatLm.adapterNames, ['default']);
  lm.unload();
  lm2.unload();
});

test('add_weighted_adapter works on embedding and quantised adapters (cat = exact weighted sum) and refuses DoRA by name', async () => {
  const m = gpt();
  const lm = injectLora(m, { r: 2, target_modules: ['embed_tokens', 'q_proj'], init_lora_weights: false, seed: 1 }, 'a');
  lm.addAdapter('b', { r: 3, target_modules: ['embed_tokens', 'q_proj'], init_lora_weights: false, seed: 2 });
  await addWeightedAdapter(lm, ['a', 'b'], [0.5, 2], 'mix', { combination_type: 'cat' });
  const [da, db, dm] = await Promise.all(['a', 'b', 'mix'].map((n) => adapterDeltas(lm, n)));
  for (const p of ['embed_tokens', 'layers.0.self_attn.q_proj']) {
    const want = da.get(p)!.clone().mul(0.5).add(db.get(p)!.clone().mul(2));
    assert.ok(Math.max(...want.sub(dm.get(p)!).abs().to1DArray()) < 1e-5, `${p}: ΔW_mix = 0.5·ΔW_a + 2·ΔW_b`);
  }
  assert.equal(lm.loraLayers().get('embed_tokens')!.adapter('mix').lora_A.shape.join(), `5,${V}`);
  lm.addAdapter('d', { r: 2, target_modules: ['q_proj'], use_dora: true });
  await assert.rejects(addWeightedAdapter(lm, ['a', 'd'], [1, 1], 'bad'), /adapter 'd' uses DoRA, whose magnitude vector cannot be combined/);
  lm.unload();
  const q = gpt();
  await quantizeBase(q, { bits: 'int8' });
  const ql = injectLora(q, { r: 2, target_modules: ['q_proj'], init_lora_weights: false, seed: 1 }, 'a');
  ql.addAdapter('b', { r: 2, target_modules: ['q_proj'], init_lora_weights: false, seed: 2 });
  await addWeightedAdapter(ql, ['a', 'b'], [1, 1], 'sum', { combination_type: 'svd', svd_rank: 4 });
  const [qa, qb, qs] = await Promise.all(['a', 'b', 'sum'].map((n) => adapterDeltas(ql, n)));
  const p = 'layers.1.self_attn.q_proj';
  assert.ok(Math.max(...qa.get(p)!.clone().add(qb.get(p)!).sub(qs.get(p)!).abs().to1DArray()) < 1e-4, 'rank 4 holds the sum of two rank-2 updates');
  ql.unload();
});
