// Worker threads for the GEMM of gemm.ts: one pool per process, over the kernel's shared WebAssembly.Memory. A product
// is cut into chunks (batch item × 64-row block × column-panel group) that the calling thread and the workers claim
// one at a time (a compare-and-swap on a shared counter); each chunk runs every K block in order, so each output
// tile is computed by one thread exactly as the single-threaded loop computes it: results are bit-identical.
import { Worker } from 'node:worker_threads';

// ---- the shared control block (Int32 indices) -----------------------------------------------------------
// i64[0] (= i32[0..1]) NEXT: (job generation << 32) | next chunk to claim. A claim is a compare-and-swap on it, so a
// thread still looking at an old job can never take a chunk of a newer one.
const GEN = 2; // generation of the job published last; workers wait on it
const DONE = 3; // chunks finished in the current job; the caller waits on it
const READY = 4; // workers that have instantiated the kernel
const WORKER_CHUNKS = 5; // chunks computed by worker threads, ever (the counter tests read)
const FAILED = 6; // 1 once a worker's chunk threw
const JOINED = 7; // threads that entered the current job (capped at its thread count)
const SPIN = 8; // µs a worker watches for the next job before it sleeps
const PARAMS = 16; // two slots of PARAM_SLOT ints, by generation parity: a slow reader of job g sees g's values
const PARAM_SLOT = 19;
const CONTROL_INTS = PARAMS + 2 * PARAM_SLOT;
// claim() runs in the workers as source text, so it names these slots by number: this keeps the two in step.
if (PARAMS !== 16 || PARAM_SLOT !== 19 || DONE !== 3 || WORKER_CHUNKS !== 5 || FAILED !== 6 || JOINED !== 7) {
  throw new Error('gemm-threads: the control block layout and claim() disagree');
}

/**
 * One job: the packed operands' byte addresses and strides in the shared memory. Index order is the contract between
 * jobParams() and runChunk(); a batch item's operands are `step` bytes apart (0: broadcast, packed once).
 */
export interface ChunkJob {
  mTiles: number; // 4-row A tiles per item
  nPanels: number; // 8-column B panels per item
  K: number;
  Kp: number; // K slots per packed tile or panel (K rounded up to 4)
  kc: number; // K per block
  mcTiles: number; // A tiles per row block
  aBase: number;
  aStep: number;
  bBase: number;
  bStep: number;
  cBase: number; // padded C [Mp, Np] per item, row-major
  cStep: number;
  rowBlocks: number; // ceil(mTiles / mcTiles)
  groups: number; // column-panel groups per row block
  groupPanels: number; // panels per group (the last may be short)
  total: number; // batch · rowBlocks · groups
  threads: number; // threads (caller included) that may join
  bias: number; // byte address of the padded bias vector [Np], when epilogue & 1
  epilogue: number; // 0, or 1 = add bias | 2 = relu, after a chunk's last K block
}

function jobParams(j: ChunkJob): number[] {
  return [j.mTiles, j.nPanels, j.K, j.kc, j.mcTiles, j.aBase, j.aStep, j.bBase, j.bStep, j.cBase, j.cStep,
    j.rowBlocks, j.groups, j.groupPanels, j.total, j.threads, j.Kp, j.bias, j.epilogue];
}

/** The module's exports a chunk needs (gemm-kernel.ts). */
export interface Kernels {
  kernel: (...args: number[]) => void;
  epilogue: (...args: number[]) => void;
}

// runChunk and claim run in the workers too, as source text (Function.prototype.toString): they must stay
// self-contained — no closures, no helpers, no nested functions — and agree with jobParams' order.

/**
 * Chunk t of the job p: for its rows and columns, every K block in order (the first overwrites C, the rest add),
 * then the epilogue (bias, relu) on them.
 */
function runChunk(k: Kernels, p: number[], t: number): void {
  const mTiles = p[0]!, nPanels = p[1]!, K = p[2]!, kc = p[3]!, mcTiles = p[4]!;
  const rowBlocks = p[11]!, groups = p[12]!, groupPanels = p[13]!;
  const perItem = rowBlocks * groups;
  const item = Math.floor(t / perItem);
  const rb = Math.floor((t - item * perItem) / groups);
  const g = t - item * perItem - rb * groups;
  const t0 = rb * mcTiles;
  const j0 = g * groupPanels;
  const ldc = nPanels * 32; // bytes per padded C row: 8 floats per panel
  const lda = p[16]! * 16; // bytes per packed A tile: Kp groups of 4 floats
  const ldb = p[16]! * 32; // bytes per packed B panel: Kp groups of 8 floats
  const a = p[5]! + item * p[6]! + t0 * lda;
  const b = p[7]! + item * p[8]! + j0 * ldb;
  const c = p[9]! + item * p[10]! + t0 * 4 * ldc + j0 * 32;
  const tiles = Math.min(mcTiles, mTiles - t0);
  const panels = Math.min(groupPanels, nPanels - j0);
  for (let k0 = 0; k0 < K; k0 += kc) {
    k.kernel(a + k0 * 16, b + k0 * 32, c, tiles, panels, Math.min(kc, K - k0), ldc, lda, ldb, k0 > 0 ? 1 : 0);
  }
  if (p[18]! !== 0) k.epilogue(c, tiles * 4, panels, ldc, p[17]! + j0 * 32, p[18]!);
}

