// The experiments the notebooks run: one-call fine-tuning runs of a LoRA variant, sweep helpers, the LoRA paper's §7
// analyses, seed statistics (a setting beats another only beyond the seeds' spread), and the linear-algebra
// chapter's small trained experiments (fitting B·A, a full fine-tune's ΔW).
export { grid, runSweep, loraParamsPerRank, rankForBudget, bestBy, shareOfBest, type SweepProgress } from './sweep.js';
export {
  runExperiment,
  taskValLoss,
  meanDeltaNorm,
  type ExperimentSpec,
  type ExperimentOptions,
  type ExperimentResult,
  type LearnedLayer,
} from './experiment.js';
export { SeedRuns, seedValues, type SeedExperiment, type ExperimentOverrides, type SeedProgress } from './seeds.js';
export { amplification, LORA_PAPER_TABLE_7, type Amplification } from './analysis.js';
export { fitLowRank, type FitLowRankOptions, type FitLowRankResult } from './fit-lowrank.js';
export {
  lowRankTask,
  fullFineTune,
  matchedGaussian,
  type LowRankTask,
  type LowRankTaskOptions,
  type FullFineTuneOptions,
} from './lowrank-task.js';
export {
  spread, median, compareSeeds, describeComparison, spreadBy, seedSummary, unbeaten, MIN_SEEDS,
  type Spread, type Comparison,
} from './stats.js';
export {
  runFineTune,
  weightMatrix,
  tunedWeights,
  curveRows,
  type FineTuneMethod,
  type FineTuneOptions,
  type FineTuneRun,
  type CurvePoint,
  type ProbeScore,
} from './finetune-run.js';
export { FineTuneRuns, type FineTuneSetting, type FineTuneRunsProgress } from './finetune-runs.js';
export { forgettingProbe, paretoFrontier, type TradeOffPoint } from './forgetting.js';
export { bestLearningRate, bestRatesBySeed, rateRatio, type BestRate, type RateRatio } from './lr-sweep.js';
export {
  intruderDimensions,
  intrudersByLayer,
  chanceMaxCosine,
  type IntruderOptions,
  type IntruderAnalysis,
} from './intruders.js';
export {
  denseLayerPaths,
  denseWeights,
  writeDenseWeights,
  weightDeltas,
  updateSpectra,
  truncatedUpdateSweep,
  type LayerUpdate,
} from './weight-update.js';
export { linearForwardFlops } from './layer-flops.js';
export { classMeans, nearestMeanShare } from './class-means.js';
export { trainingStepPair, type StepPair, type StepPairOptions } from './step-cost.js';
