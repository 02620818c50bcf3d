// Packing GEMM operands into the micro-kernel's layout (Goto & van de Geijn 2008, §5): A into 4-row tiles
// [Mp/4][Kp][4] and B into 8-column panels [Kp][8] per panel, zero past M and N; Kp = K rounded up to 4 (slots past K
// are never read). Where an operand has a unit stride (row-major, or stored transposed) its rows are copied into the
// kernel's memory in one memcpy and packed there by the WebAssembly SIMD packers; other strides pack in JS.
import type { StridedMatrix } from './gemm.js';

/** Rows of A per micro-tile (MR) and columns of B per micro-tile (NR): 4×8 floats = 8 v128 accumulators. */
export const MR = 4;
export const NR = 8;

export const roundUp = (n: number, m: number) => Math.ceil(n / m) * m;

/** The module's packers (gemm-kernel.ts): pack(src, dst, count, k, row, dstride), byte addresses and strides. */
export interface Packers {
  packA: (...args: number[]) => void;
  packAT: (...args: number[]) => void;
  packB: (...args: number[]) => void;
  packBT: (...args: number[]) => void;
}

/** Floats of scratch the raw rows of either operand need (after its padding to whole blocks). */
export function rawFloats(M: number, N: number, K: number): number {
  return Math.max(roundUp(M, MR), roundUp(N, NR)) * roundUp(K, 4);
}

/**
 * mem[base + i·width + j] = data[offset + i·stride + j] for i < rows, j < cols; zero for j in [cols, width) and for
 * rows in [rows, height). One memcpy when the rows are contiguous and need no padding.
 */
function copyRows(
  mem: Float32Array, base: number, data: Float32Array, offset: number, stride: number,
  rows: number, cols: number, width: number, height: number,
): void {
  if (cols === width && stride === cols) {
    mem.set(data.subarray(offset, offset + rows * cols), base);
  } else {
    for (let i = 0; i < rows; i++) {
      mem.set(data.subarray(offset + i * stride, offset + i * stride + cols), base + i * width);
      if (width > cols) mem.fill(0, base + i * width + cols, base + (i + 1) * width);
    }
  }
  if (height > rows) mem.fill(0, base + rows * width, base + height * width);
}

/**
 * An operand into tiles of W rows of its outer index (W = 4: A's rows; W = 8: B's columns) at float offset `dst`:
 * mem[dst + (t·Kp + k)·W + r] = element (outer t·W + r, k), zero past `outer`; `raw` (rawFloats floats) is scratch.
 * `outerStride`, `kStride`: how far apart consecutive outer indices and consecutive k are in the operand's data.
 */
function packOperand(
  mem: Float32Array, p: Packers, data: Float32Array, offset: number, outerStride: number, kStride: number,
  outer: number, K: number, W: 4 | 8, dst: number, raw: number,
): void {
  const outerP = roundUp(outer, W);
  const Kp = roundUp(K, 4);
  const count = outerP / W;
  if (kStride === 1) {
    // rows of K contiguous floats (A row-major, B stored transposed): raw [outerP][Kp], transposed 4×4 at a time
    copyRows(mem, raw, data, offset, outerStride, outer, K, Kp, outerP);
    (W === 4 ? p.packA : p.packBT)(raw * 4, dst * 4, count, Kp, Kp * 4, Kp * W * 4);
  } else if (outerStride === 1) {
    // rows of contiguous outer indices (A stored transposed, B row-major): raw [K][outerP], W floats per k
    copyRows(mem, raw, data, offset, kStride, K, outer, outerP, K);
    (W === 4 ? p.packAT : p.packB)(raw * 4, dst * 4, count, K, outerP * 4, Kp * W * 4);
  } else {
    packStrided(mem, dst, data, offset, outerStride, kStride, outer, K, W);
  }
}

/** A [M, K] into 4-row tiles at float offset `dst`. */
export function packOperandA(mem: Float32Array, p: Packers, a: StridedMatrix, M: number, K: number, dst: number, raw: number): void {
  packOperand(mem, p, a.data, a.offset, a.rowStride, a.colStride, M, K, MR, dst, raw);
}

/** B [K, N] into 8-column panels at float offset `dst`. */
export function packOperandB(mem: Float32Array, p: Packers, b: StridedMatrix, N: number, K: number, dst: number, raw: number): void {
  packOperand(mem, p, b.data, b.offset, b.colStride, b.rowStride, N, K, NR, dst, raw);
}

/** The same layout in JS, for operands with no unit stride. */
function packStrided(
  mem: Float32Array, base: number, data: Float32Array, offset: number, outerStride: number, kStride: number,
  outer: number, K: number, W: number,
): void {
  const outerP = roundUp(outer, W);
  const Kp = roundUp(K, 4);
  mem.fill(0, base + Math.floor(outer / W) * Kp * W, base + outerP * Kp); // the last, partial tile
  for (let o = 0; o < outer; o++) {
    let dst = base + Math.floor(o / W) * Kp * W + (o % W);
    let src = offset + o * outerStride;
    for (let k = 0; k < K; k++, dst += W, src += kStride) mem[dst] = data[src]!;
  }
}
