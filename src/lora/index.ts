// LoRA for TF.js layers with PEFT's names and file format (Hu et al. 2021; huggingface/peft tuners/lora): the config,
// one branch and one layer contract with a wrapper per base kind (Dense, Conv1D, Embedding, quantised Dense),
// injection into a LayerTree or any tf.LayersModel, several adapters, adapters on disk, combining adapters.
export {
  type LoraConfig,
  type LoraConfigInput,
  type InitLoraWeights,
  type LoraBias,
  LORA_DEFAULTS,
  loraConfig,
  loraScaling,
  toPeftJson,
  fromPeftJson,
} from './config.js';
export { LoraBranch } from './branch.js';
export { type LoraLayer, type LoraLayerKind, type LoraAdapter, type PeftTensor, isLoraLayer } from './lora-layer.js';
export { LoraDense, type LoraDenseArgs } from './layer.js';
export { LoraEmbedding, type LoraEmbeddingArgs } from './embedding.js';
export { LoraQuantizedDense, type LoraQuantizedDenseArgs } from './quantized.js';
export { SUPPORTED_BASE_CLASSES } from './dispatch.js';
export { resolveTargets } from './targets.js';
export { LoraModel, injectLora, type Unloaded } from './model.js';
export { injectionReport, type InjectionRow } from './report.js';
export {
  saveAdapter,
  loadAdapter,
  readAdapter,
  validateAgainstModel,
  adapterDir,
  CONFIG_FILE,
  WEIGHTS_FILE,
  KEY_PREFIX,
  type AdapterContents,
  type AdapterModule,
  type BaseQuantization,
} from './adapter.js';
export {
  type CombinationType,
  type CombineOptions,
  type LoraFactors,
  combineFactors,
  combinedRank,
  weightedDelta,
  addWeightedAdapter,
  adapterDeltas,
} from './combine.js';
