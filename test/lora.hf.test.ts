// LoRA on Hugging Face checkpoints: adapters in PEFT's layout (written by the fixture script, not by saveAdapter) load
// and give the float64 PyTorch reference's adapted logits to 1e-4; target_modules omitted takes PEFT's default for
// the model type; adapters saved here carry exactly PEFT's keys and config; nothing leaks.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadPretrained, type HfCausalLm } from '../src/models/hf/loader.js';
import { injectLora, loadAdapter, saveAdapter } from '../src/lora/index.js';
import { parseSafetensorsHeader } from '../src/io/safetensors.js';
import { Gpt } from '../src/models/gpt.js';
import { gptConfig } from '../src/models/config.js';
import { buildHfFixtures, goldenLogits, logitsOf, maxAbsDiff } from './helpers/hf-fixtures.js';

const golden = goldenLogits();
let root = '';
let cleanup = () => {};
let tmp = '';

function sha(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** The keys and metadata of a safetensors file, read from its header. */
function headerOf(file: string): { keys: string[]; metadata: Record<string, string> } {
  const bytes = readFileSync(file);
  const h = parseSafetensorsHeader(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), bytes.byteLength, file);
  return { keys: h.entries.map((e) => e.name).sort(), metadata: h.metadata };
}

/** PEFT's default targets, spelled out per layer from config.json (independently of lora-lab's tables). */
function expectedDefaultModules(name: string, layers: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < layers; i++) {
    if (name.startsWith('gpt2')) out.push(`transformer.h.${i}.attn.c_attn`);
    else out.push(`model.layers.${i}.self_attn.q_proj`, `model.layers.${i}.self_attn.v_proj`);
  }
  return out;
}

