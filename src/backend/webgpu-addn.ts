// tf.addN on the TF.js webgpu backend binds every input as a storage buffer in one shader, so past
// maxStorageBuffersPerShaderStage − 1 inputs (7 under WebGPU's default limits) the pipeline is invalid and the
// result is silently wrong (Dawn only prints a validation error). Training sums one term per trainable tensor
// (global gradient norm), so this splits a long AddN into chunks that fit and sums the partial results.
import * as tf from '@tensorflow/tfjs';

interface WebgpuBackendInternals {
  device: { limits: { maxStorageBuffersPerShaderStage: number } };
  disposeData(dataId: unknown): void;
}
type AddNArgs = { inputs: tf.TensorInfo[]; backend: WebgpuBackendInternals; attrs: object };

const PATCHED = Symbol.for('lora-lab.webgpu-addn-chunked');

/** Wraps the webgpu AddN kernel so any number of inputs works (idempotent; a no-op without that backend). */
export function patchWebgpuAddN(): void {
  const original = tf.getKernel('AddN', 'webgpu') as (tf.KernelConfig & { [PATCHED]?: true }) | undefined;
  if (original === undefined || original[PATCHED]) return;
  const kernelFunc = (raw: unknown): tf.TensorInfo => {
    const args = raw as AddNArgs;
    const { inputs, backend } = args;
    const maxInputs = Math.max(2, backend.device.limits.maxStorageBuffersPerShaderStage - 1); // one binding is the output
    if (inputs.length <= maxInputs) return original.kernelFunc(raw as never) as tf.TensorInfo;
    // Sum chunk by chunk; each partial sum becomes one input of the next round.
    let level: tf.TensorInfo[] = inputs;
    const temps: tf.TensorInfo[] = [];
    while (level.length > maxInputs) {
      const next: tf.TensorInfo[] = [];
      for (let i = 0; i < level.length; i += maxInputs) {
        const chunk = level.slice(i, i + maxInputs);
        if (chunk.length === 1) {
          next.push(chunk[0]!);
          continue;
        }
        const partial = original.kernelFunc({ ...args, inputs: chunk } as never) as tf.TensorInfo;
        temps.push(partial);
        next.push(partial);
      }
      level = next;
    }
    const out = original.kernelFunc({ ...args, inputs: level } as never) as tf.TensorInfo;
    for (const t of temps) backend.disposeData(t.dataId);
    return out;
  };
  tf.unregisterKernel('AddN', 'webgpu');
  tf.registerKernel({ ...original, kernelFunc: kernelFunc as tf.KernelFunc, [PATCHED]: true } as tf.KernelConfig);
}
