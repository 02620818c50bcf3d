// The GEMM micro-kernel of gemm.ts as a WebAssembly SIMD module, assembled here byte by byte (no toolchain):
// a 4×8 register-blocked loop nest (8 f32x4 accumulators) over packed A tiles and B panels (Goto & van de Geijn
// 2008, §6), and the packers that build those from raw rows (4×4 transposes by shuffles). The module imports its
// memory, so worker threads can run the same code over one shared memory.

/** Largest memory a shared instance may grow to, in 64 KiB pages: all of wasm32's 4 GiB (address space only). */
export const MAX_PAGES = 65536;

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
  f32x4pmax: [0xfd, ...uleb(0xeb)], // pmax(a, b) = a < b ? b : a, per lane
  and: [0x71],
  /** i8x16.shuffle as an f32x4 shuffle: lanes 0-3 of the first operand, 4-7 of the second. */
  shuffle: (lanes: number[]) => [0xfd, ...uleb(0x0d), ...lanes.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3])],
};

/**
 * kernel(ap, bp, cp, mTiles, nPanels, kc, ldc, lda, ldb, accumulate), all byte addresses/strides.
 * For each B panel jp (columns jp·8 .. +7) and each A tile ib (rows ib·4 .. +3):
 *   C[4×8 tile] (+)= Σ_k A_tile[k][0..3] ⊗ B_panel[k][0..7]
 * A tile ib starts at ap + ib·lda and holds kc groups of 4 floats; B panel jp at bp + jp·ldb holds kc groups of 8.
 */
function kernelCode(): number[] {
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
  return [...locals, ...body];
}

// ---- packing: raw operand rows (copied into the memory, padded to whole blocks) → 4-row tiles / 8-column panels

/** The packers' parameters: pack(src, dst, count, k, row, dstride), byte addresses and strides except count, k. */
const [SRC, DST, COUNT, KN, ROW, DSTRIDE] = [0, 1, 2, 3, 4, 5];
/** Their locals: i, k, a (source cursor), d (destination cursor), 4 inputs, 4 temporaries, 4 outputs, 7 row offsets. */
const [I, KK, SA, SD] = [6, 7, 8, 9];
const IN = [10, 11, 12, 13];
const TMP = [14, 15, 16, 17];
const OUT = [18, 19, 20, 21];
const ROWS = [22, 23, 24, 25, 26, 27, 28]; // s·row for s = 1..7
const packLocals = vec([[...uleb(4), I32], [...uleb(12), V128], [...uleb(7), I32]]);

/** OUT[j] = column j of the 4×4 block whose rows are IN[0..3] (lanes = k): eight shuffles. */
const transpose4: number[] = [
  ...op.get(IN[0]!), ...op.get(IN[1]!), ...op.shuffle([0, 4, 1, 5]), ...op.set(TMP[0]!), // a0 b0 a1 b1
  ...op.get(IN[0]!), ...op.get(IN[1]!), ...op.shuffle([2, 6, 3, 7]), ...op.set(TMP[1]!), // a2 b2 a3 b3
  ...op.get(IN[2]!), ...op.get(IN[3]!), ...op.shuffle([0, 4, 1, 5]), ...op.set(TMP[2]!), // c0 d0 c1 d1
  ...op.get(IN[2]!), ...op.get(IN[3]!), ...op.shuffle([2, 6, 3, 7]), ...op.set(TMP[3]!), // c2 d2 c3 d3
  ...op.get(TMP[0]!), ...op.get(TMP[2]!), ...op.shuffle([0, 1, 4, 5]), ...op.set(OUT[0]!), // a0 b0 c0 d0
  ...op.get(TMP[0]!), ...op.get(TMP[2]!), ...op.shuffle([2, 3, 6, 7]), ...op.set(OUT[1]!),
  ...op.get(TMP[1]!), ...op.get(TMP[3]!), ...op.shuffle([0, 1, 4, 5]), ...op.set(OUT[2]!),
  ...op.get(TMP[1]!), ...op.get(TMP[3]!), ...op.shuffle([2, 3, 6, 7]), ...op.set(OUT[3]!),
];

/**
 * A packer: for i < count (tiles or panels), a = src + i·step, d = dst + i·dstride, then `inner` while k counts up
 * to k by kStep; `inner` moves a and d itself.
 */
