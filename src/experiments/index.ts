// The later chapters' public API: quantised bases and QLoRA, LoRA on embedding tables, combining adapters
// (PEFT's add_weighted_adapter), sweep helpers, one-call fine-tuning experiments, and the LoRA paper's §7 analyses.
export {
  type QuantScheme,
  type QuantizeOptions,
  type QuantizedWeight,
  type QuantizedScales,
  type QuantError,
  type QuantizedDenseArgs,
  NF4_CODE,
  quantizeWeight,
  dequantizeWeight,
  blockScales,
  quantizedBytes,
  bitsPerWeight,
  quantizationError,
  quantizeKernel,
  quantizeDense,
  packWords,
  unpackFields,
  QuantizedDense,
} from '../lora/quantize.js';
export { QLoraDense, QLoraModel, injectQLora, weightBytes, type QLoraDenseArgs, type QLoraOptions } from '../lora/qlora.js';
export { LoraEmbedding, injectLoraEmbedding, type LoraEmbeddingArgs } from '../lora/embedding.js';
export {
  type CombinationType,
  type CombineOptions,
  type LoraFactors,
  combineFactors,
  combinedRank,
  weightedDelta,
  addWeightedAdapter,
  adapterDeltas,
} from '../lora/combine.js';
export { grid, runSweep, loraParamsPerRank, rankForBudget, bestBy, shareOfBest, type SweepProgress } from './sweep.js';
export {
  runExperiment,
  taskValLoss,
  type ExperimentSpec,
  type ExperimentOptions,
  type ExperimentResult,
  type LearnedLayer,
} from './experiment.js';
export { amplification, LORA_PAPER_TABLE_7, type Amplification } from './analysis.js';
export { spread, median, compareSeeds, spreadBy, MIN_SEEDS, type Spread, type Comparison } from './stats.js';
export {
  denseLayerPaths,
  denseWeights,
  writeDenseWeights,
  weightDeltas,
  updateSpectra,
  truncatedUpdateSweep,
  type LayerUpdate,
} from './weight-update.js';
