// What the cpu and wasm backends expose that lora-lab's kernels (fast-matmul.ts, fast-sum.ts) need: public at run
// time in TF.js 4.22, absent from its typings.
import type * as tf from '@tensorflow/tfjs';

export interface CpuBackendInternals {
  data: { get(dataId: unknown): { values: unknown } };
  makeTensorInfo(shape: number[], dtype: 'float32', values: Float32Array): tf.TensorInfo;
}

export interface WasmBackendInternals {
  /** Allocate outputs before taking views of inputs: a heap growth detaches earlier views. */
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
}
