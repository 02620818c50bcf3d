// A float32 GEMM in WebAssembly SIMD (the micro-kernel is assembled in gemm-kernel.ts, no toolchain needed):
// C = A·B with A [M, K] and B [K, N] given by strides, so transposes cost nothing extra. Goto & van de Geijn
// 2008 ("Anatomy of high-performance matrix multiplication"): pack A into 4-row and B into 8-column panels,
// then a 4×8 register-blocked micro-kernel (8 f32x4 accumulators) with K blocked to stay in cache. Large products
// are shared with worker threads (gemm-threads.ts); every output tile is still computed the same way, by one thread.
import { DEFAULT_WORKER_SPIN_US, GemmPool, type GemmThreadStats, type Kernels, type SpinOptions } from './gemm-threads.js';
import { threadsFromEnv } from './thread-count.js';
import { kernelModule, MAX_PAGES } from './gemm-kernel.js';
import { MR, NR, packOperandA, packOperandB, rawFloats, roundUp, type Packers } from './gemm-pack.js';

export type { GemmThreadStats } from './gemm-threads.js';

/** A matrix operand by strides: element (i, j) is data[offset + i·rowStride + j·colStride]. */
export interface StridedMatrix {
  readonly data: Float32Array;
  readonly offset: number;
  readonly rowStride: number;
  readonly colStride: number;
}

/** K per block: a 4×KC slice of A (4 KiB) and a KC×8 panel of B (8 KiB) stay in L1. */
const KC = 256;
/** Rows of A per block (in micro-tiles): 64 rows × KC of A (64 KiB) stays in L2 while B panels stream by. */
const MC_TILES = 16;

// ---- the driver: pack, call the kernel block by block (on this thread or several), copy out -------------

interface Instance extends Kernels {
  colsum: (...args: number[]) => void;
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  packers: Packers;
  f32: Float32Array;
}

/** What to do to C after A·B, in the kernel: add a bias (per column, or one value), then relu. */
export interface Epilogue {
  /** Length N (one per column) or 1. */
  bias?: Float32Array;
  relu?: boolean;
}

/** The single-threaded path's instance (its own memory) and the threaded path's (a shared memory). */
let plain: Instance | null | undefined;
let shared: Instance | null | undefined;
let pool: GemmPool | undefined;
let threadsSet: number | undefined;
let threadsEnv: number | undefined;
let minFlops: number | undefined;

/** True where WebAssembly SIMD is available (Node ≥ 16.4, current browsers). */
export function gemmAvailable(): boolean {
  return plainInstance() !== null;
}

function instantiate(isShared: boolean): Instance | null {
  try {
    const module = new WebAssembly.Module(kernelModule(isShared));
    const memory = new WebAssembly.Memory(isShared ? { initial: 1, maximum: MAX_PAGES, shared: true } : { initial: 1 });
    const e = new WebAssembly.Instance(module, { env: { mem: memory } }).exports as unknown as Packers & Instance;
    const packers = { packA: e.packA, packAT: e.packAT, packB: e.packB, packBT: e.packBT };
    return { module, memory, kernel: e.kernel, epilogue: e.epilogue, colsum: e.colsum, packers, f32: new Float32Array(memory.buffer) };
  } catch {
    return null; // no SIMD (or no shared memory): callers fall back to the backend's own kernel (or one thread)
  }
}

function plainInstance(): Instance | null {
  if (plain === undefined) plain = instantiate(false);
  return plain;
}

/**
 * Threads a large product runs on, the calling thread included: setGemmThreads(n) if called, else
 * LORA_LAB_THREADS, else the machine's available parallelism capped at 8. 1 = the single-threaded path.
 * Throws (naming the value) when LORA_LAB_THREADS is not a thread count.
 */
export function gemmThreads(): number {
  return threadsSet ?? (threadsEnv ??= threadsFromEnv());
}

export interface GemmThreadOptions extends SpinOptions {
  /**
   * Products below this many FLOPs stay on the calling thread (0: every product with two chunks or more is shared,
   * which is how bench/threads.ts measures the cut-over).
   * @default THREAD_MIN_FLOPS
   */
  minFlops?: number;
}

