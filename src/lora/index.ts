// LoRA for TF.js layers with PEFT's names and file format (Hu et al. 2021; huggingface/peft tuners/lora):
// config, the LoraDense layer (+ DoRA, PiSSA, rsLoRA), injection into a LayerTree, adapters on disk.
export {
  type LoraConfig,
  type LoraConfigInput,
  type InitLoraWeights,
  type LoraBias,
  LORA_DEFAULTS,
  OUTPUT_HEAD_NAMES,
  loraConfig,
  loraScaling,
  matchesTarget,
  isAllLinear,
  toPeftJson,
  fromPeftJson,
} from './config.js';
export { deriveSeed, initialLoraWeights, type InitialWeights } from './init.js';
export {
  LoraDense,
  type LoraDenseArgs,
  type LoraAdapterWeights,
  isDense,
  linearDims,
  validateAdapterName,
} from './layer.js';
export { resolveTargets, isLinearLayer } from './targets.js';
export { LoraModel, injectLora, isBiasWeight, type ParamGroup } from './model.js';
export { SequentialTree } from './sequential.js';
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
} from './adapter.js';
