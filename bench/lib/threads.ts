// The GEMM on one thread and on N (LORA_LAB_THREADS, else the cores up to 8), side by side in one process with the
// rounds interleaved (1, N, N, 1, ...): matMul GFLOP/s, the GPT training step (full and LoRA), and the cut-over scan
// behind THREAD_MIN_FLOPS. On Linux matMul and training also carry the busiest thread's CPU time (from
// /proc/self/task/*/schedstat): when other processes load the machine, wall-clock ratios shrink; CPU-time ratios say
// what an idle machine gives.
// The cut-over is about hand-off latency, which only wall-clock time on a quiet machine shows.
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { batchMatMulF32, gemmThreadStats, gemmThreadsReady, setGemmThreads, type GemmThreadStats } from '../../src/backend/index.js';
import { Adam } from '../../src/train/adam.js';
import { allVariables, step, type BenchModels } from './training.js';
import { median } from './timing.js';

/** Each thread's time on a CPU so far (ns), by thread id; undefined off Linux. */
function threadCpuNs(): Map<string, number> | undefined {
  try {
    const out = new Map<string, number>();
    for (const tid of readdirSync('/proc/self/task')) {
      out.set(tid, Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]));
    }
    return out;
  } catch {
    return undefined;
  }
}

/** Wall-clock ms of `fn`, and the CPU ms of the thread that was busiest meanwhile. */
async function measure(fn: () => Promise<void>): Promise<{ ms: number; cpuMs?: number }> {
  const c0 = threadCpuNs();
  const t0 = performance.now();
  await fn();
  const ms = performance.now() - t0;
  const c1 = threadCpuNs();
  if (c0 === undefined || c1 === undefined) return { ms };
  let busiest = 0;
  for (const [tid, ns] of c1) busiest = Math.max(busiest, ns - (c0.get(tid) ?? 0));
  return { ms, cpuMs: busiest / 1e6 };
}

/** One thing timed at 1 thread and at N: medians, and the median of per-round ratios (robust to load drift). */
export interface Paired {
  ms1: number;
  msN: number;
  /** median over rounds of ms1 / msN */
  speedup: number;
  /** fastest round at 1 thread / fastest at N: on a loaded machine, the rounds that met idle cores */
  bestSpeedup: number;
  /** The busiest thread's CPU ms (medians), and their ratio: the speed-up an idle machine would show. */
  cpuMs1?: number;
  cpuMsN?: number;
  cpuSpeedup?: number;
}

/** Runs `fn` at 1 thread and at `threads`, `reps` rounds after one warm-up, alternating which goes first. */
export async function paired(fn: () => Promise<void>, threads: number, reps: number, minFlops?: number): Promise<Paired> {
  const at = async (n: number) => {
    setGemmThreads(n, n > 1 && minFlops !== undefined ? { minFlops } : {});
    return measure(fn);
  };
  await at(1);
  await at(threads);
  const one: { ms: number; cpuMs?: number }[] = [];
  const many: typeof one = [];
  for (let r = 0; r < reps; r++) {
    if (r % 2 === 0) {
      one.push(await at(1));
      many.push(await at(threads));
    } else {
      many.push(await at(threads));
      one.push(await at(1));
    }
  }
  setGemmThreads(threads);
  const p: Paired = {
    ms1: median(one.map((x) => x.ms)),
    msN: median(many.map((x) => x.ms)),
    speedup: median(one.map((x, i) => x.ms / many[i]!.ms)),
    bestSpeedup: Math.min(...one.map((x) => x.ms)) / Math.min(...many.map((x) => x.ms)),
  };
  if (one.every((x) => x.cpuMs !== undefined) && many.every((x) => x.cpuMs !== undefined)) {
    p.cpuMs1 = median(one.map((x) => x.cpuMs!));
    p.cpuMsN = median(many.map((x) => x.cpuMs!));
    p.cpuSpeedup = median(one.map((x, i) => x.cpuMs! / many[i]!.cpuMs!));
  }
  return p;
}

