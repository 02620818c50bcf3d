// Adapter files: PEFT's layout and key names, save → load bit-identical, named adapters in subfolders,
// DoRA/bias/PiSSA round trips, a PEFT-written fixture, and one clear error per corrupt file, each leaving
// the model unchanged.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { loadAdapter, readAdapter, saveAdapter } from '../src/lora/adapter.js';
import { injectLora, LoraModel } from '../src/lora/model.js';
import { LoraDense } from '../src/lora/layer.js';
import { decodeSafetensors, encodeSafetensors, toFloat32 } from '../src/io/safetensors.js';
import { maxAbsDiff, snapshot, TinyMlp } from './helpers/tiny-mlp.js';
import { FIXTURE_TENSORS, fixtureBytes, fixtureValue } from './fixtures/adapters/make-peft-fixture.js';

const FIXTURE_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'adapters', 'peft-tiny');
const CFG = { r: 2, lora_alpha: 4, target_modules: ['q_proj', 'v_proj'], init_lora_weights: false } as const;

let root: string;
before(async () => {
  await tf.setBackend('cpu');
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'lora-lab-adapter-'));
});

const xs = () => tf.randomNormal([4, 16], 0, 1, 'float32', 31);
const out = (m: TinyMlp) => tf.tidy(() => m.forward(xs()).arraySync() as number[][]);

async function savedAdapter(name: string, extra: Record<string, unknown> = {}): Promise<{ dir: string; model: TinyMlp; lm: LoraModel }> {
  const model = new TinyMlp();
  const lm = injectLora(model, { ...CFG, ...extra });
  const dir = path.join(root, name);
  await saveAdapter(lm, dir);
  return { dir, model, lm };
}

test('saveAdapter writes PEFT layout: keys, [r, in] / [out, r] shapes, F32, {"format":"pt"}, config fields', async () => {
  const { dir, model } = await savedAdapter('layout');
  assert.deepEqual((await fs.readdir(dir)).sort(), ['adapter_config.json', 'adapter_model.safetensors']);
  const { tensors, metadata } = decodeSafetensors(new Uint8Array(await fs.readFile(path.join(dir, 'adapter_model.safetensors'))));
  assert.deepEqual(metadata, { format: 'pt' });
  assert.deepEqual([...tensors].map(([k, t]) => [k, t.dtype, t.shape]), [
    ['base_model.model.encoder.q_proj.lora_A.weight', 'F32', [2, 16]],
    ['base_model.model.encoder.q_proj.lora_B.weight', 'F32', [12, 2]],
    ['base_model.model.encoder.v_proj.lora_A.weight', 'F32', [2, 12]],
    ['base_model.model.encoder.v_proj.lora_B.weight', 'F32', [12, 2]],
  ]);
  const config = JSON.parse(await fs.readFile(path.join(dir, 'adapter_config.json'), 'utf8'));
  assert.equal(config.peft_type, 'LORA');
  assert.equal(config.r, 2);
  assert.equal(config.lora_alpha, 4);
  assert.deepEqual(config.target_modules, ['q_proj', 'v_proj']);
  assert.equal(config.fan_in_fan_out, false);
  assert.equal(config.inference_mode, true, 'as PEFT saves it');
  model.dispose();
});

test('save → load into a fresh base is bit-identical (weights and outputs)', async () => {
  const { dir, model } = await savedAdapter('roundtrip');
  const fresh = new TinyMlp();
  const lm = await loadAdapter(fresh, dir);
  for (const p of ['encoder.q_proj', 'encoder.v_proj']) {
    const a = (model.layers.get(p) as LoraDense).adapter('default');
    const b = (fresh.layers.get(p) as LoraDense).adapter('default');
    assert.deepEqual(await b.lora_A.read().data(), await a.lora_A.read().data());
    assert.deepEqual(await b.lora_B.read().data(), await a.lora_B.read().data());
  }
  assert.deepEqual(out(fresh), out(model));
  assert.equal(lm.config().r, 2);
  model.dispose();
  fresh.dispose();
});