/**
 * Takes chunks of job `gen` until none is left (or a newer job replaced it); returns how many it computed. The last
 * chunk to finish wakes the caller. A chunk that throws still counts as done (the caller then reports FAILED).
 */
function claim(i32: Int32Array, i64: BigInt64Array, k: Kernels, gen: number, worker: boolean): number {
  const slot = 16 + (gen & 1) * 19; // PARAMS + parity · PARAM_SLOT
  const p: number[] = [];
  for (let i = 0; i < 19; i++) p.push(Atomics.load(i32, slot + i));
  const total = p[14]!;
  // JOINED: the caller counts itself before publishing; a worker past the job's thread count stays out.
  if (worker && Atomics.add(i32, 7, 1) >= p[15]!) return 0;
  const tag = BigInt(gen);
  let done = 0;
  for (;;) {
    const v = Atomics.load(i64, 0);
    if (v >> 32n !== tag) return done; // a newer job: p is no longer its parameters
    const t = Number(v & 0xffffffffn);
    if (t >= total) return done;
    if (Atomics.compareExchange(i64, 0, v, v + 1n) !== v) continue;
    try {
      runChunk(k, p, t);
    } catch {
      Atomics.store(i32, 6, 1); // FAILED
    }
    done++;
    if (worker) Atomics.add(i32, 5, 1); // WORKER_CHUNKS, before DONE: the caller reads it once all are done
    if (Atomics.add(i32, 3, 1) + 1 === total) Atomics.notify(i32, 3); // DONE
  }
}

/**
 * Spinning before sleeping. Waking a thread from Atomics.wait costs ~5 µs on a busy core but ~90 µs on an idle
 * virtual CPU (bench/threads.ts measures it), as long as a 2 MFLOP product: so a worker watches for the next job
 * for `spinUs` before it sleeps, and the calling thread spins for the last chunks about as long as one chunk takes.
 * On a machine whose cores are all busy, spinning takes time from the thread doing the work: keep it short.
 */
export interface SpinOptions {
  /** µs a worker keeps watching for the next job. @default DEFAULT_WORKER_SPIN_US */
  spinUs?: number;
}
export const DEFAULT_WORKER_SPIN_US = 200;
/** The calling thread's spin for the last chunks: the expected time of one chunk (at ~25 GFLOP/s), at most this. */
const CALLER_SPIN_MAX_US = 1000;

/** The worker: instantiate the kernel on the shared memory, then wait for jobs forever (unref'd: exit ends it). */
const WORKER_SOURCE = `'use strict';
const { workerData } = require('node:worker_threads');
${runChunk.toString()}
${claim.toString()}
const i32 = new Int32Array(workerData.control);
const i64 = new BigInt64Array(workerData.control);
const kernels = new WebAssembly.Instance(workerData.module, { env: { mem: workerData.memory } }).exports;
let seen = Atomics.load(i32, ${GEN});
Atomics.add(i32, ${READY}, 1);
for (;;) {
  const until = performance.now() + Atomics.load(i32, ${SPIN}) / 1000;
  while (Atomics.load(i32, ${GEN}) === seen && performance.now() < until);
  Atomics.wait(i32, ${GEN}, seen);
  const gen = Atomics.load(i32, ${GEN});
  if (gen === seen) continue;
  seen = gen;
  claim(i32, i64, kernels, gen, true);
}
`;

/** What the pool has done: `workerChunks` > 0 shows that worker threads really computed part of a product. */
export interface GemmThreadStats {
  /** Threads a large product uses now (calling thread included); 1 = the single-threaded path. */
  threads: number;
  /** Worker threads started (threads − 1 at most) and how many are running the kernel. */
  workers: number;
  workersReady: number;
  /** Products that went through the threaded path, and chunks of them that workers computed. */
  threadedCalls: number;
  workerChunks: number;
  /** Why workers could not start, when they could not. */
  unavailable?: string;
}