describe('LoRA on Hugging Face checkpoints', () => {
  before(async () => {
    await tf.setBackend('cpu');
    ({ root, cleanup } = buildHfFixtures());
    tmp = mkdtempSync(path.join(os.tmpdir(), 'lora-hf-'));
  });
  after(() => {
    cleanup();
    rmSync(tmp, { recursive: true, force: true });
  });

  for (const name of Object.keys(golden)) {
    it(`${name}: a PEFT-layout adapter loads and gives PyTorch's adapted logits within 1e-4`, async () => {
      const g = golden[name]!;
      const adapterDir = path.join(root, g.adapter.dir);
      for (const [file, want] of Object.entries(g.adapter.sha256)) {
        assert.equal(sha(path.join(adapterDir, file)), want, `${g.adapter.dir}/${file} changed: regenerate the golden logits`);
      }
      const before = tf.memory().numTensors;
      const { model } = await loadPretrained(path.join(root, name));
      try {
        const base = await logitsOf(model, g.inputs);
        const lora = await loadAdapter(model, adapterDir);
        assert.deepEqual([...lora.loraLayers().keys()].sort(), [...g.adapter.modules].sort());
        const adapted = await logitsOf(model, g.inputs);
        const err = maxAbsDiff(adapted, g.adapter.logits);
        assert.ok(err <= 1e-4, `${name}: max |adapted logits − PyTorch| = ${err.toExponential(2)} > 1e-4`);
        assert.ok(maxAbsDiff(adapted, base) > 1e-2, 'the adapter changes the logits (the comparison means something)');
        lora.mergeAndUnload();
        const merged = await logitsOf(model, g.inputs);
        assert.ok(maxAbsDiff(merged, g.adapter.logits) <= 1e-4, `${name}: merged logits differ from the reference`);
      } finally {
        model.dispose();
      }
      assert.equal(tf.memory().numTensors, before, 'tensors leaked');
    });

    it(`${name}: target_modules omitted takes PEFT's default; the saved adapter has PEFT's keys and config`, async () => {
      const g = golden[name]!;
      const dir = path.join(root, name);
      const { model, config } = await loadPretrained(dir);
      const out = path.join(tmp, `${name}-default`);
      try {
        const lora = injectLora(model, { r: 2, lora_alpha: 4, init_lora_weights: false });
        const modules = expectedDefaultModules(name, config.numLayers);
        assert.deepEqual([...lora.loraLayers().keys()], modules);
        await saveAdapter(lora, out);
        const adapted = await logitsOf(model, g.inputs);
        const json = JSON.parse(readFileSync(path.join(out, 'adapter_config.json'), 'utf8'));
        assert.equal(json.peft_type, 'LORA');
        assert.equal(json.task_type, 'CAUSAL_LM');
        assert.equal(json.base_model_name_or_path, dir);
        assert.equal(json.fan_in_fan_out, name.startsWith('gpt2'), 'fan_in_fan_out is true for GPT-2 Conv1D only');
        assert.deepEqual(json.target_modules, name.startsWith('gpt2') ? ['c_attn'] : ['q_proj', 'v_proj']);
        assert.equal(json.r, 2);
        assert.equal(json.lora_alpha, 4);
        const { keys, metadata } = headerOf(path.join(out, 'adapter_model.safetensors'));
        assert.deepEqual(metadata, { format: 'pt' });
        assert.deepEqual(keys, modules.flatMap((m) => [`base_model.model.${m}.lora_A.weight`, `base_model.model.${m}.lora_B.weight`]).sort());
        // Back onto a fresh copy of the base: the same outputs.
        lora.unload();
        const fresh = await loadPretrained(dir);
        try {
          await loadAdapter(fresh.model, out);
          assert.ok(maxAbsDiff(await logitsOf(fresh.model, g.inputs), adapted) <= 1e-5);
        } finally {
          fresh.model.dispose();
        }
      } finally {
        model.dispose();
      }
    });
  }

  it("'all-linear' takes every linear module but lm_head and is saved as PEFT saves it (the module paths)", async () => {
    const name = 'llama-gqa-bf16';
    const { model, config } = await loadPretrained(path.join(root, name));
    try {
      const lora = injectLora(model, { r: 2, target_modules: 'all-linear' });
      const want: string[] = [];
      for (let i = 0; i < config.numLayers; i++) {
        for (const m of ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.o_proj', 'mlp.gate_proj', 'mlp.up_proj', 'mlp.down_proj']) {
          want.push(`model.layers.${i}.${m}`);
        }
      }
      assert.deepEqual([...lora.loraLayers().keys()], want);
      const out = path.join(tmp, 'all-linear');
      await saveAdapter(lora, out);
      assert.deepEqual(JSON.parse(readFileSync(path.join(out, 'adapter_config.json'), 'utf8')).target_modules, want);
      lora.unload();
      const again = await loadAdapter(model, out);
      assert.deepEqual([...again.loraLayers().keys()], want);
      again.unload();
      // A regex full-matches module paths, as PEFT's re.fullmatch.
      const re = injectLora(model, { r: 2, target_modules: String.raw`model\.layers\.1\.mlp\.(up|down)_proj` });
      assert.deepEqual([...re.loraLayers().keys()], ['model.layers.1.mlp.up_proj', 'model.layers.1.mlp.down_proj']);
      re.unload();
    } finally {
      model.dispose();
    }
  });

  it('explicit targets, task_type and base_model_name_or_path win over the defaults', async () => {
    const { model } = await loadPretrained(path.join(root, 'gpt2-prefix-f16'));
    try {
      const lora = injectLora(model, { r: 2, target_modules: ['mlp.c_fc'], task_type: null, base_model_name_or_path: 'openai-community/gpt2' });
      assert.deepEqual([...lora.loraLayers().keys()], ['transformer.h.0.mlp.c_fc', 'transformer.h.1.mlp.c_fc']);
      assert.equal(lora.config().task_type, null);
      assert.equal(lora.config().base_model_name_or_path, 'openai-community/gpt2');
      lora.unload();
    } finally {
      model.dispose();
    }
  });

  it("lora-lab's own GPT has no model_type: target_modules stays required", () => {
    const gpt = new Gpt(gptConfig({ preset: 'nano', vocabSize: 31 }), { seed: 1 });
    try {
      assert.throws(() => injectLora(gpt, { r: 2 }), /target_modules is required/);
    } finally {
      gpt.dispose();
    }
  });
});

describe('injectionReport', () => {
  it('lists each wrapped module with its kind, PEFT shapes and r·(in + out)', async () => {
    await tf.setBackend('cpu');
    const { injectionReport } = await import('../src/lora/report.js');
    const { buildPretrained } = await import('../src/models/hf/loader.js');
    const { parseHfConfig } = await import('../src/models/hf/config.js');
    const { randomWeights } = await import('../src/models/hf/weights.js');
    const config = parseHfConfig({ model_type: 'gpt2', vocab_size: 50, n_positions: 8, n_embd: 8, n_layer: 2, n_head: 2 });
    const model = await buildPretrained(config, randomWeights(1));
    try {
      const lora = injectLora(model, { r: 2 });
      assert.deepEqual(injectionReport(lora), [0, 1].map((i) => ({
        module: `transformer.h.${i}.attn.c_attn`, kind: 'conv1d', fan_in_fan_out: true, lora_A: '[2, 8]', lora_B: '[24, 2]', params: 2 * (8 + 24),
      })));
      assert.equal(injectionReport(lora).reduce((n, r) => n + r.params, 0), lora.countParams().trainable);
    } finally {
      model.dispose();
    }
  });
});