test('named adapters live in <dir>/<name>; saving "default" later keeps them; load as a second adapter', async () => {
  const model = new TinyMlp();
  const lm = injectLora(model, CFG);
  lm.addAdapter('task_b', { ...CFG, target_modules: ['v_proj'], seed: 9 });
  const dir = path.join(root, 'named');
  await saveAdapter(lm, dir, 'task_b');
  await saveAdapter(lm, dir); // the active one, "default"
  assert.deepEqual((await fs.readdir(dir)).sort(), ['adapter_config.json', 'adapter_model.safetensors', 'task_b']);
  const sub = await readAdapter(path.join(dir, 'task_b'));
  assert.deepEqual([...sub.modules.keys()], ['encoder.v_proj']);

  lm.setAdapter('task_b');
  const yB = out(model);
  const fresh = new TinyMlp();
  const lm2 = await loadAdapter(fresh, dir);
  await loadAdapter(lm2, path.join(dir, 'task_b'), 'task_b');
  assert.deepEqual(lm2.adapterNames, ['default', 'task_b']);
  assert.equal(lm2.activeAdapter, 'default');
  lm2.setAdapter('task_b');
  assert.deepEqual(out(fresh), yB);
  await assert.rejects(loadAdapter(lm2, dir, 'task_b'), /adapter 'task_b' already exists/);
  model.dispose();
  fresh.dispose();
});

test('DoRA magnitudes and bias "all" round trip under PEFT names', async () => {
  const { dir, model } = await savedAdapter('dora', { use_dora: true, bias: 'all', target_modules: ['q_proj'] });
  const ad = await readAdapter(dir);
  assert.deepEqual([...ad.tensors.keys()], [
    'base_model.model.encoder.q_proj.base_layer.bias',
    'base_model.model.encoder.q_proj.lora_A.weight',
    'base_model.model.encoder.q_proj.lora_B.weight',
    'base_model.model.encoder.q_proj.lora_magnitude_vector',
    'base_model.model.encoder.v_proj.bias',
  ]);
  const fresh = new TinyMlp(2); // different base biases: the file's biases must replace them
  await loadAdapter(fresh, dir);
  for (const p of ['encoder.q_proj', 'encoder.v_proj']) {
    const l = (m: TinyMlp) => { const x = m.layers.get(p)!; return x instanceof LoraDense ? x.base : x; };
    const bias = (m: TinyMlp) => l(m).weights.find((w) => /\/bias$/.test(w.name))!.read().dataSync();
    assert.deepEqual(bias(fresh), bias(model));
  }
  model.dispose();
  fresh.dispose();
});

test('a PiSSA adapter reloaded onto the original base rebuilds the residual and gives the same outputs', async () => {
  const { dir, model } = await savedAdapter('pissa', { init_lora_weights: 'pissa' });
  const fresh = new TinyMlp();
  await loadAdapter(fresh, dir);
  const a = out(model), b = out(fresh);
  a.forEach((row, i) => row.forEach((v, j) => assert.ok(Math.abs(v - b[i]![j]!) < 1e-5)));
  model.dispose();
  fresh.dispose();
});

test('a PEFT-written adapter (fixture) is read, applied, and re-encoded to the same bytes', async () => {
  const fileBytes = new Uint8Array(await fs.readFile(path.join(FIXTURE_DIR, 'adapter_model.safetensors')));
  assert.deepEqual(fileBytes, fixtureBytes(), 'fixture on disk is what the generator writes');
  const ad = await readAdapter(FIXTURE_DIR);
  assert.equal(ad.config.r, 2);
  assert.equal(ad.config.lora_dropout, 0.05);
  assert.equal(ad.numParams, 32 + 24 + 24 + 24);
  assert.deepEqual(encodeSafetensors(Object.fromEntries(ad.tensors), ad.metadata), fileBytes);
  const model = new TinyMlp();
  const lm = await loadAdapter(model, FIXTURE_DIR);
  FIXTURE_TENSORS.forEach(([key, shape], t) => {
    const [, p, part] = /^base_model\.model\.(.+)\.(lora_[AB])\.weight$/.exec(key)!;
    const v = (model.layers.get(p!) as LoraDense).adapter('default')[part as 'lora_A' | 'lora_B'];
    assert.deepEqual(v.shape, shape);
    const want = Float32Array.from({ length: shape[0] * shape[1] }, (_, n) => fixtureValue(t, n));
    assert.deepEqual(v.read().dataSync(), want);
  });
  assert.equal(lm.countParams().trainable, 104);
  model.dispose();
});

// ---- corrupt files: each its own message, the model unchanged ----------------------------------------

/** Bytes of a safetensors file with a hand-written header (for files no honest writer produces). */
function rawSafetensors(header: Record<string, unknown>, data: Uint8Array, lengthOverride?: bigint): Uint8Array {
  const h = new TextEncoder().encode(JSON.stringify(header));
  const bytes = new Uint8Array(8 + h.length + data.length);
  new DataView(bytes.buffer).setBigUint64(0, lengthOverride ?? BigInt(h.length), true);
  bytes.set(h, 8);
  bytes.set(data, 8 + h.length);
  return bytes;
}