/**
 * Pins the thread count for this process (n ≥ 1), or with no argument goes back to LORA_LAB_THREADS / the default.
 * Starts the workers this needs (they keep running: a lower count only lets fewer join a product).
 */
export function setGemmThreads(n?: number, options: GemmThreadOptions = {}): void {
  if (n !== undefined && !(Number.isInteger(n) && n >= 1 && n <= 256)) {
    throw new Error(`setGemmThreads(${n}): the thread count must be a whole number from 1 to 256 (1 = no worker threads)`);
  }
  if (options.minFlops !== undefined && !(options.minFlops >= 0)) {
    throw new Error(`setGemmThreads: minFlops must be a number >= 0, got ${options.minFlops}`);
  }
  if (options.spinUs !== undefined && !(options.spinUs >= 0 && options.spinUs <= 1e6)) {
    throw new Error(`setGemmThreads: spinUs must be a number of µs from 0 to 1e6, got ${options.spinUs}`);
  }
  threadsSet = n;
  minFlops = options.minFlops;
  startGemmThreads();
  pool?.setSpin(options.spinUs ?? DEFAULT_WORKER_SPIN_US);
}

/**
 * Starts the worker threads the current thread count needs (once; later calls only add workers if it grew), so they
 * are running before the first large product. Returns the pool's state; a no-op at 1 thread.
 */
export function startGemmThreads(): GemmThreadStats {
  const threads = gemmThreads();
  if (threads > 1 && plainInstance() !== null) {
    if (shared === undefined) shared = instantiate(true);
    if (shared !== null) {
      pool ??= new GemmPool(shared.module, shared.memory, { kernel: shared.kernel, epilogue: shared.epilogue });
      pool.grow(threads - 1);
    }
  }
  return gemmThreadStats();
}

/** The threaded path's counters (exported so a test or a notebook can see that worker threads did the work). */
export function gemmThreadStats(): GemmThreadStats {
  const threads = gemmThreads();
  if (pool !== undefined) return pool.stats(threads);
  if (threads > 1 && shared === null) {
    return { threads: 1, workers: 0, workersReady: 0, threadedCalls: 0, workerChunks: 0,
      unavailable: 'shared WebAssembly memory is not available here: products run on the calling thread' };
  }
  return { threads, workers: 0, workersReady: 0, threadedCalls: 0, workerChunks: 0 };
}

/** Starts the workers if needed and resolves once they all run the kernel (products work before that too). */
export async function gemmThreadsReady(): Promise<GemmThreadStats> {
  startGemmThreads();
  if (pool !== undefined) await pool.ready();
  return gemmThreadStats();
}

/** Makes the kernel's memory hold at least `floats` floats. */
function reserve(inst: Instance, floats: number): void {
  const bytes = floats * 4;
  if (bytes > MAX_PAGES * 65536) {
    const gib = (bytes / 2 ** 30).toFixed(1);
    throw new Error(`a matMul needing ${gib} GiB of packed operands exceeds WebAssembly's 4 GiB: split the product`);
  }
  if (inst.memory.buffer.byteLength < bytes) {
    inst.memory.grow(Math.ceil((bytes - inst.memory.buffer.byteLength) / 65536));
    inst.f32 = new Float32Array(inst.memory.buffer);
  }
}

/**
 * C = A·B for A [M, K] and B [K, N] given by strides; C is written row-major [M, N] into `c` at `cOffset`.
 * Large products run on gemmThreads() threads, with the same result bit for bit.
 * Throws if WebAssembly SIMD is unavailable (check gemmAvailable() first).
 */
export function gemm(
  M: number, N: number, K: number, a: StridedMatrix, b: StridedMatrix, c: Float32Array, cOffset = 0,
): void {
  multiply(M, N, K, [a], [b], 1, c, cOffset, {});
}