/** The pool: workers over one shared memory, started once and never keeping the process alive. */
export class GemmPool {
  private readonly control = new SharedArrayBuffer(CONTROL_INTS * 4);
  private readonly i32 = new Int32Array(this.control);
  private readonly i64 = new BigInt64Array(this.control);
  private readonly workers: Worker[] = [];
  private gen = 0;
  private calls = 0;
  private error: string | undefined;

  constructor(
    private readonly module: WebAssembly.Module,
    private readonly memory: WebAssembly.Memory,
    private readonly kernels: Kernels,
  ) {
    Atomics.store(this.i32, SPIN, DEFAULT_WORKER_SPIN_US);
  }

  /** Sets how long workers watch for the next job before they sleep (µs). */
  setSpin(us: number): void {
    Atomics.store(this.i32, SPIN, Math.round(us));
  }

  /** Starts workers until there are `count` (never stops any: a lower thread count just lets fewer join a job). */
  grow(count: number): void {
    while (this.workers.length < count && this.error === undefined) {
      let w: Worker;
      try {
        w = new Worker(WORKER_SOURCE, {
          eval: true,
          workerData: { module: this.module, memory: this.memory, control: this.control },
          // Not the parent's flags: `--input-type=module` would make this CommonJS source an ES module, and a loader
          // such as tsx's `--import` would only slow the start.
          execArgv: [],
          name: `lora-lab gemm ${this.workers.length + 1}`,
        });
      } catch (e) {
        this.error = `worker threads cannot start here: ${(e as Error).message}`;
        break;
      }
      // A worker that fails to start never claims a chunk, so products still finish (on the other threads).
      w.on('error', (e: Error) => {
        this.error ??= `a gemm worker thread failed: ${e.message}`;
      });
      // No 'message' listener: one would ref the worker again. An idle pool must not keep Node running (a training
      // script exits by itself); at exit Node stops the workers, even inside Atomics.wait.
      w.unref();
      this.workers.push(w);
    }
  }

  /** Resolves once every started worker runs the kernel (or one failed, or 10 s passed); to the number that do. */
  async ready(): Promise<number> {
    const deadline = performance.now() + 10_000;
    while (Atomics.load(this.i32, READY) < this.workers.length && this.error === undefined && performance.now() < deadline) {
      await new Promise<void>((resolve) => setTimeout(resolve, 5)); // a ref'd timer: the process waits with us
    }
    return Atomics.load(this.i32, READY);
  }

  /**
   * Runs a job on the calling thread and up to `job.threads − 1` workers, blocking (Atomics.wait) until every chunk is
   * done. Workers still starting up simply join later jobs: the calling thread takes whatever nobody else claims.
   */
  run(job: ChunkJob, chunkFlops: number): void {
    const { i32, i64 } = this;
    this.gen = (this.gen + 1) & 0x7fffffff;
    const gen = this.gen;
    const params = jobParams(job);
    const slot = PARAMS + (gen & 1) * PARAM_SLOT;
    params.forEach((v, i) => Atomics.store(i32, slot + i, v));
    Atomics.store(i32, DONE, 0);
    Atomics.store(i32, JOINED, 1); // the calling thread
    Atomics.store(i32, FAILED, 0);
    Atomics.store(i64, 0, BigInt(gen) << 32n);
    Atomics.store(i32, GEN, gen);
    Atomics.notify(i32, GEN, Math.min(job.threads - 1, job.total - 1));
    this.calls++;
    claim(i32, i64, this.kernels, gen, false);
    const until = performance.now() + Math.min(CALLER_SPIN_MAX_US, chunkFlops / 25e3) / 1000; // 25 GFLOP/s in FLOP/µs
    while (Atomics.load(i32, DONE) < job.total && performance.now() < until);
    for (let d = Atomics.load(i32, DONE); d < job.total; d = Atomics.load(i32, DONE)) Atomics.wait(i32, DONE, d);
    if (Atomics.load(i32, FAILED) !== 0) {
      throw new Error('a chunk of a threaded matMul failed (a WebAssembly trap): set LORA_LAB_THREADS=1 to multiply on one thread');
    }
  }

  stats(threads: number): GemmThreadStats {
    const s: GemmThreadStats = {
      threads,
      workers: this.workers.length,
      workersReady: Atomics.load(this.i32, READY),
      threadedCalls: this.calls,
      workerChunks: Atomics.load(this.i32, WORKER_CHUNKS),
    };
    if (this.error !== undefined) s.unavailable = this.error;
    return s;
  }
}
