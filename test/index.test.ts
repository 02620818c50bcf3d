// The public API is a list, not whatever the modules happen to export: every runtime name `lora-lab` exports, in
// alphabetical order. Adding or removing one is a decision, made here; internals (kernel helpers, bit packing) stay out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as api from '../src/index.js';

const PUBLIC = `
  ANIMALS ANIMAL_FEATURES Adam BACKENDS BLOCK_PROJECTIONS BOS BUNDLED_ADAPTERS BUNDLED_CHECKPOINTS BackendUnavailableError
  CHART_PNG_SCALE CHECKPOINT_CONFIG_FILE CHECKPOINT_WEIGHTS_FILE CLASSIFIER_PRESETS CONFIG_FILE CharTokenizer
  CheckError Conv1D DEFAULT_CHARS DEFAULT_LORA DTYPE_SIZE EOS GPT_PRESETS Gpt KEY_PREFIX LORA_DEFAULTS
  LORA_PAPER_TABLE_7 LayerNorm LayersModelTree LiveOutput LoraBranch LoraDense LoraEmbedding LoraModel
  LoraQuantizedDense MIN_SEEDS MODEL_JSON Matrix MlpClassifier NF4_CODE NonFiniteLossError OPTIMIZER_FILE
  OUTPUT_HEAD_NAMES PAD PeakMemory PositionEmbedding QuantizedDense SEPARATOR SUPPORTED_BASE_CLASSES
  SequentialTree TEXT_TASKS TRAINER_STATE_FILE TokenEmbedding WEIGHTS_BIN WEIGHTS_FILE accuracy adapterDeltas
  adapterDir addWeightedAdapter allVariables amplification animalData asMatrix asParamGroups attentionBlockDiagram
  barChart batchAt
  batchTensors bestBy bitsPerWeight blockPaths blockScales bundledAdapter bundledCheckpoint causalMask
  chartBase chartOutput check checkClose classCrossEntropy classifierAccuracy combineFactors combinedRank
  compareSeeds concatCharts countParams createRng currentBackend dataPath decodeSafetensors demoPicture
  dequantizeWeight effectiveRank encodeSafetensors energy entropyEffectiveRank evaluateTask exactMatch
  exampleAt f32Tensor fastMatMulInstalled finetuneGpt fitLowRank folderHandler formatBytes formatDuration
  formatEta formatProgress formatProgressBar formatStep frobeniusError frobeniusNorm fromPeftJson fullFineTune
  gelu generate getLayer gptConfig gptStepFlops grid heatmap injectLora installFastMatMul interleavedMedians
  isAllLinear
  isLayersModel isLoraLayer isQuantized learningRate lineChart lmBatch lmLoss loadAdapter loadCheckpoint
  loadClassifier loadGpt loadLayersModel loadTrainingState loraConfig loraParamsPerRank loraScaling
  lossMaskChart lowRankApprox lowRankTask makeExamples maskedCrossEntropy maskedTargets matchedGaussian
  matchesTarget matrixToTensor
  maxAbsDiff maxPromptLength maxRecordTokens median mixSeed namedWeights nightCameraMatrix notebookProgress
  optimizerStateBytes paramCounts parseBackendName pngSize prescribedSpectrum pretrainClassifier pretrainGpt
  profiledMatMuls promptTokens quantizationError quantizeBase quantizeDense quantizeKernel quantizeWeight
  quantizedBytes
  randomGaussian randomOrthogonal randomizedSvd rankForBudget readAdapter readModelArtifacts reconstruct
  recordText registerFileHandlers relativeError releaseBackend renderPng renderSvg replaceDirAtomic
  resolveTargets runExperiment runSweep saveAdapter saveChart saveCheckpoint saveLayersModel saveTrainingState
  scatterChart seededRandom shareOfBest showChart showMarkdown showTable sigmaMatrix singularValues
  spectralError spectralNorm splitOf spread spreadBy spreadChart subspaceSimilarity subspaceSimilarityGrid svd
  svgToPng tableBundle taskValLoss tensorToMatrix textTask tf toFloat32 toPeftJson train trainingStepPair
  truncationError
  uninstallFastMatMul useBackend validateAgainstModel validateClassifierConfig validateGptConfig weightBytes
  weightedDelta writeFileAtomic
  CausalDecoder Gpt2LmHeadModel HF_WEIGHTS_FILE HF_WEIGHTS_INDEX_FILE HfTokenizer KvCache LlamaForCausalLm
  PEFT_DEFAULT_TARGETS RmsNorm SUPPORTED_MODEL_TYPES SafetensorsFile THREAD_MIN_FLOPS TiedLmHead WASM_HEAP_BYTES
  assertModelFits buildPretrained bundledGpt2Tokenizer countParameters gemmThreadStats gemmThreads gemmThreadsReady
  generateTokens
  generationOptions loadPretrained parseHfConfig randomWeights readDir recoverDir sampleToken saveResumable
  setGemmThreads updateDirAtomic
  SVD_STAGE_COLORS bidiagonalizationFlops pictureChart randomizedSvdFlops svdFlops svdStages svdStagesChart
  denseLayerPaths denseWeights loraBlockDiagram loraBlockGeometry matrixEquation naturalOrder truncatedUpdateSweep
  updateSpectra weightDeltas writeDenseWeights
  classMeans linearForwardFlops nearestMeanShare nightCameraDirections pca pcaProject
  DEFAULT_HF_LORA finetuneHf injectionReport parseJsonl prepareSftData readJsonl savePretrained sftLoss
  indexTicks randomSubspaceBaseline subspaceChart
  SeedRuns describeComparison meanDeltaNorm scoreAnswers seedSummary seedValues smallMultiples unbeaten
  FineTuneRuns bestLearningRate bestRatesBySeed chanceMaxCosine curveRows forgettingProbe intruderDimensions
  intrudersByLayer paretoFrontier rateRatio runFineTune tunedWeights weightMatrix
`.trim().split(/\s+/);

test('src/index.ts exports exactly the public names', () => {
  assert.deepEqual(Object.keys(api).sort(), [...PUBLIC].sort());
});

test('internals are not exported', () => {
  for (const internal of ['rowMajor', 'packWords', 'unpackFields', 'patchWebgpuAddN', 'gemm', 'batchMatMulF32', 'linearParts', 'selectPaths']) {
    assert.ok(!(internal in api), `${internal} is internal`);
  }
});