/**
 * Products below this many floating-point operations (2·M·N·K over the batch) stay on the calling thread: waking a
 * worker and waiting for it costs more than it saves. Measured with `npx tsx bench/threads.ts` (its cut-over scan:
 * 1 vs 2 threads, interleaved, square, attention-shaped and rank-8 LoRA products) on a 2-vCPU VM while it was idle:
 * 2 threads were faster from 14 MFLOP up by median rounds and from 8.4 MFLOP by the best rounds; 4.2 MFLOP products
 * (128³, a rank-8 LoRA product of 2048 × 128) were 0.97× (best 1.08×), as waking an idle vCPU took 87 µs there.
 * Hence 2²³ ≈ 8.4 MFLOP; see bench/RESULTS.md.
 */
export const THREAD_MIN_FLOPS = 2 ** 23;
/** Chunks per thread a job is cut into at least (so a thread slowed by other load leaves little behind) ... */
const CHUNKS_PER_THREAD = 4;
/** ... and at most this many FLOPs per chunk (about 0.5 ms on one core). */
const MAX_CHUNK_FLOPS = 2 ** 24;

/** batch products C_i = A_i·B_i (a one-element list of A or B broadcasts), C_i at cOffset + i·M·N. */
function multiply(
  M: number, N: number, K: number, as: StridedMatrix[], bs: StridedMatrix[], batch: number, c: Float32Array, cOffset: number,
  epi: Epilogue,
): void {
  const threads = gemmThreads();
  if (threads > 1 && shared === undefined) startGemmThreads(); // once: then the pool exists, or shared memory does not
  const inst = threads > 1 && shared ? shared : plainInstance();
  if (inst === null) throw new Error('WebAssembly SIMD is not available here: use the backend matMul instead');
  if (M === 0 || N === 0 || batch === 0) return;
  if (K === 0) {
    c.fill(0, cOffset, cOffset + batch * M * N); // C = 0, then the epilogue on it (relu leaves +0 alone)
    if (epi.bias !== undefined) {
      // 0 + bias, as C + bias would be: a −0 bias gives +0
      for (let i = 0; i < batch * M * N; i++) c[cOffset + i] = 0 + (epi.bias.length === 1 ? epi.bias[0]! : epi.bias[i % N]!);
      if (epi.relu) for (let i = cOffset; i < cOffset + batch * M * N; i++) if (c[i]! < 0) c[i] = 0;
    }
    return;
  }
  if (threads > 1 && inst === shared && 2 * M * N * K * batch >= (minFlops ?? THREAD_MIN_FLOPS)) {
    if (multiplyThreaded(inst, threads, M, N, K, as, bs, batch, c, cOffset, epi)) return;
  }
  for (let i = 0; i < batch; i++) {
    gemmOne(inst, M, N, K, as[as.length === 1 ? 0 : i]!, bs[bs.length === 1 ? 0 : i]!, c, cOffset + i * M * N, epi);
  }
}

/** epilogue mode bits (gemm-kernel.ts): 1 = add bias, 2 = relu. */
const epilogueMode = (epi: Epilogue) => (epi.bias !== undefined ? 1 : 0) | (epi.relu ? 2 : 0);

/** The bias as a padded [Np] vector at float offset `base` (one value: repeated). */
function placeBias(mem: Float32Array, base: number, epi: Epilogue, N: number, Np: number): void {
  if (epi.bias === undefined) return;
  if (epi.bias.length === 1) {
    mem.fill(epi.bias[0]!, base, base + Np);
  } else {
    if (epi.bias.length !== N) {
      throw new Error(`matMul bias has ${epi.bias.length} values for N = ${N} columns: give N values or 1`);
    }
    mem.set(epi.bias, base);
    mem.fill(0, base + N, base + Np);
  }
}