/** A sample of `times` products, per product. */
function perProduct(p: Paired, times: number): Paired {
  const q: Paired = { ...p, ms1: p.ms1 / times, msN: p.msN / times };
  if (p.cpuMs1 !== undefined) Object.assign(q, { cpuMs1: p.cpuMs1 / times, cpuMsN: p.cpuMsN! / times });
  return q;
}

/** Deterministic values in [−1, 1). */
function values(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

export interface ThreadMatMulRow extends Paired {
  n: number;
  gflops1: number;
  gflopsN: number;
}

/** Aᵀ·B for n×n float32 through tf.matMul on the active backend (the shape of every weight gradient), result read back. */
export async function threadMatMul(sizes: readonly number[], threads: number, reps: number): Promise<ThreadMatMulRow[]> {
  const rows: ThreadMatMulRow[] = [];
  for (const n of sizes) {
    const a = tf.tensor2d(values(n * n, 1), [n, n]); // [n, n]
    const b = tf.tensor2d(values(n * n, 2), [n, n]); // [n, n]
    // Products per sample: ~30 ms of work or more, so that schedstat's tick-grained CPU times (±4 ms) stay precise.
    const times = Math.max(1, Math.round(2 ** 30 / (2 * n ** 3)));
    const p = await paired(async () => {
      for (let i = 0; i < times; i++) {
        const c = tf.matMul(a, b, true, false); // [n, n]
        await c.data();
        c.dispose();
      }
    }, threads, reps);
    tf.dispose([a, b]);
    const q = perProduct(p, times);
    rows.push({ n, ...q, gflops1: (2 * n ** 3) / q.ms1 / 1e6, gflopsN: (2 * n ** 3) / q.msN / 1e6 });
  }
  return rows;
}

export interface ThreadTrainingRow extends Paired {
  kind: 'full' | 'lora';
}

/** The bench training step (loss, gradients, clipping, Adam) at 1 thread and at N, full fine-tuning and LoRA. */
export async function threadTraining(models: BenchModels, threads: number, reps: number): Promise<ThreadTrainingRow[]> {
  const fullVars = allVariables(models.plain);
  const adamFull = new Adam(fullVars);
  const adamLora = new Adam(models.lora.paramGroups());
  const loraVars = adamLora.variables();
  try {
    const full = await paired(async () => void (await step(models.plain, models.batch, fullVars, adamFull)), threads, reps);
    const lora = await paired(async () => void (await step(models.loraModel, models.batch, loraVars, adamLora)), threads, reps);
    return [{ kind: 'full', ...full }, { kind: 'lora', ...lora }];
  } finally {
    adamFull.dispose();
    adamLora.dispose();
  }
}

export interface CutoverRow extends Paired {
  /** [batch ×] M×K×N */
  shape: string;
  flops: number;
}

/**
 * Where sharing a product starts to pay: the GEMM alone (no TF.js) on square products and on the bench GPT's small
 * shapes (attention blocks, rank-8 LoRA products), 1 thread vs N with the cut-over disabled.
 */
export async function threadCutover(threads: number, reps: number): Promise<CutoverRow[]> {
  const shapes: [number, number, number, number][] = [
    ...[16, 24, 32, 48, 64, 96, 128, 192, 256].map((n): [number, number, number, number] => [1, n, n, n]),
    ...[1, 2, 4, 8, 32, 128].map((b): [number, number, number, number] => [b, 64, 32, 64]), // q·kᵀ of one head
    [1, 2048, 128, 8], // x·Aᵀ of a LoRA branch, r = 8
    [1, 2048, 8, 128], // (x·Aᵀ)·Bᵀ
    [1, 128, 2048, 8], // a weight gradient of lora_A
  ];
  const rows: CutoverRow[] = [];
  for (const [batch, M, K, N] of shapes) {
    const a = values(batch * M * K, 1);
    const b = values(batch * K * N, 2);
    const flops = 2 * batch * M * N * K;
    const times = Math.max(1, Math.round(2 ** 24 / flops)); // at least ~0.5 ms per sample
    // Many short rounds: the fastest of them are the ones that found the other cores idle.
    const p = await paired(async () => {
      for (let i = 0; i < times; i++) batchMatMulF32(a, [batch, M, K], b, [batch, K, N], false, false);
    }, threads, 4 * reps, 0);
    rows.push({ shape: `${batch > 1 ? `${batch}×` : ''}${M}×${K}×${N}`, flops, ...perProduct(p, times) });
  }
  return rows;
}

/**
 * The smallest measured FLOP count from which every larger product ran faster on N threads (wall clock): by the
 * median ratio, or by the best rounds' ratio (`best`), which is what a loaded machine can still tell.
 */
export function measuredCutover(rows: readonly CutoverRow[], best = false): number | undefined {
  const sorted = [...rows].sort((x, y) => x.flops - y.flops);
  let cut: number | undefined;
  for (let i = sorted.length - 1; i >= 0 && (best ? sorted[i]!.bestSpeedup : sorted[i]!.speedup) > 1; i--) cut = sorted[i]!.flops;
  return cut;
}

/** Microseconds from Atomics.notify to a waiting worker running, over `n` wakes (the hand-off's own cost). */
export interface WakeLatency {
  medianUs: number;
  p90Us: number;
  /** A product this many FLOPs long, at this machine's one-thread GEMM rate (about 25 GFLOP/s), lasts two wakes. */
  twoWakesFlops: number;
}

/** Wakes a worker blocked in Atomics.wait `n` times, after busy gaps of 0.2 and 2 ms as between a step's products. */
export async function wakeLatency(n = 200): Promise<WakeLatency> {
  const { Worker } = await import('node:worker_threads');
  const control = new SharedArrayBuffer(32);
  const i32 = new Int32Array(control);
  const stamp = new Float64Array(control, 16, 1);
  const source = `const { workerData } = require('node:worker_threads');
const i32 = new Int32Array(workerData); const stamp = new Float64Array(workerData, 16, 1); let seen = 0;
for (;;) { Atomics.wait(i32, 0, seen); seen = Atomics.load(i32, 0); stamp[0] = performance.timeOrigin + performance.now();
  Atomics.store(i32, 1, seen); Atomics.notify(i32, 1); }`;
  const w = new Worker(source, { eval: true, workerData: control, execArgv: [] });
  w.unref();
  await new Promise((resolve) => setTimeout(resolve, 200)); // started and waiting
  const us: number[] = [];
  for (let g = 1; g <= n; g++) {
    const until = performance.now() + (g % 2 ? 0.2 : 2);
    while (performance.now() < until); // the calling thread busy, as with the kernels between products
    const t = performance.timeOrigin + performance.now();
    Atomics.store(i32, 0, g);
    Atomics.notify(i32, 0);
    while (Atomics.load(i32, 1) !== g) Atomics.wait(i32, 1, g - 1, 50);
    us.push((stamp[0]! - t) * 1000);
  }
  await w.terminate();
  us.sort((a, b) => a - b);
  const medianUs = median(us);
  return { medianUs, p90Us: us[Math.floor(0.9 * (us.length - 1))]!, twoWakesFlops: 2 * medianUs * 1e-6 * 25e9 };
}

/** One worker-spin setting at N threads against 1 thread: medians and the median of per-round ratios. */
export interface SpinRow {
  what: string;
  spinUs: number;
  ms: number;
  speedup: number;
}

/**
 * The worker spin (µs a worker watches for the next job) at N threads, each value against 1 thread, all rounds
 * interleaved: the bench training step and 20 products of 256³. Spinning pays where cores idle, costs where they don't.
 */
export async function threadSpins(models: BenchModels, threads: number, spins: readonly number[], reps: number): Promise<SpinRow[]> {
  const fullVars = allVariables(models.plain);
  const adam = new Adam(fullVars);
  const a = values(256 * 256, 1);
  const work: [string, () => Promise<void>][] = [
    ['full step', async () => void (await step(models.plain, models.batch, fullVars, adam))],
    ['20 × 256³', async () => {
      for (let i = 0; i < 20; i++) batchMatMulF32(a, [1, 256, 256], a, [1, 256, 256], false, false);
    }],
  ];
  const settings = [() => setGemmThreads(1), ...spins.map((spinUs) => () => setGemmThreads(threads, { spinUs }))];
  const rows: SpinRow[] = [];
  try {
    for (const [what, fn] of work) {
      const t: number[][] = settings.map(() => []);
      await fn();
      for (let r = 0; r < reps; r++) {
        for (let k = 0; k < settings.length; k++) {
          const i = (k + r) % settings.length; // rotate which setting goes first
          settings[i]!();
          t[i]!.push((await measure(fn)).ms);
        }
      }
      spins.forEach((spinUs, j) => rows.push({
        what, spinUs, ms: median(t[j + 1]!), speedup: median(t[0]!.map((ms, r) => ms / t[j + 1]![r]!)),
      }));
    }
  } finally {
    adam.dispose();
    setGemmThreads(threads);
  }
  return rows;
}

/** What the PyTorch peer reports at a given thread count (ms per step). */
export interface PeerSteps {
  threads: number;
  fullMs: number;
  loraMs: number;
}

export interface ThreadsResult {
  backend: string;
  threads: number;
  /** os.loadavg() before and after: the figures are only as quiet as the machine was. */
  loadBefore: number[];
  loadAfter: number[];
  matmul: ThreadMatMulRow[];
  training: ThreadTrainingRow[];
  trainingLabel?: string;
  cutover?: CutoverRow[];
  cutoverFlops?: number;
  cutoverFlopsBest?: number;
  wake?: WakeLatency;
  spins?: SpinRow[];
  /** The PyTorch peer at 1 thread and at N, when one is passed in. */
  peer?: PeerSteps[];
  stats: GemmThreadStats;
}

export interface ThreadsOptions {
  backend: string;
  /** N: the thread count compared with 1. @default the current gemmThreads() (LORA_LAB_THREADS or the cores) */
  threads?: number;
  sizes: readonly number[];
  /** null: no training rows. */
  models: BenchModels | null;
  /** Time the training step (with models). @default true */
  train?: boolean;
  /** What `models` are, for the report: e.g. "GPT preset 'bench', batch 32". */
  modelsLabel?: string;
  reps: number;
  cutover?: boolean;
  /** Worker spins (µs) to compare at N threads (needs models). */
  spins?: readonly number[];
  /** The hook for a PyTorch peer: its step times with torch.set_num_threads(threads). */
  peer?: (threads: number) => Promise<PeerSteps | undefined>;
  log?: (line: string) => void;
}

export async function benchThreads(o: ThreadsOptions): Promise<ThreadsResult> {
  const threads = o.threads ?? (await gemmThreadsReady()).threads;
  setGemmThreads(threads);
  await gemmThreadsReady();
  const loadBefore = os.loadavg();
  o.log?.(`threads: matMul Aᵀ·B ${o.sizes.join(', ')} at 1 and ${threads} threads`);
  const matmul = await threadMatMul(o.sizes, threads, o.reps);
  let training: ThreadTrainingRow[] = [];
  if (o.models !== null && o.train !== false) {
    o.log?.(`threads: training steps at 1 and ${threads} threads`);
    training = await threadTraining(o.models, threads, o.reps);
  }
  const r: ThreadsResult = { backend: o.backend, threads, loadBefore, loadAfter: [], matmul, training, stats: gemmThreadStats() };
  if (o.modelsLabel !== undefined) r.trainingLabel = o.modelsLabel;
  if (o.cutover) {
    o.log?.(`threads: cut-over scan at 1 and ${threads} threads`);
    r.cutover = await threadCutover(threads, o.reps);
    r.cutoverFlops = measuredCutover(r.cutover);
    r.cutoverFlopsBest = measuredCutover(r.cutover, true);
    r.wake = await wakeLatency();
  }
  if (o.spins !== undefined && o.spins.length > 0 && o.models !== null) {
    o.log?.(`threads: worker spins ${o.spins.join(', ')} µs at ${threads} threads vs 1`);
    r.spins = await threadSpins(o.models, threads, o.spins, o.reps);
  }
  if (o.peer !== undefined) {
    const peer = [await o.peer(1), await o.peer(threads)].filter((x): x is PeerSteps => x !== undefined);
    if (peer.length > 0) r.peer = peer;
  }
  r.loadAfter = os.loadavg();
  r.stats = gemmThreadStats();
  setGemmThreads();
  return r;
}
