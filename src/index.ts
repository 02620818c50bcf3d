// lora-lab's public API: what a notebook or another project imports (`import { svd, injectLora } from 'lora-lab'`).
// Re-exports only, each module's public names (internals such as kernel helpers stay in their modules; the list
// is checked by test/index.test.ts). `tf` is the TensorFlow.js instance the library itself uses: import it from
// here (or use the same @tensorflow/tfjs version, which npm dedupes) so that tensors, layers and backends are shared.
// Importing lora-lab also lets plain @tensorflow/tfjs in Node save and load file:// models (models/tfjs-files.ts).
export * as tf from '@tensorflow/tfjs';
export { Matrix } from 'ml-matrix';
export {
  BACKENDS,
  type BackendName,
  type BackendInfo,
  type UseBackendOptions,
  BackendUnavailableError,
  parseBackendName,
  currentBackend,
  useBackend,
  releaseBackend,
  fastMatMulInstalled,
  installFastMatMul,
  uninstallFastMatMul,
  type FastMatMulBackend,
  gemmThreads,
  setGemmThreads,
  gemmThreadStats,
  gemmThreadsReady,
  THREAD_MIN_FLOPS,
  type GemmThreadStats,
  type GemmThreadOptions,
} from './backend/index.js';
export * from './charts/index.js';
export * from './notebook/index.js';
export * from './linalg/index.js';
export * from './io/index.js';
export * from './models/index.js';
export * from './quant/index.js';
export * from './lora/index.js';
export * from './data/index.js';
export * from './train/index.js';
export * from './experiments/index.js';
