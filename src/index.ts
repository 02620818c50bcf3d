// lora-lab's public API: what a notebook or another project imports (`import { svd, injectLora } from 'lora-lab'`).
// Re-exports only. `tf` is the TensorFlow.js instance the library itself uses: import it from here so that
// tensors, layers and backends are shared.
export * as tf from '@tensorflow/tfjs';
export * from './backend/index.js';
export * from './charts/index.js';
export * from './notebook/index.js';
export * from './models/module.js';
export { Matrix } from 'ml-matrix';
export * from './linalg/index.js';
export * from './io/index.js';
export * from './lora/index.js';
export * from './experiments/index.js';
export * from './models/index.js';
export * from './data/index.js';
export * from './train/index.js';
