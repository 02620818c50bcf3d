// Hugging Face checkpoints (GPT-2, Llama-family) as LayerTrees named like the checkpoint, their tokenizers,
// and KV-cached generation. Public API of src/models/hf.
export {
  type HfConfig,
  type Gpt2Config,
  type LlamaConfig,
  type HfModelType,
  type RopeScaling,
  SUPPORTED_MODEL_TYPES,
  PEFT_DEFAULT_TARGETS,
  parseHfConfig,
} from './config.js';
export {
  type LayerSpec,
  type TensorSpec,
  type WeightSource,
  type BuildProgress,
  type RandomWeightsOptions,
  countParameters,
  randomWeights,
} from './weights.js';
export { Gpt2LmHeadModel } from './gpt2.js';
export { LlamaForCausalLm } from './llama.js';
export { TiedLmHead } from './tied-head.js';
export { KvCache } from './kv-cache.js';
export { type HfForwardOptions } from './attention.js';
export { WASM_HEAP_BYTES, assertModelFits, type FitRequest } from './fit.js';
export { HfTokenizer, bundledGpt2Tokenizer, type ChatMessage, type HfTokenizerSources } from './tokenizer.js';
export { type SampleOptions, sampleToken } from './sampling.js';
export { type CachedCausalLm, type GenerateTokensOptions, generateTokens, generationOptions } from './generate.js';
export {
  type HfCausalLm,
  type Pretrained,
  type LoadPretrainedOptions,
  HF_WEIGHTS_FILE,
  HF_WEIGHTS_INDEX_FILE,
  buildPretrained,
  loadPretrained,
} from './loader.js';
export { CausalDecoder } from './decoder.js';