function packer(step: number[], kStep: number, inner: number[]): number[] {
  const body = [
    ...[1, 2, 3, 4, 5, 6, 7].flatMap((r) => [...op.get(ROW), ...op.i32(r), ...op.mul, ...op.set(ROWS[r - 1]!)]),
    ...op.i32(0), ...op.set(I),
    ...op.loop,
    ...op.get(SRC), ...op.get(I), ...step, ...op.mul, ...op.add, ...op.set(SA),
    ...op.get(DST), ...op.get(I), ...op.get(DSTRIDE), ...op.mul, ...op.add, ...op.set(SD),
    ...op.i32(0), ...op.set(KK),
    ...op.loop,
    ...inner,
    ...op.get(KK), ...op.i32(kStep), ...op.add, ...op.set(KK),
    ...op.get(KK), ...op.get(KN), ...op.ltU, ...op.br_if(0),
    ...op.end,
    ...op.get(I), ...op.i32(1), ...op.add, ...op.set(I),
    ...op.get(I), ...op.get(COUNT), ...op.ltU, ...op.br_if(0),
    ...op.end,
    ...op.end,
  ];
  return [...packLocals, ...body];
}
const addr = (rowIdx: number) => [...op.get(SA), ...(rowIdx === 0 ? [] : [...op.get(ROWS[rowIdx - 1]!), ...op.add])];
const advance = (local: number, by: number[]) => [...op.get(local), ...by, ...op.add, ...op.set(local)];
/** Loads rows first..first+3 of the source at a, transposes, stores OUT[j] at d + offsets[j]. */
const block4 = (first: number, offsets: number[]) => [
  ...[0, 1, 2, 3].flatMap((s) => [...addr(first + s), ...op.v128load(0), ...op.set(IN[s]!)]),
  ...transpose4,
  ...[0, 1, 2, 3].flatMap((j) => [...op.get(SD), ...op.get(OUT[j]!), ...op.v128store(offsets[j]!)]),
];

/** packA(src: raw [Mp][K4] row-major, dst, tiles, K4, row = K4·4, dstride): 4 rows × 4 k at a time, transposed. */
const packACode = packer([...op.get(ROW), ...op.i32(4), ...op.mul], 4, [
  ...block4(0, [0, 16, 32, 48]), ...advance(SA, op.i32(16)), ...advance(SD, op.i32(64)),
]);
/** packAT(src: raw [K][Mp] (A stored transposed), dst, tiles, K, row = Mp·4, dstride): 4 rows of one k = 16 bytes. */
const packATCode = packer(op.i32(16), 1, [
  ...op.get(SD), ...op.get(SA), ...op.v128load(0), ...op.v128store(0),
  ...advance(SA, op.get(ROW)), ...advance(SD, op.i32(16)),
]);
/** packB(src: raw [K][Np] row-major, dst, panels, K, row = Np·4, dstride): 8 columns of one k = 32 bytes. */
const packBCode = packer(op.i32(32), 1, [
  ...op.get(SD), ...op.get(SA), ...op.v128load(0), ...op.v128store(0),
  ...op.get(SD), ...op.get(SA), ...op.v128load(16), ...op.v128store(16),
  ...advance(SA, op.get(ROW)), ...advance(SD, op.i32(32)),
]);
/** packBT(src: raw [Np][K4] (B stored transposed), dst, panels, K4, row = K4·4, dstride): two 4×4 transposes per 4 k. */
const packBTCode = packer([...op.get(ROW), ...op.i32(8), ...op.mul], 4, [
  ...block4(0, [0, 32, 64, 96]), ...block4(4, [16, 48, 80, 112]), ...advance(SA, op.i32(16)), ...advance(SD, op.i32(128)),
]);

/**
 * epilogue(c, rows, panels, ldc, bias, mode): for `rows` rows of padded C at c (ldc bytes apart), 8·panels floats
 * each: mode & 1 adds the float32 vector at `bias` (c + bias, rounded to float32 as JS does), then mode & 2 applies
 * relu as pmax(v, 0) = (v < 0 ? 0 : v), which keeps −0 and NaN exactly as `if (c < 0) c = 0` does.
 */
