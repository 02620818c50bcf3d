// A single-threaded float32 GEMM in WebAssembly SIMD (the micro-kernel is assembled in gemm-kernel.ts, no toolchain):
// C = A·B with A [M, K] and B [K, N] given by strides, so transposes cost nothing extra. Goto & van de Geijn
// 2008 ("Anatomy of high-performance matrix multiplication"): pack A into 4-row and B into 8-column panels,
// then a 4×8 register-blocked micro-kernel (8 f32x4 accumulators) with K blocked to stay in cache.

import { kernelModule } from './gemm-kernel.js';

/** A matrix operand by strides: element (i, j) is data[offset + i·rowStride + j·colStride]. */
export interface StridedMatrix {
  readonly data: Float32Array;
  readonly offset: number;
  readonly rowStride: number;
  readonly colStride: number;
}

/** Rows of A per micro-tile (MR) and columns of B per micro-tile (NR): 4×8 floats = 8 v128 accumulators. */
const MR = 4;
const NR = 8;
/** K per block: a 4×KC slice of A (4 KiB) and a KC×8 panel of B (8 KiB) stay in L1. */
const KC = 256;
/** Rows of A per block (in micro-tiles): 64 rows × KC of A (64 KiB) stays in L2 while B panels stream by. */
const MC_TILES = 16;

// ---- the driver: pack, call the kernel block by block, copy out ----------------------------------------

interface Instance {
  memory: WebAssembly.Memory;
  kernel: (...args: number[]) => void;
  f32: Float32Array;
}
let instance: Instance | null | undefined;

/** True where WebAssembly SIMD is available (Node ≥ 16.4, current browsers). */
export function gemmAvailable(): boolean {
  return getInstance() !== null;
}

function getInstance(): Instance | null {
  if (instance !== undefined) return instance;
  try {
    const module = new WebAssembly.Module(kernelModule(false));
    const memory = new WebAssembly.Memory({ initial: 1 });
    const inst = new WebAssembly.Instance(module, { env: { mem: memory } });
    instance = { memory, kernel: inst.exports['kernel'] as Instance['kernel'], f32: new Float32Array(memory.buffer) };
  } catch {
    instance = null; // no SIMD: callers fall back to the backend's own kernel
  }
  return instance;
}

/** Makes the kernel's memory hold at least `floats` floats. */
function reserve(inst: Instance, floats: number): void {
  const bytes = floats * 4;
  if (inst.memory.buffer.byteLength < bytes) {
    inst.memory.grow(Math.ceil((bytes - inst.memory.buffer.byteLength) / 65536));
    inst.f32 = new Float32Array(inst.memory.buffer);
  }
}

const roundUp = (n: number, m: number) => Math.ceil(n / m) * m;

/** mem[base + (ib·K + k)·4 + r] = A(ib·4 + r, k), 0 for rows ≥ M. */
function packA(mem: Float32Array, base: number, a: StridedMatrix, M: number, Mp: number, K: number): void {
  const { data, offset, rowStride, colStride } = a;
  mem.fill(0, base + Math.floor(M / MR) * K * MR, base + Mp * K); // the last, partial tile
  if (colStride === 1) {
    for (let i = 0; i < M; i++) {
      let dst = base + Math.floor(i / MR) * K * MR + (i % MR);
      let src = offset + i * rowStride;
      for (let k = 0; k < K; k++, dst += MR, src++) mem[dst] = data[src]!;
    }
  } else {
    // Transposed A (rowStride 1 when stored [K, M]): 4 neighbouring rows are 4 neighbouring floats.
    const full = Math.floor(M / MR);
    for (let k = 0; k < K; k++) {
      let src = offset + k * colStride;
      let dst = base + k * MR;
      for (let ib = 0; ib < full; ib++, dst += K * MR, src += MR * rowStride) {
        mem[dst] = data[src]!;
        mem[dst + 1] = data[src + rowStride]!;
        mem[dst + 2] = data[src + 2 * rowStride]!;
        mem[dst + 3] = data[src + 3 * rowStride]!;
      }
      for (let r = 0; r < M - full * MR; r++, src += rowStride) mem[dst + r] = data[src]!;
    }
  }
}

