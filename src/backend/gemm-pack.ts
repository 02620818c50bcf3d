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

/** A [M, K] into tiles at float offset `dst` of the kernel's memory, using `raw` (rawFloats floats) as scratch. */
export function packOperandA(
  mem: Float32Array, p: Packers, a: StridedMatrix, M: number, K: number, dst: number, raw: number,
): void {
  const Mp = roundUp(M, MR);
  const Kp = roundUp(K, 4);
  if (a.colStride === 1) {
    copyRows(mem, raw, a.data, a.offset, a.rowStride, M, K, Kp, Mp); // raw [Mp][Kp]
    p.packA(raw * 4, dst * 4, Mp / MR, Kp, Kp * 4, Kp * MR * 4);
  } else if (a.rowStride === 1) {
    copyRows(mem, raw, a.data, a.offset, a.colStride, K, M, Mp, K); // raw [K][Mp]: A stored transposed
    p.packAT(raw * 4, dst * 4, Mp / MR, K, Mp * 4, Kp * MR * 4);
  } else {
    packA(mem, dst, a, M, Mp, K, Kp);
  }
}

/** B [K, N] into panels at float offset `dst`, using `raw` as scratch. */
export function packOperandB(
  mem: Float32Array, p: Packers, b: StridedMatrix, N: number, K: number, dst: number, raw: number,
): void {
  const Np = roundUp(N, NR);
  const Kp = roundUp(K, 4);
  if (b.colStride === 1) {
    copyRows(mem, raw, b.data, b.offset, b.rowStride, K, N, Np, K); // raw [K][Np]
    p.packB(raw * 4, dst * 4, Np / NR, K, Np * 4, Kp * NR * 4);
  } else if (b.rowStride === 1) {
    copyRows(mem, raw, b.data, b.offset, b.colStride, N, K, Kp, Np); // raw [Np][Kp]: B stored transposed
    p.packBT(raw * 4, dst * 4, Np / NR, Kp, Kp * 4, Kp * NR * 4);
  } else {
    packB(mem, dst, b, N, Np, K, Kp);
  }
}

// ---- the JS packers, for operands with no unit stride -----------------------------------------------------

/** mem[base + (ib·Kp + k)·4 + r] = A(ib·4 + r, k), 0 for rows ≥ M. */
export function packA(
  mem: Float32Array, base: number, a: StridedMatrix, M: number, Mp: number, K: number, Kp: number,
): void {
  const { data, offset, rowStride, colStride } = a;
  mem.fill(0, base + Math.floor(M / MR) * Kp * MR, base + Mp * Kp); // the last, partial tile
  if (colStride === 1) {
    for (let i = 0; i < M; i++) {
      let dst = base + Math.floor(i / MR) * Kp * MR + (i % MR);
      let src = offset + i * rowStride;
      for (let k = 0; k < K; k++, dst += MR, src++) mem[dst] = data[src]!;
    }
  } else {
    // Down the columns: 4 neighbouring rows are rowStride apart (neighbouring floats when A is stored [K, M]).
    const full = Math.floor(M / MR);
    for (let k = 0; k < K; k++) {
      let src = offset + k * colStride;
      let dst = base + k * MR;
      for (let ib = 0; ib < full; ib++, dst += Kp * MR, src += MR * rowStride) {
        mem[dst] = data[src]!;
        mem[dst + 1] = data[src + rowStride]!;
        mem[dst + 2] = data[src + 2 * rowStride]!;
        mem[dst + 3] = data[src + 3 * rowStride]!;
      }
      for (let r = 0; r < M - full * MR; r++, src += rowStride) mem[dst + r] = data[src]!;
    }
  }
}

/** mem[base + (jp·Kp + k)·8 + s] = B(k, jp·8 + s), 0 for columns ≥ N. */
export function packB(
  mem: Float32Array, base: number, b: StridedMatrix, N: number, Np: number, K: number, Kp: number,
): void {
  const { data, offset, rowStride, colStride } = b;
  mem.fill(0, base + Math.floor(N / NR) * Kp * NR, base + Np * Kp); // the last, partial panel
  for (let j = 0; j < N; j++) {
    let dst = base + Math.floor(j / NR) * Kp * NR + (j % NR);
    let src = offset + j * colStride;
    for (let k = 0; k < K; k++, dst += NR, src += rowStride) mem[dst] = data[src]!;
  }
}
