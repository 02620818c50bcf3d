// Will a model's float32 weights fit the active TF.js backend? Checked from the checkpoint's headers before
// anything is allocated. The limits: wasm's heap stops at 4 GiB (tfjs-backend-wasm's 32-bit memory, exactly
// 4 GiB − 64 KiB); cpu and node hold tensors in ordinary process memory (the machine's RAM); webgpu binds each
// tensor as one storage buffer, so the largest tensor must fit the device's maxStorageBufferBindingSize.
import os from 'node:os';
import * as tf from '@tensorflow/tfjs';

/** tfjs-backend-wasm's heap ceiling (Emscripten getHeapMax: 65,535 pages of 64 KiB). */
export const WASM_HEAP_BYTES = 4294901760;

export interface FitRequest {
  /** What is being loaded, for the message (a path or model name). */
  what: string;
  /** Float32 bytes of every weight. */
  weightBytes: number;
  /** Float32 bytes of the largest single tensor (webgpu's per-buffer limit). */
  largestTensorBytes: number;
  /** Working memory to keep free besides the weights. @default max(256 MiB, 10 % of the weights) */
  headroomBytes?: number;
  /** TF.js backend name. @default tf.getBackend() */
  backend?: string;
}

/** Working memory kept free beside the weights unless a caller says otherwise: 10 %, at least 256 MiB. */
export function defaultHeadroom(weightBytes: number): number {
  return Math.max(256 * 2 ** 20, 0.1 * weightBytes);
}

export function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(bytes < 2 ** 30 ? 2 : 1)} GiB`;
}

function webgpuBindingLimit(): number | undefined {
  type Limits = { maxStorageBufferBindingSize?: number; maxBufferSize?: number };
  const device = (tf.backend() as unknown as { device?: { limits?: Limits } }).device;
  const l = device?.limits;
  if (l?.maxStorageBufferBindingSize === undefined) return undefined;
  return Math.min(l.maxStorageBufferBindingSize, l.maxBufferSize ?? Infinity);
}

/**
 * Throws a one-line error when the model cannot fit `backend`: its size, the limit, and the backends that
 * can hold it. Returns the bytes it needs (weights + headroom) when it fits.
 */
export function assertModelFits(r: FitRequest): number {
  const backend = r.backend ?? tf.getBackend();
  const headroom = r.headroomBytes ?? defaultHeadroom(r.weightBytes);
  const need = r.weightBytes + headroom;
  const ram = os.totalmem();
  const alternatives = (): string => {
    const list = [`'webgpu' or 'node-gpu' (a GPU with ≥ ${gib(need)} of memory)`];
    if (ram >= need) list.push(`'node' or 'cpu' (this machine has ${gib(ram)} of RAM)`);
    return list.join(', ');
  };
  const size = `${r.what} needs ${gib(r.weightBytes)} of float32 weights + ${gib(headroom)} working memory`;
  if (backend === 'wasm') {
    const inUse = tf.memory().numBytes;
    if (need + inUse > WASM_HEAP_BYTES) {
      throw new Error(
        `${size}${inUse > 0 ? ` (+ ${gib(inUse)} already in use)` : ''}, more than the wasm backend's 4 GiB heap: ` +
          `load it on ${alternatives()}, or pick a smaller model`,
      );
    }
  } else if (backend === 'cpu' || backend === 'tensorflow') {
    if (need > ram) {
      throw new Error(`${size}, more than this machine's ${gib(ram)} of RAM: load it on a machine with more memory or on a GPU backend`);
    }
  } else if (backend === 'webgpu') {
    const limit = webgpuBindingLimit();
    if (limit !== undefined && r.largestTensorBytes > limit) {
      throw new Error(
        `${r.what}'s largest tensor needs ${gib(r.largestTensorBytes)}, more than this GPU's ${gib(limit)} storage-buffer limit: ` +
          `load it on 'node-gpu', 'node' or 'cpu', or pick a smaller model`,
      );
    }
  }
  return need;
}