/** mem[base + (jp·K + k)·8 + s] = B(k, jp·8 + s), 0 for columns ≥ N. */
function packB(mem: Float32Array, base: number, b: StridedMatrix, N: number, Np: number, K: number): void {
  const { data, offset, rowStride, colStride } = b;
  mem.fill(0, base + Math.floor(N / NR) * K * NR, base + Np * K); // the last, partial panel
  if (colStride === 1) {
    // Row k of B holds 8 neighbouring columns of each panel as 8 neighbouring floats.
    const full = Math.floor(N / NR);
    for (let k = 0; k < K; k++) {
      let src = offset + k * rowStride;
      let dst = base + k * NR;
      for (let jp = 0; jp < full; jp++, dst += K * NR, src += NR) {
        mem[dst] = data[src]!;
        mem[dst + 1] = data[src + 1]!;
        mem[dst + 2] = data[src + 2]!;
        mem[dst + 3] = data[src + 3]!;
        mem[dst + 4] = data[src + 4]!;
        mem[dst + 5] = data[src + 5]!;
        mem[dst + 6] = data[src + 6]!;
        mem[dst + 7] = data[src + 7]!;
      }
      for (let s = 0; s < N - full * NR; s++) mem[dst + s] = data[src + s]!;
    }
  } else {
    for (let j = 0; j < N; j++) {
      let dst = base + Math.floor(j / NR) * K * NR + (j % NR);
      let src = offset + j * colStride;
      for (let k = 0; k < K; k++, dst += NR, src += rowStride) mem[dst] = data[src]!;
    }
  }
}

/**
 * C = A·B for A [M, K] and B [K, N] given by strides; C is written row-major [M, N] into `c` at `cOffset`.
 * Throws if WebAssembly SIMD is unavailable (check gemmAvailable() first).
 */
export function gemm(M: number, N: number, K: number, a: StridedMatrix, b: StridedMatrix, c: Float32Array, cOffset = 0): void {
  const inst = getInstance();
  if (inst === null) throw new Error('WebAssembly SIMD is not available here: use the backend matMul instead');
  if (M === 0 || N === 0) return;
  if (K === 0) {
    for (let i = 0; i < M; i++) c.fill(0, cOffset + i * N, cOffset + i * N + N);
    return;
  }
  const Mp = roundUp(M, MR);
  const Np = roundUp(N, NR);
  const aFloats = Mp * K; // packed A: [Mp/4][K][4]
  const bFloats = Np * K; // packed B: [Np/8][K][8]
  const aBase = 0;
  const bBase = aFloats;
  const cBase = aFloats + bFloats; // padded C: [Mp, Np] row-major
  reserve(inst, cBase + Mp * Np);
  const mem = inst.f32;

  // Pack A into 4-row tiles and B into 8-column panels, zero-padding past M and N. Loop orders follow the
  // operand's unit stride, so reads stay sequential whichever way it is transposed.
  packA(mem, aBase, a, M, Mp, K);
  packB(mem, bBase, b, N, Np, K);

  const mTiles = Mp / MR;
  const nPanels = Np / NR;
  const ldc = Np * 4;
  for (let k0 = 0; k0 < K; k0 += KC) {
    const kc = Math.min(KC, K - k0);
    for (let t0 = 0; t0 < mTiles; t0 += MC_TILES) {
      inst.kernel(
        (aBase + t0 * K * MR + k0 * MR) * 4, // this block's first tile, at k0
        (bBase + k0 * NR) * 4, // first panel, at k0
        (cBase + t0 * MR * Np) * 4,
        Math.min(MC_TILES, mTiles - t0),
        nPanels,
        kc,
        ldc,
        K * MR * 4, // bytes from one A tile to the next
        K * NR * 4, // bytes from one B panel to the next
        k0 > 0 ? 1 : 0,
      );
    }
  }
  // Copy the valid [M, N] part out.
  if (N === Np) {
    c.set(mem.subarray(cBase, cBase + M * N), cOffset);
  } else {
    for (let i = 0; i < M; i++) c.set(mem.subarray(cBase + i * Np, cBase + i * Np + N), cOffset + i * N);
  }
}

/** Row-major [rows, cols] matrix at `offset`, optionally read transposed, as a StridedMatrix. */
export function rowMajor(data: Float32Array, offset: number, cols: number, transposed = false): StridedMatrix {
  return transposed ? { data, offset, rowStride: 1, colStride: cols } : { data, offset, rowStride: cols, colStride: 1 };
}

/**
 * Batched matMul with TF.js semantics for rank-3 inputs: a [batchA, ·, ·], b [batchB, ·, ·] (batchA or batchB may
 * be 1 and broadcasts), transposes as flags. Returns [batch, M, N] row-major.
 */
export function batchMatMulF32(
  a: Float32Array, aShape: readonly [number, number, number], b: Float32Array, bShape: readonly [number, number, number],
  transposeA: boolean, transposeB: boolean, out?: Float32Array,
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
  for (let i = 0; i < batch; i++) {
    const am = rowMajor(a, (batchA === 1 ? 0 : i) * a1 * a2, a2, transposeA);
    const bm = rowMajor(b, (batchB === 1 ? 0 : i) * b1 * b2, b2, transposeB);
    gemm(M, N, K, am, bm, c, i * M * N);
  }
  return c;
}
