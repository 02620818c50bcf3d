// The GEMM micro-kernel of gemm.ts as a WebAssembly SIMD module, assembled here byte by byte (no toolchain):
// a 4×8 register-blocked loop nest (8 f32x4 accumulators) over packed A tiles and B panels (Goto & van de Geijn
// 2008, §6). The module imports its memory, so worker threads can run the same code over one shared memory.

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
};

/**
 * The module: imports env.mem (shared or not) and exports
 * kernel(ap, bp, cp, mTiles, nPanels, kc, ldc, lda, ldb, accumulate), all byte addresses/strides.
 * For each B panel jp (columns jp·8 .. +7) and each A tile ib (rows ib·4 .. +3):
 *   C[4×8 tile] (+)= Σ_k A_tile[k][0..3] ⊗ B_panel[k][0..7]
 * A tile ib starts at ap + ib·lda and holds kc groups of 4 floats; B panel jp at bp + jp·ldb holds kc groups of 8.
 */
export function kernelModule(shared: boolean): ArrayBuffer {
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
    // import env.mem: limits 0x03 = min, max, shared (threads proposal); 0x00 = min only
    ...section(2, vec([[...str('env'), ...str('mem'), 0x02, ...(shared ? [0x03, ...uleb(1), ...uleb(MAX_PAGES)] : [0x00, ...uleb(1)])]])),
    ...section(3, vec([[0]])), // one function of type 0
    ...section(7, vec([[...str('kernel'), 0x00, 0]])),
    ...section(10, vec([[...uleb(code.length), ...code]])),
  ];
  return new Uint8Array(bytes).buffer;
}
