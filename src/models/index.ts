// Public API of src/models: the tiny GPT, the MLP classifier, greedy generation, base checkpoints, TF.js models as
// LayerTrees (a tf.Sequential, any tf.LayersModel) with file save/load for plain @tensorflow/tfjs in Node, and
// Hugging Face checkpoints (src/models/hf: GPT-2 and Llama-family LayerTrees, tokenizers, KV-cached generation).
export { type LayerTree, type PeftModelInfo, getLayer, OUTPUT_HEAD_NAMES, matchesTarget, isAllLinear } from './module.js';
export {
  type GptConfig,
  type GptPreset,
  type GptPresetName,
  type GptConfigInput,
  GPT_PRESETS,
  gptConfig,
  validateGptConfig,
} from './config.js';
export { Gpt, type GptOptions, type ForwardOptions, blockPaths, causalMask, gelu } from './gpt.js';
export { TokenEmbedding, PositionEmbedding, type EmbeddingArgs } from './embedding.js';
export { Conv1D, type Conv1DArgs } from './conv1d.js';
export { LayerNorm, type LayerNormArgs } from './layer-norm.js';
export { MlpClassifier, type ClassifierConfig, CLASSIFIER_PRESETS, validateClassifierConfig } from './classifier.js';
export { generate, type CausalLm, type GenerateOptions } from './generate.js';
export { SequentialTree } from './sequential.js';
export { LayersModelTree, isLayersModel } from './layers-model.js';
export {
  saveLayersModel,
  loadLayersModel,
  readModelArtifacts,
  folderHandler,
  registerFileHandlers,
  MODEL_JSON,
  WEIGHTS_BIN,
} from './tfjs-files.js';
export {
  type BaseModel,
  type Checkpoint,
  CHECKPOINT_CONFIG_FILE,
  CHECKPOINT_WEIGHTS_FILE,
  namedWeights,
  saveCheckpoint,
  loadCheckpoint,
  loadGpt,
  loadClassifier,
  BUNDLED_CHECKPOINTS,
  BUNDLED_ADAPTERS,
  bundledCheckpoint,
  bundledAdapter,
  dataPath,
} from './checkpoint.js';
export { RmsNorm, type RmsNormArgs } from './rms-norm.js';
export * from './hf/index.js';
