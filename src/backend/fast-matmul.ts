// Replaces the BatchMatMul and _FusedMatMul kernels of the `cpu` and `wasm` backends with the WebAssembly SIMD
// GEMM of gemm.ts. Why: tfjs `cpu` multiplies in plain JS (~0.5 GFLOP/s here), and tfjs `wasm` uses XNNPACK only
// for an untransposed, unbatched product: transposed operands (every matMul gradient) and batched ones
// (attention) fall to a scalar loop at ~1 GFLOP/s; and neither uses more than one thread in Node, where this kernel
// spreads large products over worker threads. Gradients are unchanged: they are registered per kernel name.
// Sum over leading axes (bias and LayerNorm gradients) skips the backends' transpose (fast-sum.ts, same bits). On
// wasm, Identity and a Cast to the dtype a tensor already has (every product's and many other gradients cast their
// operands to float32) share their input's memory instead of copying it, as the cpu backend's Identity and Cast and
// wasm's own Reshape already do.
import * as tf from '@tensorflow/tfjs';
import { batchMatMulF32, gemmAvailable, THREAD_MIN_FLOPS } from './gemm.js';
import { fastSum } from './fast-sum.js';
import type { CpuBackendInternals, WasmBackendInternals } from './internals.js';

type TensorInfo = tf.TensorInfo;
export type FastMatMulBackend = 'cpu' | 'wasm';


interface MatMulArgs {
  inputs: { a: TensorInfo; b: TensorInfo; bias?: TensorInfo; preluActivationWeights?: TensorInfo };
  backend: unknown;
  attrs: { transposeA: boolean; transposeB: boolean; activation?: string; leakyreluAlpha?: number };
}

const MATMUL_KERNELS = ['BatchMatMul', '_FusedMatMul'] as const;
const kernelsFor = (backend: FastMatMulBackend): string[] =>
  backend === 'wasm' ? [...MATMUL_KERNELS, 'Sum', 'Identity', 'Cast'] : [...MATMUL_KERNELS, 'Sum'];
const originals = new Map<string, tf.KernelConfig>();
const key = (kernel: string, backend: string) => `${backend}/${kernel}`;

/** Whether the fast kernels are registered for `backend` now. */
export function fastMatMulInstalled(backend: FastMatMulBackend): boolean {
  return originals.has(key('BatchMatMul', backend));
}

/**
 * Registers the fast kernels for `backend` (idempotent). Returns false, changing nothing, where WebAssembly SIMD
 * is missing or the backend's kernels are not registered (its package not loaded).
 */
export function installFastMatMul(backend: FastMatMulBackend): boolean {
  if (fastMatMulInstalled(backend)) return true;
  if (!gemmAvailable()) return false;
  const names = kernelsFor(backend);
  const found = names.map((k) => tf.getKernel(k, backend));
  if (found.some((k) => k === undefined)) return false;
  names.forEach((kernelName, i) => {
    const original = found[i]!;
    originals.set(key(kernelName, backend), original);
    tf.unregisterKernel(kernelName, backend);
    const kernelFunc =
      kernelName === 'Identity'
        ? (args: IdentityArgs) => sharedIdentity(args, original)
        : kernelName === 'Cast'
          ? (args: CastArgs) => sharedCast(args, original)
          : kernelName === 'Sum'
            ? (args: Parameters<typeof fastSum>[0]) => fastSum(args, backend, original)
            : (args: MatMulArgs) => fastMatMul(args, backend, original);
    // Keep the original's setupFunc/disposeFunc: a backend that starts again (after tf.engine().reset(), which
    // releaseBackend() does for webgpu) must set up the original kernel the fallback calls.
    tf.registerKernel({ ...original, kernelFunc: kernelFunc as unknown as tf.KernelFunc });
  });
  return true;
}

/** Puts the backend's own kernels back. */
export function uninstallFastMatMul(backend: FastMatMulBackend): void {
  for (const kernelName of kernelsFor(backend)) {
    const original = originals.get(key(kernelName, backend));
    if (original === undefined) continue;
    tf.unregisterKernel(kernelName, backend);
    tf.registerKernel(original);
    originals.delete(key(kernelName, backend));
  }
}

interface IdentityArgs {
  inputs: { x: TensorInfo };
  backend: { incRef(dataId: unknown): void };
}

/** y = x without a copy: the output shares x's memory, reference-counted (kernels never write their inputs). */
function sharedIdentity(args: IdentityArgs, original: tf.KernelConfig): TensorInfo {
  const { x } = args.inputs;
  if (x.dtype === 'string') return original.kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]) as TensorInfo;
  args.backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

interface CastArgs extends IdentityArgs {
  attrs: { dtype: tf.DataType };
}

