// The README's table of Hugging Face model sizes × backends, computed from the models' config.json values (the
// sizes that matter: vocabulary, widths, layers, heads, tying) with the same layer specs and memory check that
// loadPretrained uses. Run: npx tsx scripts/hf-model-sizes.ts   (prints the Markdown table)
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseHfConfig } from '../src/models/hf/config.js';
import { layerSpecs } from '../src/models/hf/loader.js';
import { countParameters, tensorSpecs } from '../src/models/hf/weights.js';
import { WASM_HEAP_BYTES, defaultHeadroom, gib } from '../src/models/hf/fit.js';

const gpt2 = (n_embd: number, n_layer: number, n_head: number) =>
  ({ model_type: 'gpt2', vocab_size: 50257, n_positions: 1024, n_embd, n_layer, n_head });
const llama = (c: Record<string, unknown>) => ({ model_type: 'llama', ...c });

/** config.json sizes of public checkpoints (Hugging Face model ids). */
export const KNOWN_HF_CONFIGS: Record<string, Record<string, unknown>> = {
  'openai-community/gpt2': gpt2(768, 12, 12),
  'openai-community/gpt2-medium': gpt2(1024, 24, 16),
  'openai-community/gpt2-large': gpt2(1280, 36, 20),
  'openai-community/gpt2-xl': gpt2(1600, 48, 25),
  'HuggingFaceTB/SmolLM2-135M': llama({
    vocab_size: 49152, hidden_size: 576, intermediate_size: 1536, num_hidden_layers: 30, num_attention_heads: 9,
    num_key_value_heads: 3, tie_word_embeddings: true, max_position_embeddings: 8192,
  }),
  'HuggingFaceTB/SmolLM2-360M': llama({
    vocab_size: 49152, hidden_size: 960, intermediate_size: 2560, num_hidden_layers: 32, num_attention_heads: 15,
    num_key_value_heads: 5, tie_word_embeddings: true, max_position_embeddings: 8192,
  }),
  'Qwen/Qwen2.5-0.5B': {
    model_type: 'qwen2', vocab_size: 151936, hidden_size: 896, intermediate_size: 4864, num_hidden_layers: 24,
    num_attention_heads: 14, num_key_value_heads: 2, tie_word_embeddings: true, max_position_embeddings: 32768,
  },
  'TinyLlama/TinyLlama-1.1B-Chat-v1.0': llama({
    vocab_size: 32000, hidden_size: 2048, intermediate_size: 5632, num_hidden_layers: 22, num_attention_heads: 32,
    num_key_value_heads: 4, tie_word_embeddings: false, max_position_embeddings: 2048,
  }),
  'meta-llama/Llama-3.2-1B': llama({
    vocab_size: 128256, hidden_size: 2048, intermediate_size: 8192, num_hidden_layers: 16, num_attention_heads: 32,
    num_key_value_heads: 8, head_dim: 64, tie_word_embeddings: true, max_position_embeddings: 131072,
  }),
  'HuggingFaceTB/SmolLM2-1.7B': llama({
    vocab_size: 49152, hidden_size: 2048, intermediate_size: 8192, num_hidden_layers: 24, num_attention_heads: 32,
    num_key_value_heads: 32, tie_word_embeddings: true, max_position_embeddings: 8192,
  }),
  'meta-llama/Llama-3.2-3B': llama({
    vocab_size: 128256, hidden_size: 3072, intermediate_size: 8192, num_hidden_layers: 28, num_attention_heads: 24,
    num_key_value_heads: 8, head_dim: 128, tie_word_embeddings: true, max_position_embeddings: 131072,
  }),
};

export interface ModelSize {
  id: string;
  parameters: number;
  weightBytes: number;
  largestTensorBytes: number;
  /** Weights + loadPretrained's default working memory. */
  needBytes: number;
  /** That fits wasm's 4 GiB heap. */
  fitsWasm: boolean;
}

export function modelSizes(): ModelSize[] {
  return Object.entries(KNOWN_HF_CONFIGS).map(([id, raw]) => {
    const specs = layerSpecs(parseHfConfig(raw, id));
    const parameters = countParameters(specs);
    const weightBytes = 4 * parameters;
    const largest = Math.max(...tensorSpecs(specs).map((t) => 4 * t.shape.reduce((a, b) => a * b, 1)));
    const need = weightBytes + defaultHeadroom(weightBytes);
    return { id, parameters, weightBytes, largestTensorBytes: largest, needBytes: need, fitsWasm: need <= WASM_HEAP_BYTES };
  });
}

export function sizeTable(): string {
  const rows = modelSizes().map((m) => {
    const p = m.parameters >= 1e9 ? `${(m.parameters / 1e9).toFixed(2)} B` : `${(m.parameters / 1e6).toFixed(1)} M`;
    const need = gib(m.needBytes);
    return `| ${m.id} | ${p} | ${gib(m.weightBytes)} | ${gib(m.largestTensorBytes)} | ${m.fitsWasm ? 'yes' : 'no'} | ≥ ${need} GPU | ≥ ${need} RAM |`;
  });
  return [
    '| model | parameters | float32 weights | largest tensor | wasm (4 GiB heap) | webgpu, node-gpu | cpu, node |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  console.log(sizeTable());
}
