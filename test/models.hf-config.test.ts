// config.json parsing, parameter counts of public models (the published figures), PEFT's default targets,
// RoPE frequencies (llama3 scaling's three bands), and the README's model-size table being the computed one.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseHfConfig, PEFT_DEFAULT_TARGETS } from '../src/models/hf/config.js';
import { layerSpecs } from '../src/models/hf/loader.js';
import { countParameters } from '../src/models/hf/weights.js';
import { ropeInverseFrequencies } from '../src/models/hf/rope.js';
import { KNOWN_HF_CONFIGS, sizeTable } from '../scripts/hf-model-sizes.js';

describe('Hugging Face configs', () => {
  it('count the published parameters of real models', () => {
    const count = (id: string) => countParameters(layerSpecs(parseHfConfig(KNOWN_HF_CONFIGS[id], id)));
    assert.equal(count('openai-community/gpt2'), 124_439_808);
    assert.equal(count('openai-community/gpt2-xl'), 1_557_611_200);
    assert.equal(count('HuggingFaceTB/SmolLM2-135M'), 134_515_008);
    assert.equal(count('TinyLlama/TinyLlama-1.1B-Chat-v1.0'), 1_100_048_384);
    assert.equal(count('meta-llama/Llama-3.2-1B'), 1_235_814_400);
    assert.equal(count('Qwen/Qwen2.5-0.5B'), 494_032_768);
  });

  it('take transformers defaults and read both GPT-2 and Llama names', () => {
    const g = parseHfConfig({ model_type: 'gpt2' });
    assert.equal(g.modelType, 'gpt2');
    assert.deepEqual([g.vocabSize, g.contextLength, g.hiddenSize, g.numLayers, g.intermediateSize], [50257, 1024, 768, 12, 3072]);
    assert.equal(g.tieWordEmbeddings, true);
    const l = parseHfConfig({ model_type: 'llama', hidden_size: 64, num_attention_heads: 8, rope_theta: 5e5 });
    if (l.modelType === 'gpt2') throw new Error('unreachable');
    assert.deepEqual([l.numKeyValueHeads, l.headDim, l.ropeTheta, l.tieWordEmbeddings, l.qkvBias], [8, 8, 5e5, false, false]);
    const q = parseHfConfig({ model_type: 'qwen2', hidden_size: 64, num_attention_heads: 4, num_key_value_heads: 2 });
    if (q.modelType === 'gpt2') throw new Error('unreachable');
    assert.deepEqual([q.qkvBias, q.oBias], [true, false]);
    // transformers 5 keeps rope_theta inside rope_parameters.
    const v5 = parseHfConfig({ model_type: 'llama', rope_parameters: { rope_type: 'default', rope_theta: 123 } });
    if (v5.modelType === 'gpt2') throw new Error('unreachable');
    assert.equal(v5.ropeTheta, 123);
  });

  it('reject bad values naming the key', () => {
    assert.throws(() => parseHfConfig({ model_type: 'gpt2', n_embd: 10, n_head: 3 }, 'x/config.json'), /x\/config\.json: n_embd 10 must be divisible by n_head 3/);
    assert.throws(() => parseHfConfig({ model_type: 'llama', hidden_size: -1 }), /'hidden_size' must be a positive integer, got -1/);
    assert.throws(() => parseHfConfig({ model_type: 'llama', hidden_act: 'gelu' }), /hidden_act 'gelu' is not supported for llama; use silu/);
    assert.throws(() => parseHfConfig([]), /must hold a JSON object, got an array/);
  });

  it("give PEFT's default LoRA targets per model type", () => {
    assert.deepEqual(PEFT_DEFAULT_TARGETS.gpt2, ['c_attn']);
    assert.deepEqual(PEFT_DEFAULT_TARGETS.llama, ['q_proj', 'v_proj']);
  });

  it('scale RoPE frequencies in llama3 style: short wavelengths kept, long ones divided, the middle blended', () => {
    const plain = ropeInverseFrequencies(16, 500000, { ropeType: 'default' });
    assert.ok(Math.abs(plain[1]! - 500000 ** (-2 / 16)) < 1e-15);
    const s = { ropeType: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 64 } as const;
    const scaled = ropeInverseFrequencies(16, 500000, s);
    const wl = (f: number) => (2 * Math.PI) / f;
    assert.ok(wl(plain[0]!) < 16 && scaled[0] === plain[0]); // high frequency: unchanged
    assert.ok(wl(plain[2]!) > 64 && Math.abs(scaled[2]! - plain[2]! / 8) < 1e-18); // low frequency: / factor
    const smooth = (64 / wl(plain[1]!) - 1) / 3; // medium: (1 − s)·f/8 + s·f
    assert.ok(wl(plain[1]!) >= 16 && wl(plain[1]!) <= 64);
    assert.ok(Math.abs(scaled[1]! - ((1 - smooth) * plain[1]! / 8 + smooth * plain[1]!)) < 1e-15);
  });

  it("README's model-size table is the computed one", () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    assert.ok(readme.includes(sizeTable()), 'README.md model table is stale: paste the output of npx tsx scripts/hf-model-sizes.ts');
  });
});