type Mutation = { weights?: (good: Uint8Array) => Uint8Array; config?: (good: string) => string; remove?: string };
const QA = 'base_model.model.encoder.q_proj.lora_A.weight';
const QB = 'base_model.model.encoder.q_proj.lora_B.weight';
const VA = 'base_model.model.encoder.v_proj.lora_A.weight';
const VB = 'base_model.model.encoder.v_proj.lora_B.weight';
/** The good file's header entries, for rewriting one field. */
function headerOf(good: Uint8Array): Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }> {
  const n = Number(new DataView(good.buffer, good.byteOffset).getBigUint64(0, true));
  return JSON.parse(new TextDecoder().decode(good.subarray(8, 8 + n)));
}
const dataOf = (good: Uint8Array) => good.subarray(8 + Number(new DataView(good.buffer, good.byteOffset).getBigUint64(0, true)));

const corrupt: [string, Mutation, RegExp][] = [
  ['truncated file', { weights: (g) => g.subarray(0, g.length - 10) }, /adapter_model\.safetensors, tensor '.*v_proj\.lora_B\.weight': data_offsets \[320, 416\] run past the data section \(406 bytes\)/],
  ['header length past the end', { weights: (g) => { const b = g.slice(); new DataView(b.buffer).setBigUint64(0, 1n << 40n, true); return b; } }, /header length 1099511627776 runs past the end of the file/],
  ['offsets out of range', { weights: (g) => { const h = headerOf(g); h[VB]!.data_offsets = [320, 420]; return rawSafetensors(h, dataOf(g)); } }, /data_offsets \[320, 420\] run past the data section \(416 bytes\)/],
  ['overlapping tensors', { weights: (g) => { const h = headerOf(g); h[QB]!.data_offsets = [96, 192]; return rawSafetensors(h, dataOf(g)); } }, /tensor '.*q_proj\.lora_B\.weight' \[96, 192\] overlaps tensor '.*q_proj\.lora_A\.weight' which ends at 128/],
  ['unknown dtype', { weights: (g) => { const h = headerOf(g); h[QA]!.dtype = 'F8_E4M3'; return rawSafetensors(h, dataOf(g)); } }, /tensor '.*q_proj\.lora_A\.weight': unknown dtype "F8_E4M3"/],
  ['shape × dtype ≠ bytes', { weights: (g) => { const h = headerOf(g); h[QA]!.shape = [2, 15]; return rawSafetensors(h, dataOf(g)); } }, /F32 \[2, 15\] needs 120 bytes but data_offsets \[0, 128\] hold 128/],
  ['integer weights', { weights: (g) => { const h = headerOf(g); h[QA]!.dtype = 'I32'; return rawSafetensors(h, dataOf(g)); } }, /key '.*q_proj\.lora_A\.weight' has dtype I32; adapter weights must be floating point/],
  ['missing key', { weights: (g) => { const h = headerOf(g); delete h[VB]; return rawSafetensors(h, dataOf(g).subarray(0, 320)); } }, /missing key 'base_model\.model\.encoder\.v_proj\.lora_B\.weight' \(its lora_A is present\)/],
  ['wrong shape for the model', { weights: (g) => { const h = headerOf(g); h[QA]!.shape = [2, 8]; h[QA]!.data_offsets = [0, 64]; for (const k of [QB, VA, VB]) h[k]!.data_offsets = h[k]!.data_offsets.map((o) => o - 64) as [number, number]; const d = dataOf(g); return rawSafetensors(h, new Uint8Array([...d.subarray(0, 64), ...d.subarray(128)])); } }, /key '.*q_proj\.lora_A\.weight' has shape \[2, 8\] but layer 'encoder\.q_proj' has in = 16: expected \[2, 16\]/],
  ['rank differs from the config', { config: (c) => c.replace('"r": 2', '"r": 3') }, /key '.*q_proj\.lora_A\.weight' has shape \[2, 16\]; expected \[r=3, in\]/],
  ['bad JSON config', { config: (c) => c.slice(0, -5) }, /adapter_config\.json: not valid JSON/],
  ['config target missing from the file', { config: (c) => c.replace('"v_proj"', '"v_proj", "lm_head"') }, /missing key 'base_model\.model\.lm_head\.lora_A\.weight' for layer 'lm_head', which target_modules selects/],
  ['weights for a layer that is not targeted', { config: (c) => c.replace('"q_proj",', '') }, /has LoRA weights for 'encoder\.q_proj', which target_modules \["v_proj"\] does not select/],
  ['weights for a layer the model lacks', { weights: (g) => { const h = headerOf(g); const e = h[VA]!; delete h[VA]; h['base_model.model.encoder.k_proj.lora_A.weight'] = e; const f = h[VB]!; delete h[VB]; h['base_model.model.encoder.k_proj.lora_B.weight'] = f; return rawSafetensors(h, dataOf(g)); } }, /has weights for 'encoder\.k_proj' but the model has no such layer; layers are: encoder\.q_proj/],
  ['a key PEFT never writes', { weights: (g) => { const h = headerOf(g); const e = h[VB]!; delete h[VB]; h['base_model.model.encoder.v_proj.lora_B.default.weight'] = e; return rawSafetensors(h, dataOf(g)); } }, /unexpected key '.*v_proj\.lora_B\.default\.weight': expected base_model\.model\.<module>\.lora_A\.weight/],
  ['no adapter_config.json', { remove: 'adapter_config.json' }, /adapter_config\.json: cannot read \(ENOENT\)/],
  ['no weights file', { remove: 'adapter_model.safetensors' }, /adapter_model\.safetensors: cannot read \(ENOENT\)/],
];

