// Where a training step's time goes, kernel by kernel (tf.profile: each kernel's time on the backend), at 1 GEMM
// thread and at N: how much of a step the matrix products are before and after threading them, and which other
// kernels would be worth threading next.
import * as tf from '@tensorflow/tfjs';
import { setGemmThreads } from '../../src/backend/index.js';
import { Adam } from '../../src/train/adam.js';
import { allVariables, step, type BenchModels } from './training.js';

export interface KernelTime {
  kernel: string;
  calls: number;
  /** Summed kernel ms in one step at 1 thread and at N (median of the profiled steps). */
  ms1: number;
  msN: number;
}

export interface StepProfile {
  kind: 'full' | 'lora';
  threads: number;
  /** Sum over all kernels, ms. */
  total1: number;
  totalN: number;
  /** Most expensive first (at 1 thread). */
  kernels: KernelTime[];
}

/** The matrix-product kernels (the ones the threads speed up). */
export const MATMUL_KERNELS = new Set(['BatchMatMul', '_FusedMatMul']);

/** Kernel name → [calls, ms] for one profiled step. */
async function profileOnce(run: () => Promise<void>): Promise<Map<string, [number, number]>> {
  const info = await tf.profile(async () => {
    await run();
    return [];
  });
  const by = new Map<string, [number, number]>();
  for (const k of info.kernels) {
    // Ops with a custom gradient (e.g. "fusedMatMul__op") appear as well as the kernels they run: count kernels only.
    if (k.name.endsWith('__op')) continue;
    const e = by.get(k.name) ?? [0, 0];
    e[0]++;
    e[1] += Number(k.kernelTimeMs);
    by.set(k.name, e);
  }
  return by;
}

/** Profiles `reps` steps of one kind at 1 thread and at `threads`, interleaved; per kernel, the median step. */
export async function profileStep(models: BenchModels, kind: 'full' | 'lora', threads: number, reps = 3): Promise<StepProfile> {
  const vars = kind === 'full' ? allVariables(models.plain) : null;
  const adam = kind === 'full' ? new Adam(vars!) : new Adam(models.lora.paramGroups());
  const trained = vars ?? adam.variables();
  const model = kind === 'full' ? models.plain : models.loraModel;
  const run = async () => void (await step(model, models.batch, trained, adam));
  const samples: Record<'one' | 'many', Map<string, [number, number]>[]> = { one: [], many: [] };
  try {
    await run(); // warm-up
    for (let r = 0; r < reps; r++) {
      setGemmThreads(1);
      samples.one.push(await profileOnce(run));
      setGemmThreads(threads);
      samples.many.push(await profileOnce(run));
    }
  } finally {
    adam.dispose();
    setGemmThreads();
  }
  const mid = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  const names = [...new Set([...samples.one, ...samples.many].flatMap((m) => [...m.keys()]))];
  const kernels = names.map((kernel) => ({
    kernel,
    calls: samples.one[0]!.get(kernel)?.[0] ?? 0,
    ms1: mid(samples.one.map((m) => m.get(kernel)?.[1] ?? 0)),
    msN: mid(samples.many.map((m) => m.get(kernel)?.[1] ?? 0)),
  }));
  kernels.sort((a, b) => b.ms1 - a.ms1);
  const sum = (k: 'ms1' | 'msN') => kernels.reduce((s, x) => s + x[k], 0);
  return { kind, threads, total1: sum('ms1'), totalN: sum('msN'), kernels };
}