/**
 * A cast to the dtype x already has, without a copy (tfjs-wasm copies: every product's gradient casts its operands
 * to float32, 24 copies of [2048, 512] per bench-preset step); any other cast is the backend's.
 */
function sharedCast(args: CastArgs, original: tf.KernelConfig): TensorInfo {
  if (args.attrs.dtype !== args.inputs.x.dtype) return original.kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]) as TensorInfo;
  return sharedIdentity(args, original);
}

/** Leading (batch) dimensions → one batch size, or undefined when they broadcast in a way gemm.ts does not do. */
function batchOf(a: number[], b: number[]): { batchA: number; batchB: number; outer: number[] } | undefined {
  const outerA = a.slice(0, -2);
  const outerB = b.slice(0, -2);
  const size = (s: number[]) => s.reduce((x, y) => x * y, 1);
  const [batchA, batchB] = [size(outerA), size(outerB)];
  if (batchA === batchB) {
    if (outerA.join() !== outerB.join() && outerA.length === outerB.length) return undefined;
    return { batchA, batchB, outer: outerA.length >= outerB.length ? outerA : outerB };
  }
  if (batchA === 1) return { batchA, batchB, outer: outerB };
  if (batchB === 1) return { batchA, batchB, outer: outerA };
  return undefined;
}

function fastMatMul(args: MatMulArgs, backendName: FastMatMulBackend, original: tf.KernelConfig): TensorInfo {
  const { a, b, bias, preluActivationWeights } = args.inputs;
  const { transposeA, transposeB } = args.attrs;
  const activation = args.attrs.activation ?? 'linear';
  const fallback = () => original.kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]) as TensorInfo;
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || b.shape.length < 2) return fallback();
  if (preluActivationWeights !== undefined || (activation !== 'linear' && activation !== 'relu')) return fallback();
  const batch = batchOf(a.shape, b.shape);
  if (batch === undefined) return fallback();
  const [a1, a2] = a.shape.slice(-2) as [number, number];
  const [b1, b2] = b.shape.slice(-2) as [number, number];
  const M = transposeA ? a2 : a1;
  const K = transposeA ? a1 : a2;
  const N = transposeB ? b1 : b2;
  if (K !== (transposeB ? b2 : b1)) return fallback(); // let the original raise its shape error
  if (bias !== undefined && !(bias.dtype === 'float32' && (bias.shape.reduce((x, y) => x * y, 1) === N || bias.shape.every((d) => d === 1)))) {
    return fallback();
  }
  // tfjs wasm runs an untransposed, unbatched product through XNNPACK, on one thread. For narrow (N < 64) or small
  // products it beats this kernel's one thread (2048×128·128×32: 0.73 vs 1.13 ms CPU), so they stay there; larger ones
  // come here (equal or faster on one thread: 0.74-1.02× XNNPACK's CPU time at 2048×128×128-512, 1024³) and can use
  // the threads. The rule does not look at the thread count, so neither do the results.
  if (backendName === 'wasm' && !transposeA && !transposeB && batch.batchA === 1 && batch.batchB === 1 &&
    (N < 64 || 2 * M * N * K < THREAD_MIN_FLOPS)) {
    return fallback();
  }

  const outShape = [...batch.outer, M, N];
  const batchSize = Math.max(batch.batchA, batch.batchB);
  let out: TensorInfo;
  let c: Float32Array;
  let av: Float32Array;
  let bv: Float32Array;
  let biasv: Float32Array | undefined;
  if (backendName === 'wasm') {
    const be = args.backend as WasmBackendInternals;
    out = be.makeOutput(outShape, 'float32'); // allocate first: a heap growth would detach earlier views
    c = be.typedArrayFromHeap(out);
    av = be.typedArrayFromHeap(a);
    bv = be.typedArrayFromHeap(b);
    biasv = bias ? be.typedArrayFromHeap(bias) : undefined;
  } else {
    const be = args.backend as CpuBackendInternals;
    av = be.data.get(a.dataId).values as Float32Array;
    bv = be.data.get(b.dataId).values as Float32Array;
    biasv = bias ? (be.data.get(bias.dataId).values as Float32Array) : undefined;
    c = new Float32Array(batchSize * M * N);
    out = be.makeTensorInfo(outShape, 'float32', c);
  }
  // Bias and relu in the kernel's epilogue: C + bias rounded to float32, then relu, as TF.js's fused kernel does.
  batchMatMulF32(av, [batch.batchA, a1, a2], bv, [batch.batchB, b1, b2], transposeA, transposeB, c, {
    bias: biasv,
    relu: activation === 'relu',
  });
  return out;
}
