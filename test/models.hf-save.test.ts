// savePretrained: a model folder as transformers writes it — state_dict names with GPT-2's `transformer.` prefix,
// Linear weights [out, in], Conv1D [in, out], a tied lm_head left out, float32, {"format": "pt"}, tokenizer files —
// that loads back here with the same logits; a merged LoRA model gives the reference's adapted logits; a model still
// holding LoRA is refused; the write is streamed and atomic.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadPretrained, type HfCausalLm } from '../src/models/hf/loader.js';
import { savePretrained } from '../src/models/hf/save.js';
import { HfTokenizer } from '../src/models/hf/tokenizer.js';
import { loadAdapter } from '../src/lora/index.js';
import { SafetensorsFile } from '../src/io/safetensors-file.js';
import { buildHfFixtures, goldenLogits, logitsOf, maxAbsDiff } from './helpers/hf-fixtures.js';

const golden = goldenLogits();
let root = '';
let cleanup = () => {};
let tmp = '';

describe('savePretrained', () => {
  before(async () => {
    await tf.setBackend('cpu');
    ({ root, cleanup } = buildHfFixtures());
    tmp = mkdtempSync(path.join(os.tmpdir(), 'hf-save-'));
  });
  after(() => {
    cleanup();
    rmSync(tmp, { recursive: true, force: true });
  });

  for (const name of Object.keys(golden)) {
    it(`${name}: the adapter merged and saved loads back with the reference's adapted logits`, async () => {
      const g = golden[name]!;
      const src = path.join(root, name);
      const out = path.join(tmp, name);
      const before = tf.memory().numTensors;
      const { model, config, generationConfig } = await loadPretrained(src);
      const lora = await loadAdapter(model, path.join(root, g.adapter.dir));
      await assert.rejects(savePretrained(model, out), /'transformer\.h\.0\.attn\.c_attn' is a \w+, not the plain LoraLabConv1D|'model\.layers\.0\.self_attn\.\w+' is a \w+, not the plain Dense/);
      assert.ok(!existsSync(out), 'a refused save writes nothing');
      lora.mergeAndUnload();
      await savePretrained(model, out, { generationConfig });
      model.dispose();
      assert.equal(tf.memory().numTensors, before, 'tensors leaked');

      const file = await SafetensorsFile.open(path.join(out, 'model.safetensors'));
      const keys = [...file.entries.keys()];
      const meta = file.metadata;
      const dtypes = new Set([...file.entries.values()].map((e) => e.dtype));
      const shapes = new Map([...file.entries].map(([k, e]) => [k, e.shape]));
      await file.close();
      assert.deepEqual(meta, { format: 'pt' });
      assert.deepEqual([...dtypes], ['F32']);
      const gpt2 = config.modelType === 'gpt2';
      assert.ok(keys.every((k) => (gpt2 ? /^(transformer\.|lm_head\.)/ : /^(model\.|lm_head\.)/).test(k)), 'state_dict names');
      assert.equal(keys.includes('lm_head.weight'), !config.tieWordEmbeddings, 'a tied lm_head is left out, an untied one kept');
      if (gpt2) {
        assert.deepEqual(shapes.get('transformer.h.0.attn.c_attn.weight'), [config.hiddenSize, 3 * config.hiddenSize], 'Conv1D [in, out]');
        assert.ok(!keys.some((k) => /\.attn\.(bias|masked_bias)$/.test(k)), 'no mask buffers');
      } else {
        assert.deepEqual(shapes.get('model.layers.0.mlp.down_proj.weight'), [config.hiddenSize, config.intermediateSize], 'Linear [out, in]');
      }
      const cfg = JSON.parse(readFileSync(path.join(out, 'config.json'), 'utf8'));
      assert.equal(cfg.torch_dtype, 'float32');
      assert.equal(cfg.model_type, config.modelType);
      for (const f of ['tokenizer.json', 'tokenizer_config.json']) {
        assert.equal(readFileSync(path.join(out, f), 'utf8'), readFileSync(path.join(src, f), 'utf8'), `${f} copied`);
      }
      assert.equal(existsSync(path.join(out, 'generation_config.json')), generationConfig !== null);

      const again = await loadPretrained(out);
      try {
        const err = maxAbsDiff(await logitsOf(again.model, g.inputs), g.adapter.logits);
        assert.ok(err <= 1e-4, `${name}: reloaded merged logits differ from PyTorch's adapted ones by ${err.toExponential(2)}`);
        assert.deepEqual(again.tokenizer.encode('the lora is on'), (await HfTokenizer.fromDir(src)).encode('the lora is on'));
      } finally {
        again.model.dispose();
      }
    });
  }

  it('overwrites a folder whole and leaves no temporary siblings', async () => {
    const src = path.join(root, 'gpt2-prefix-f16');
    const out = path.join(tmp, 'twice');
    const { model } = await loadPretrained(src);
    try {
      await savePretrained(model, out);
      await savePretrained(model, out);
    } finally {
      model.dispose();
    }
    assert.deepEqual(readdirSync(tmp).filter((f) => f.startsWith('twice')), ['twice']);
    assert.deepEqual(readdirSync(out).sort(), ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
  });
});
