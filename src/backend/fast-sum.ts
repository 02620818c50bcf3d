// Sum over leading axes (x [R..., C...] → [C...]: every bias and LayerNorm gradient) for the cpu and wasm backends,
// without the transpose their own Sum makes first (23 ms on wasm for [1, 2048, 512] → [512]). The same additions in
// the same order as theirs — from 0, rows in order; float32 on wasm (C's float), float64 on cpu (a JS number) —
// so the results are bit-identical to theirs. On wasm four columns at a time in WebAssembly SIMD (columnSumsF32 in
// gemm.ts: 5 ms → about 0.5 ms for [1, 2048, 512]).
import type * as tf from '@tensorflow/tfjs';
import type { CpuBackendInternals, WasmBackendInternals } from './internals.js';
import { columnSumsF32 } from './gemm.js';

type TensorInfo = tf.TensorInfo;

interface SumArgs {
  inputs: { x: TensorInfo };
  backend: unknown;
  attrs: { axis: number | number[]; keepDims: boolean };
}

/**
 * How many leading axes `axis` reduces, given in increasing order (the backends add in the order the axes are given),
 * or 0 where it names anything else or every axis (then the data is already in reduction order: no transpose).
 */
export function leadingAxes(axis: number | number[], rank: number): number {
  const axes = (Array.isArray(axis) ? axis : [axis]).map((a) => (a < 0 ? a + rank : a));
  if (axes.length === 0 || axes.length >= rank) return 0;
  return axes.every((a, i) => a === i) ? axes.length : 0;
}

/** The backend's Sum, with leading-axes reductions of float32 done in place of the transpose. */
export function fastSum(args: SumArgs, backendName: 'cpu' | 'wasm', original: tf.KernelConfig): TensorInfo {
  const { x } = args.inputs;
  const { axis, keepDims } = args.attrs;
  const r = x.dtype === 'float32' ? leadingAxes(axis, x.shape.length) : 0;
  if (r === 0) return original.kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]) as TensorInfo;
  const kept = x.shape.slice(r);
  const C = kept.reduce((a, b) => a * b, 1);
  const R = x.shape.slice(0, r).reduce((a, b) => a * b, 1);
  const outShape = keepDims ? [...new Array<number>(r).fill(1), ...kept] : kept;
  if (backendName === 'wasm') {
    const be = args.backend as WasmBackendInternals;
    const out = be.makeOutput(outShape, 'float32'); // allocate first: a heap growth would detach earlier views
    const o = be.typedArrayFromHeap(out);
    const v = be.typedArrayFromHeap(x);
    columnSumsF32(v, R, C, o); // each += rounds to float32, as `float sum += x` does in tfjs-wasm's kernel
    return out;
  }
  const be = args.backend as CpuBackendInternals;
  const v = be.data.get(x.dataId).values as Float32Array;
  const acc = new Float64Array(C); // a JS number, as tfjs-cpu's `let sum = 0`
  for (let i = 0; i < R; i++) for (let j = 0, at = i * C; j < C; j++, at++) acc[j] = acc[j]! + v[at]!;
  return be.makeTensorInfo(outShape, 'float32', Float32Array.from(acc));
}