test('each corrupt adapter gives its own clear error and leaves the model unchanged', async () => {
  const { dir: goodDir, model: src } = await savedAdapter('good');
  src.dispose();
  const goodWeights = new Uint8Array(await fs.readFile(path.join(goodDir, 'adapter_model.safetensors')));
  const goodConfig = await fs.readFile(path.join(goodDir, 'adapter_config.json'), 'utf8');
  const messages = new Set<string>();
  for (const [name, mutation, message] of corrupt) {
    const dir = path.join(root, `bad-${name.replace(/\W+/g, '-')}`);
    await fs.mkdir(dir, { recursive: true });
    await fs.writeFile(path.join(dir, 'adapter_model.safetensors'), mutation.weights ? mutation.weights(goodWeights) : goodWeights);
    await fs.writeFile(path.join(dir, 'adapter_config.json'), mutation.config ? mutation.config(goodConfig) : goodConfig);
    if (mutation.remove) await fs.rm(path.join(dir, mutation.remove));

    // A plain tree and a LoraModel that already has an adapter: neither may change.
    const tree = new TinyMlp();
    const treeBefore = snapshot(tree);
    const treeLayers = [...tree.layers.values()];
    await assert.rejects(loadAdapter(tree, dir), (e: Error) => {
      assert.match(e.message, message, name);
      assert.ok(!e.message.includes('\n'), `${name}: one line`);
      messages.add(e.message);
      return true;
    });
    assert.deepEqual([...tree.layers.values()], treeLayers, `${name}: no layer replaced`);
    assert.deepEqual(snapshot(tree), treeBefore, `${name}: no weight changed`);

    const host = new TinyMlp();
    const lm = injectLora(host, { ...CFG, target_modules: ['q_proj'] });
    const hostBefore = snapshot(host);
    const nTensors = tf.memory().numTensors;
    await assert.rejects(loadAdapter(lm, dir, 'incoming'), message);
    assert.deepEqual(lm.adapterNames, ['default'], `${name}: no adapter added`);
    assert.deepEqual(snapshot(host), hostBefore, `${name}: LoraModel weights unchanged`);
    assert.equal(tf.memory().numTensors, nTensors, `${name}: nothing allocated`);
    tree.dispose();
    host.dispose();
  }
  assert.equal(messages.size, corrupt.length, 'every case has its own message');
});

test('saving a merged adapter is refused (the file would not match the base)', async () => {
  const model = new TinyMlp();
  const lm = injectLora(model, CFG);
  lm.merge();
  await assert.rejects(saveAdapter(lm, path.join(root, 'merged')), /adapter 'default' is merged into 'encoder\.q_proj': unmerge\(\) before saving/);
  await assert.rejects(fs.stat(path.join(root, 'merged')), /ENOENT/);
  model.dispose();
});

test('toFloat32 reads F16 adapters (PEFT fp16 saves) as the same values', () => {
  const f16 = { dtype: 'F16' as const, shape: [2], data: new Uint8Array([0x00, 0x38, 0x00, 0xb4]) };
  assert.deepEqual([...toFloat32(f16)], [0.5, -0.25]);
});
