// A seconds-long run of `npm run bench -- --hf` on a tiny GPT-2: every figure is finite, the LoRA step trains PEFT's
// default c_attn with r·(in + out) parameters per layer, the PyTorch peer builds the same GPT-2 (same parameter
// count) when torch imports, the load-peak child process reports a peak and the weights' size, nothing leaks.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { releaseBackend } from '../src/backend/index.js';
import { formatHfReport, runHfBench } from '../bench/hf.js';

describe('bench --hf', () => {
  after(() => releaseBackend());

  it('measures forward, cached and uncached generation and load memory on a tiny GPT-2', async () => {
    const config = { model_type: 'gpt2', vocab_size: 500, n_positions: 32, n_embd: 32, n_layer: 2, n_head: 2 };
    const before = tf.memory().numTensors;
    const r = await runHfBench({ backend: 'cpu', quick: true, config });
    assert.deepEqual(r.training.targets, ['transformer.h.0.attn.c_attn', 'transformer.h.1.attn.c_attn']);
    assert.equal(r.training.trainableParams, 2 * 8 * (32 + 96));
    assert.equal(r.training.runs.length, 2);
    assert.ok(r.training.msPerStep > 0 && r.training.tokensPerSec > 0 && r.training.peakBytes > 4 * r.parameters);
    if (r.pytorch !== null && !('unavailable' in r.pytorch)) {
      assert.equal(r.pytorch.lora.allParams, r.parameters + r.training.trainableParams, 'PyTorch builds the same GPT-2');
      assert.equal(r.pytorch.lora.trainableParams, r.training.trainableParams);
      assert.ok(r.pytorch.lora.ms > 0);
    }
    assert.equal(tf.memory().numTensors, before, 'bench leaked tensors');
    assert.equal(r.parameters, 500 * 32 + 32 * 32 + 2 * (4 * 32 + 32 * 96 + 96 + 32 * 32 + 32 + 32 * 128 + 128 + 128 * 32 + 32) + 2 * 32);
    assert.ok(r.forward.ms > 0 && Number.isFinite(r.forward.ms));
    assert.ok(r.generation.cachedTokPerSec > 0 && r.generation.uncachedTokPerSec > 0);
    assert.deepEqual(r.loadPeak.map((p) => p.dtype), ['F32', 'BF16']);
    for (const p of r.loadPeak) {
      assert.equal(p.weightBytes, 4 * r.parameters);
      assert.ok(p.peakAboveBefore >= 0 && Number.isFinite(p.ratio));
    }
    assert.ok(r.loadPeak[1]!.fileBytes < r.loadPeak[0]!.fileBytes, 'a BF16 file is about half an F32 one');
    assert.match(formatHfReport(r), /generate, KV cache/);
    assert.match(formatHfReport(r), /LoRA training step: r 8, lora_alpha 16 on 2 c_attn modules, batch 1 × context 32/);
  });
});
