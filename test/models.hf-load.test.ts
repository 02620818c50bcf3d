// loadPretrained on tiny Hugging Face-layout checkpoints: logits equal an independent float64 PyTorch
// implementation (scripts/hf_reference.py) to 1e-4; the LayerTree paths are the checkpoint's module names;
// causal, cached and uncached runs agree; the tied head reuses the table's variable; nothing leaks.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadPretrained, type HfCausalLm } from '../src/models/hf/loader.js';
import { TiedLmHead } from '../src/models/hf/tied-head.js';
import { buildHfFixtures, goldenLogits, logitsOf, maxAbsDiff } from './helpers/hf-fixtures.js';

const golden = goldenLogits();
let root = '';
let cleanup = () => {};

describe('loadPretrained: tiny Hugging Face checkpoints against the PyTorch reference', () => {
  before(async () => {
    await tf.setBackend('cpu');
    ({ root, cleanup } = buildHfFixtures());
  });
  after(() => cleanup());

  for (const name of Object.keys(golden)) {
    it(`${name}: logits within 1e-4 of PyTorch, cached = uncached, causal, no leaks`, async () => {
      const g = golden[name]!;
      const dir = path.join(root, name);
      for (const [file, sha] of Object.entries(g.sha256)) {
        const got = createHash('sha256').update(readFileSync(path.join(dir, file))).digest('hex');
        assert.equal(got, sha, `${name}/${file} differs from the bytes the golden logits were computed from: regenerate them`);
      }
      const before = tf.memory().numTensors;
      const { model, config, tokenizer } = await loadPretrained(dir);
      try {
        assert.ok(tokenizer.vocabSize <= config.vocabSize);
        const full = await logitsOf(model, g.inputs);
        const err = maxAbsDiff(full, g.logits);
        assert.ok(err <= 1e-4, `${name}: max |logits − PyTorch| = ${err.toExponential(2)} > 1e-4`);
        // Causal: the first 5 positions do not see the last 3 tokens.
        const prefix = await logitsOf(model, g.inputs.map((r) => r.slice(0, 5)));
        assert.ok(maxAbsDiff(prefix, full.map((r) => r.slice(0, 5))) <= 1e-5);
        // Cached: 3 tokens, then 4, then 1, reading the cache, equal the one uncached pass.
        const cache = model.newCache();
        const parts: number[][][][] = [];
        for (const [s, e] of [[0, 3], [3, 7], [7, 8]] as const) {
          const x = tf.tensor2d(g.inputs.map((r) => r.slice(s, e)), undefined, 'int32');
          const y = model.forward(x, { cache });
          parts.push((await y.array()) as number[][][]);
          tf.dispose([x, y]);
        }
        assert.equal(cache.length, 8);
        cache.dispose();
        const joined = full.map((_, b) => parts.flatMap((p) => p[b]!));
        assert.ok(maxAbsDiff(joined, full) <= 1e-5, `${name}: cached ≠ uncached`);
        // lastOnly gives the last row of the full logits.
        const x = tf.tensor2d(g.inputs, undefined, 'int32');
        const last = model.forward(x, { lastOnly: true });
        assert.deepEqual(last.shape, [2, 1, config.vocabSize]);
        assert.ok(maxAbsDiff((await last.array()) as number[][][], full.map((r) => [r[7]!])) <= 1e-5);
        tf.dispose([x, last]);
      } finally {
        model.dispose();
      }
      assert.equal(tf.memory().numTensors, before, 'tensors leaked');
    });
  }

  it('names layers as the checkpoint does, with or without the transformer. prefix in the file', async () => {
    for (const name of ['gpt2-prefix-f16', 'gpt2-bare-f32-sharded']) {
      const { model } = await loadPretrained(path.join(root, name));
      const paths = [...model.layers.keys()];
      assert.equal(paths[0], 'transformer.wte');
      assert.ok(paths.includes('transformer.h.0.attn.c_attn'));
      assert.ok(paths.includes('transformer.h.1.mlp.c_proj'));
      assert.equal(paths.at(-1), 'lm_head');
      assert.equal(model.layers.get('transformer.h.0.attn.c_attn')!.getClassName(), 'LoraLabConv1D');
      assert.equal(model.layers.get('transformer.wte')!.getClassName(), 'Embedding');
      const head = model.layers.get('lm_head')!;
      assert.ok(head instanceof TiedLmHead);
      assert.equal(head.table, model.layers.get('transformer.wte')!.weights[0], 'the tied head must reuse the table');
      assert.equal(head.weights.length, 0);
      model.dispose();
    }
    const { model } = await loadPretrained(path.join(root, 'llama-gqa-bf16'));
    assert.equal(model.layers.get('model.layers.0.self_attn.q_proj')!.getClassName(), 'Dense');
    assert.equal(model.layers.get('model.layers.1.mlp.gate_proj')!.getClassName(), 'Dense');
    assert.equal(model.layers.get('model.embed_tokens')!.getClassName(), 'Embedding');
    assert.equal(model.layers.get('lm_head')!.getClassName(), 'Dense');
    assert.equal(model.layers.get('model.norm')!.getClassName(), 'LoraLabRmsNorm');
    // GQA: k_proj has h_kv · d_h outputs. Dense kernels are [in, out].
    assert.deepEqual(model.layers.get('model.layers.0.self_attn.k_proj')!.weights[0]!.shape, [32, 16]);
    model.dispose();
  });

  it('uses a replaced layer at the next call (the forward pass looks layers up by path)', async () => {
    const { model } = await loadPretrained(path.join(root, 'llama-tied-f32-llama3rope'));
    const x = tf.tensor2d([[1, 5, 9]], undefined, 'int32');
    const a = model.logits(x);
    const original = model.layers.get('model.layers.0.mlp.down_proj')!;
    const zero = tf.layers.dense({ units: 32, inputDim: 40, kernelInitializer: 'zeros', useBias: false });
    model.layers.set('model.layers.0.mlp.down_proj', zero);
    const b = model.logits(x);
    assert.ok((await tf.max(tf.abs(a.sub(b))).data())[0]! > 1e-3, 'swapping a layer must change the output');
    model.layers.set('model.layers.0.mlp.down_proj', original);
    const c = model.logits(x);
    assert.ok((await tf.max(tf.abs(a.sub(c))).data())[0]! === 0);
    for (const w of zero.weights) w.dispose();
    tf.dispose([x, a, b, c]);
    model.dispose();
  });
});
