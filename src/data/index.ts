// Public API of src/data: the character tokenizer, seeded task generators and loss-masked batches.
export { type Random, seededRandom, mixSeed } from './rng.js';
export { CharTokenizer, DEFAULT_CHARS, PAD, BOS, EOS, type TokenizerJson, type EncodeOptions } from './tokenizer.js';
export {
  SEPARATOR,
  TEXT_TASKS,
  textTask,
  exampleAt,
  makeExamples,
  recordText,
  splitOf,
  maxPromptLength,
  maxRecordTokens,
  type TextTask,
  type TextTaskName,
  type Example,
  type Split,
} from './tasks.js';
export { type LmBatch, type LmBatchOptions, lmBatch, batchAt, promptTokens, maskedTargets } from './batch.js';
export {
  ANIMALS, ANIMAL_FEATURES, animalData, nightCameraMatrix, nightCameraDirections, type AnimalDomain, type ClassData,
} from './animals.js';
