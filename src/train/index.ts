// Public API of src/train: Adam/AdamW, the training loop, masked SFT loss, evaluation, memory and FLOP accounting
// and resumable training state.
export { Adam, type AdamOptions } from './adam.js';
export { asParamGroups, allVariables, type ParamGroup } from './params.js';
export { train, learningRate, NonFiniteLossError, type TrainOptions, type TrainResult, type Progress } from './loop.js';
export { maskedCrossEntropy, classCrossEntropy } from './loss.js';
export { batchTensors, lmLoss, type TrainableLm } from './sft.js';
export { exactMatch, scoreAnswers, accuracy, type ExactMatchResult, type AnswerScores } from './eval.js';
export { countParams, optimizerStateBytes, PeakMemory, formatBytes } from './memory.js';
export { gptStepFlops, profiledMatMuls, type StepFlops, type StepShape, type MatMulKernel } from './flops.js';
export { formatProgress, formatProgressBar, formatEta } from './format.js';
export {
  pretrainGpt,
  pretrainClassifier,
  classifierAccuracy,
  type PretrainGptOptions,
  type PretrainGptResult,
  type PretrainClassifierOptions,
  type PretrainClassifierResult,
} from './pretrain.js';
export {
  saveTrainingState,
  loadTrainingState,
  saveResumable,
  OPTIMIZER_FILE,
  TRAINER_STATE_FILE,
  type TrainerState,
} from './state.js';
export {
  finetuneGpt,
  evaluateTask,
  DEFAULT_LORA,
  type FinetuneOptions,
  type FinetuneResult,
} from './finetune.js';