function epilogueCode(): number[] {
  const [CE, ROWSE, PANELS, LDCE, BIAS, MODE] = [0, 1, 2, 3, 4, 5];
  const [R, Q, PE, BE, V, ZERO] = [6, 7, 8, 9, 10, 11]; // i32 r, q, p, b; v128 v, zero
  const locals = vec([[...uleb(4), I32], [...uleb(2), V128]]);
  const flag = (bit: number) => [...op.get(MODE), ...op.i32(bit), ...op.and];
  const body = [
    ...op.v128zero, ...op.set(ZERO),
    ...op.i32(0), ...op.set(R),
    ...op.loop,
    ...op.get(CE), ...op.get(R), ...op.get(LDCE), ...op.mul, ...op.add, ...op.set(PE),
    ...op.get(BIAS), ...op.set(BE),
    ...op.i32(0), ...op.set(Q),
    ...op.loop, // 4 floats at a time: 2 per panel
    ...op.get(PE), ...op.v128load(0), ...op.set(V),
    ...flag(1), ...op.if, ...op.get(V), ...op.get(BE), ...op.v128load(0), ...op.f32x4add, ...op.set(V), ...op.end,
    ...flag(2), ...op.if, ...op.get(V), ...op.get(ZERO), ...op.f32x4pmax, ...op.set(V), ...op.end,
    ...op.get(PE), ...op.get(V), ...op.v128store(0),
    ...op.get(PE), ...op.i32(16), ...op.add, ...op.set(PE),
    ...op.get(BE), ...op.i32(16), ...op.add, ...op.set(BE),
    ...op.get(Q), ...op.i32(1), ...op.add, ...op.set(Q),
    ...op.get(Q), ...op.get(PANELS), ...op.i32(2), ...op.mul, ...op.ltU, ...op.br_if(0),
    ...op.end,
    ...op.get(R), ...op.i32(1), ...op.add, ...op.set(R),
    ...op.get(R), ...op.get(ROWSE), ...op.ltU, ...op.br_if(0),
    ...op.end,
    ...op.end,
  ];
  return [...locals, ...body];
}

/**
 * colsum(src, dst, rows, quads, row, _): dst[q] += src row i's quad q for i = 0, 1, .., rows − 1 in order, q < quads
 * (4 floats each; rows `row` bytes apart). Per lane that is `sum += x` down a column from the caller's start value,
 * the additions and order of a scalar float32 loop: the Sum over leading axes (fast-sum.ts) bit for bit.
 * rows and quads ≥ 1.
 */
function colsumCode(): number[] {
  const [SRCS, DSTS, ROWSS, QUADS, ROWB] = [0, 1, 2, 3, 4];
  const [RI, QI, SS, DS] = [6, 7, 8, 9]; // i32 row, quads left, source cursor, destination cursor
  const locals = vec([[...uleb(4), I32]]);
  const body = [
    ...op.i32(0), ...op.set(RI),
    ...op.loop, // over rows, in order
    ...op.get(SRCS), ...op.get(RI), ...op.get(ROWB), ...op.mul, ...op.add, ...op.set(SS),
    ...op.get(DSTS), ...op.set(DS),
    ...op.get(QUADS), ...op.set(QI),
    ...op.loop, // over the row's quads
    ...op.get(DS), ...op.get(DS), ...op.v128load(0), ...op.get(SS), ...op.v128load(0), ...op.f32x4add, ...op.v128store(0),
    ...op.get(SS), ...op.i32(16), ...op.add, ...op.set(SS),
    ...op.get(DS), ...op.i32(16), ...op.add, ...op.set(DS),
    ...op.get(QI), ...op.i32(1), ...op.sub, ...op.set(QI),
    ...op.get(QI), ...op.i32(0), ...op.ne, ...op.br_if(0),
    ...op.end,
    ...op.get(RI), ...op.i32(1), ...op.add, ...op.set(RI),
    ...op.get(RI), ...op.get(ROWSS), ...op.ltU, ...op.br_if(0),
    ...op.end,
    ...op.end,
  ];
  return [...locals, ...body];
}

/** Names of the exports, in function-index order. */
export const EXPORTS = ['kernel', 'packA', 'packAT', 'packB', 'packBT', 'epilogue', 'colsum'] as const;

/** The module: imports env.mem (shared or not), exports the kernel, the four packers, the epilogue and colsum. */
export function kernelModule(shared: boolean): ArrayBuffer {
  const memoryLimits = shared ? [0x03, ...uleb(1), ...uleb(MAX_PAGES)] : [0x00, ...uleb(1)];
  const codes = [kernelCode(), packACode, packATCode, packBCode, packBTCode, epilogueCode(), colsumCode()];
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    // types: 0 = (i32 × 10) → () for the kernel, 1 = (i32 × 6) → () for the packers
    ...section(1, vec([[0x60, ...vec(new Array(10).fill([I32])), 0x00], [0x60, ...vec(new Array(6).fill([I32])), 0x00]])),
    // import env.mem: limits 0x03 = min, max, shared (threads proposal); 0x00 = min only
    ...section(2, vec([[...str('env'), ...str('mem'), 0x02, ...memoryLimits]])),
    ...section(3, vec([[0], [1], [1], [1], [1], [1], [1]])),
    ...section(7, vec(EXPORTS.map((name, i) => [...str(name), 0x00, i]))),
    ...section(10, vec(codes.map((code) => [...uleb(code.length), ...code]))),
  ];
  return new Uint8Array(bytes).buffer;
}