/** One product on the calling thread: pack, K blocks × 64-row blocks × all panels, copy out. */
function gemmOne(
  inst: Instance, M: number, N: number, K: number, a: StridedMatrix, b: StridedMatrix, c: Float32Array, cOffset: number,
  epi: Epilogue,
): void {
  const Mp = roundUp(M, MR);
  const Np = roundUp(N, NR);
  const Kp = roundUp(K, 4);
  const aFloats = Mp * Kp; // packed A: [Mp/4][Kp][4]
  const bFloats = Np * Kp; // packed B: [Np/8][Kp][8]
  const aBase = 0;
  const bBase = aFloats;
  const cBase = aFloats + bFloats; // padded C: [Mp, Np] row-major
  const rawBase = cBase + Mp * Np; // scratch for the raw rows of A, then of B
  const biasBase = rawBase + rawFloats(M, N, K); // the bias, padded to Np
  reserve(inst, biasBase + Np);
  packOperandA(inst.f32, inst.packers, a, M, K, aBase, rawBase);
  packOperandB(inst.f32, inst.packers, b, N, K, bBase, rawBase);
  placeBias(inst.f32, biasBase, epi, N, Np);

  const mTiles = Mp / MR;
  const nPanels = Np / NR;
  const ldc = Np * 4;
  for (let k0 = 0; k0 < K; k0 += KC) {
    const kc = Math.min(KC, K - k0);
    for (let t0 = 0; t0 < mTiles; t0 += MC_TILES) {
      inst.kernel(
        (aBase + t0 * Kp * MR + k0 * MR) * 4, // this block's first tile, at k0
        (bBase + k0 * NR) * 4, // first panel, at k0
        (cBase + t0 * MR * Np) * 4,
        Math.min(MC_TILES, mTiles - t0),
        nPanels,
        kc,
        ldc,
        Kp * MR * 4, // bytes from one A tile to the next
        Kp * NR * 4, // bytes from one B panel to the next
        k0 > 0 ? 1 : 0,
      );
    }
  }
  const mode = epilogueMode(epi);
  if (mode !== 0) inst.epilogue(cBase * 4, Mp, nPanels, ldc, biasBase * 4, mode);
  copyOut(inst.f32, cBase, M, N, Np, c, cOffset);
}

/** The valid [M, N] part of a padded [Mp, Np] C out of the kernel's memory. */
function copyOut(
  mem: Float32Array, cBase: number, M: number, N: number, Np: number, c: Float32Array, cOffset: number,
): void {
  if (N === Np) {
    c.set(mem.subarray(cBase, cBase + M * N), cOffset);
  } else {
    for (let i = 0; i < M; i++) c.set(mem.subarray(cBase + i * Np, cBase + i * Np + N), cOffset + i * N);
  }
}

/**
 * The batch on several threads: this thread packs every operand into the shared memory (as gemmOne does, one
 * region per item), then it and the workers compute chunks of 64 rows × a group of panels, each over all of K in
 * the order gemmOne uses. Returns false (nothing done) where the job does not fit the threaded path.
 */
function multiplyThreaded(
  inst: Instance, threads: number, M: number, N: number, K: number, as: StridedMatrix[], bs: StridedMatrix[],
  batch: number, c: Float32Array, cOffset: number, epi: Epilogue,
): boolean {
  const Mp = roundUp(M, MR);
  const Np = roundUp(N, NR);
  const mTiles = Mp / MR;
  const nPanels = Np / NR;
  const rowBlocks = Math.ceil(mTiles / MC_TILES);
  // Split the columns too when rows × items alone give too few chunks or too large ones.
  const units = batch * rowBlocks;
  const chunkFlops = 2 * MC_TILES * MR * Np * K;
  const groupsWanted = Math.max(Math.ceil((CHUNKS_PER_THREAD * threads) / units), Math.ceil(chunkFlops / MAX_CHUNK_FLOPS));
  const groupPanels = Math.ceil(nPanels / Math.min(nPanels, groupsWanted));
  const groups = Math.ceil(nPanels / groupPanels);
  const total = units * groups;
  const Kp = roundUp(K, 4);
  const aFloats = Mp * Kp;
  const bFloats = Np * Kp;
  const cFloats = Mp * Np;
  const bBase = as.length * aFloats;
  const cBase = bBase + bs.length * bFloats;
  const rawBase = cBase + batch * cFloats;
  const biasBase = rawBase + rawFloats(M, N, K);
  const floats = biasBase + Np;
  if (total < 2 || floats * 4 >= 2 ** 31) return false; // one chunk; or byte addresses past int32
  reserve(inst, floats);
  as.forEach((a, i) => packOperandA(inst.f32, inst.packers, a, M, K, i * aFloats, rawBase));
  bs.forEach((b, i) => packOperandB(inst.f32, inst.packers, b, N, K, bBase + i * bFloats, rawBase));
  placeBias(inst.f32, biasBase, epi, N, Np);
  const mem = inst.f32;
  pool!.run({
    mTiles, nPanels, K, Kp, kc: KC, mcTiles: MC_TILES,
    aBase: 0, aStep: as.length === 1 ? 0 : aFloats * 4,
    bBase: bBase * 4, bStep: bs.length === 1 ? 0 : bFloats * 4,
    cBase: cBase * 4, cStep: cFloats * 4,
    rowBlocks, groups, groupPanels, total, threads, bias: biasBase * 4, epilogue: epilogueMode(epi),
  }, 2 * MC_TILES * MR * groupPanels * NR * K);
  if (M === Mp && N === Np) c.set(mem.subarray(cBase, cBase + batch * M * N), cOffset);
  else for (let i = 0; i < batch; i++) copyOut(mem, cBase + i * cFloats, M, N, Np, c, cOffset + i * M * N);
  return true;
}

