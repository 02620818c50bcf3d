// A single-threaded float32 GEMM in WebAssembly SIMD, assembled here byte by byte (no toolchain needed):
// C = A·B with A [M, K] and B [K, N] given by strides, so transposes cost nothing extra. Goto & van de Geijn
// 2008 ("Anatomy of high-performance matrix multiplication"): pack A into 4-row and B into 8-column panels,
// then a 4×8 register-blocked micro-kernel (8 f32x4 accumulators) with K blocked to stay in cache.

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

// ---- a tiny WebAssembly assembler: just what the micro-kernel needs ------------------------------------

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}
function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}
const str = (s: string): number[] => [...uleb(s.length), ...[...s].map((c) => c.charCodeAt(0))];
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];

const I32 = 0x7f;
const V128 = 0x7b;
const op = {
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  end: [0x0b],
  br_if: (depth: number) => [0x0d, ...uleb(depth)],
  if: [0x04, 0x40],
  else: [0x05],
  get: (i: number) => [0x20, ...uleb(i)],
  set: (i: number) => [0x21, ...uleb(i)],
  i32: (v: number) => [0x41, ...sleb(v)],
  add: [0x6a],
  sub: [0x6b],
  mul: [0x6c],
  ltU: [0x49],
  ne: [0x47],
  // SIMD (prefix 0xfd, then the opcode as LEB128); memarg = align log2, offset.
  v128load: (offset: number) => [0xfd, ...uleb(0x00), 4, ...uleb(offset)],
  load32splat: (offset: number) => [0xfd, ...uleb(0x09), 2, ...uleb(offset)],
  v128store: (offset: number) => [0xfd, ...uleb(0x0b), 4, ...uleb(offset)],
  v128zero: [0xfd, ...uleb(0x0c), ...new Array<number>(16).fill(0)],
  f32x4add: [0xfd, ...uleb(0xe4)],
  f32x4mul: [0xfd, ...uleb(0xe6)],
};

/**
 * The kernel: kernel(ap, bp, cp, mTiles, nPanels, kc, ldc, lda, ldb, accumulate), all byte addresses/strides.
 * For each B panel jp (columns jp·8 .. +7) and each A tile ib (rows ib·4 .. +3):
 *   C[4×8 tile] (+)= Σ_k A_tile[k][0..3] ⊗ B_panel[k][0..7]
 * A tile ib starts at ap + ib·lda and holds kc groups of 4 floats; B panel jp at bp + jp·ldb holds kc groups of 8.
 */
function kernelModule() {
  // params 0..9, then locals: 10 jp, 11 ib, 12 k, 13 a, 14 b, 15 c, 16..23 acc, 24 b0, 25 b1, 26 av
  const [AP, BP, CP, MT, NP, KCL, LDC, LDA, LDB, ACC] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const [JP, IB, K, A, B, C] = [10, 11, 12, 13, 14, 15];
  const acc = (i: number) => 16 + i;
  const [B0, B1, AV] = [24, 25, 26];
  const fma = (accIdx: number, bIdx: number) => [
    ...op.get(accIdx), ...op.get(AV), ...op.get(bIdx), ...op.f32x4mul, ...op.f32x4add, ...op.set(accIdx),
  ];
  const cRow = (r: number) => [
    // store/load row r of the tile: address c + r·ldc
    ...op.get(C), ...(r === 0 ? [] : [...op.get(LDC), ...op.i32(r), ...op.mul, ...op.add]),
  ];
  const body: number[] = [
    ...op.i32(0), ...op.set(JP),
    ...op.loop, // over B panels
    ...op.i32(0), ...op.set(IB),
    ...op.loop, // over A tiles
    // a = ap + ib·lda; b = bp + jp·ldb; c = cp + ib·4·ldc + jp·32
    ...op.get(AP), ...op.get(IB), ...op.get(LDA), ...op.mul, ...op.add, ...op.set(A),
    ...op.get(BP), ...op.get(JP), ...op.get(LDB), ...op.mul, ...op.add, ...op.set(B),
    ...op.get(CP), ...op.get(IB), ...op.i32(4), ...op.mul, ...op.get(LDC), ...op.mul, ...op.add,
    ...op.get(JP), ...op.i32(32), ...op.mul, ...op.add, ...op.set(C),
    // accumulators: zero, or the current C tile when accumulating over K blocks
    ...op.get(ACC), ...op.if,
    ...[0, 1, 2, 3].flatMap((r) => [
      ...cRow(r), ...op.v128load(0), ...op.set(acc(2 * r)),
      ...cRow(r), ...op.v128load(16), ...op.set(acc(2 * r + 1)),
    ]),
    ...op.else,
    ...[0, 1, 2, 3, 4, 5, 6, 7].flatMap((i) => [...op.v128zero, ...op.set(acc(i))]),
    ...op.end,
    ...op.get(KCL), ...op.set(K),
    ...op.loop, // over k
    ...op.get(B), ...op.v128load(0), ...op.set(B0),
    ...op.get(B), ...op.v128load(16), ...op.set(B1),
    ...[0, 1, 2, 3].flatMap((r) => [
      ...op.get(A), ...op.load32splat(4 * r), ...op.set(AV), ...fma(acc(2 * r), B0), ...fma(acc(2 * r + 1), B1),
    ]),
    ...op.get(A), ...op.i32(16), ...op.add, ...op.set(A),
    ...op.get(B), ...op.i32(32), ...op.add, ...op.set(B),
    ...op.get(K), ...op.i32(1), ...op.sub, ...op.set(K),
    ...op.get(K), ...op.i32(0), ...op.ne, ...op.br_if(0),
    ...op.end,
    ...[0, 1, 2, 3].flatMap((r) => [
      ...cRow(r), ...op.get(acc(2 * r)), ...op.v128store(0),
      ...cRow(r), ...op.get(acc(2 * r + 1)), ...op.v128store(16),
    ]),
    ...op.get(IB), ...op.i32(1), ...op.add, ...op.set(IB),
    ...op.get(IB), ...op.get(MT), ...op.ltU, ...op.br_if(0),
    ...op.end,
    ...op.get(JP), ...op.i32(1), ...op.add, ...op.set(JP),
    ...op.get(JP), ...op.get(NP), ...op.ltU, ...op.br_if(0),
    ...op.end,
    ...op.end,
  ];
  const locals = vec([
    [...uleb(6), I32],
    [...uleb(11), V128],
  ]);
  const code = [...locals, ...body];
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([[0x60, ...vec(new Array(10).fill([I32])), 0x00]])), // type: (i32 × 10) → ()
    ...section(3, vec([[0]])), // one function of type 0
    ...section(5, vec([[0x00, ...uleb(1)]])), // one memory, 1 page to start
    ...section(7, vec([[...str('mem'), 0x02, 0], [...str('kernel'), 0x00, 0]])),
    ...section(10, vec([[...uleb(code.length), ...code]])),
  ];
  return new Uint8Array(bytes);
}

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
    const module = new WebAssembly.Module(kernelModule());
    const inst = new WebAssembly.Instance(module, {});
    const memory = inst.exports['mem'] as WebAssembly.Memory;
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