/**
 * out[j] = Σ_i x[i·C + j] for x row-major [R, C]: each column summed from 0, rows in order, every addition rounded to
 * float32 (a scalar `float sum` loop, bit for bit), four columns at a time in WebAssembly SIMD on the calling thread
 * (in JS where there is no SIMD, and for the last C mod 4 columns).
 */
export function columnSumsF32(x: Float32Array, R: number, C: number, out: Float32Array): void {
  const inst = plainInstance();
  out.fill(0, 0, C);
  const quads = inst === null ? 0 : C >> 2;
  if (inst !== null && R > 0 && quads > 0) {
    const sums = roundUp(R * C, 4); // float offset of the sums, 16-byte aligned
    reserve(inst, sums + quads * 4);
    const mem = inst.f32;
    mem.set(x.subarray(0, R * C), 0); // [R, C] as it is: rows C floats apart
    mem.fill(0, sums, sums + quads * 4); // the sums, from 0
    inst.colsum(0, sums * 4, R, quads, C * 4, 0);
    out.set(mem.subarray(sums, sums + quads * 4), 0);
  }
  for (let j = quads * 4; j < C; j++) {
    for (let i = 0, at = j; i < R; i++, at += C) out[j] = out[j]! + x[at]!; // rounded to float32 at every step
  }
}

/** Row-major [rows, cols] matrix at `offset`, optionally read transposed, as a StridedMatrix. */
export function rowMajor(data: Float32Array, offset: number, cols: number, transposed = false): StridedMatrix {
  return transposed ? { data, offset, rowStride: 1, colStride: cols } : { data, offset, rowStride: cols, colStride: 1 };
}

/**
 * Batched matMul with TF.js semantics for rank-3 inputs: a [batchA, ·, ·], b [batchB, ·, ·] (batchA or batchB may
 * be 1 and broadcasts), transposes as flags; then the epilogue (bias per column, relu), as _FusedMatMul does.
 * Returns [batch, M, N] row-major.
 */
export function batchMatMulF32(
  a: Float32Array, aShape: readonly [number, number, number], b: Float32Array, bShape: readonly [number, number, number],
  transposeA: boolean, transposeB: boolean, out?: Float32Array, epilogue: Epilogue = {},
): Float32Array {
  const [batchA, a1, a2] = aShape;
  const [batchB, b1, b2] = bShape;
  const [M, K] = transposeA ? [a2, a1] : [a1, a2];
  const [K2, N] = transposeB ? [b2, b1] : [b1, b2];
  if (K !== K2) throw new Error(`matMul inner dimensions differ: A gives K = ${K}, B gives K = ${K2}`);
  if (batchA !== batchB && batchA !== 1 && batchB !== 1) {
    throw new Error(`matMul batch sizes ${batchA} and ${batchB} do not broadcast: make them equal or one of them 1`);
  }
  const batch = Math.max(batchA, batchB);
  const c = out ?? new Float32Array(batch * M * N);
  const as = Array.from({ length: batchA }, (_, i) => rowMajor(a, i * a1 * a2, a2, transposeA));
  const bs = Array.from({ length: batchB }, (_, i) => rowMajor(b, i * b1 * b2, b2, transposeB));
  multiply(M, N, K, as, bs, batch, c, 0, epilogue);
  return c;
}
