// Quantising a frozen base weight: int8 per output row with absmax scales (LLM.int8's vector-wise weights,
// Dettmers et al. 2022 §3), and 4-bit codes in blocks of 64 with absmax scales: NormalFloat4 (QLoRA, Dettmers et al.
// 2023 §3, eq. 4) or a uniform int4 baseline; optionally the block scales quantised again (double quantisation).
// Orientation: W is [out, in] (PyTorch/PEFT, as bitsandbytes stores it), flattened row-major; a TF.js kernel K = Wᵀ.
import * as tf from '@tensorflow/tfjs';

export type QuantScheme = 'int8' | 'int4' | 'nf4';

/**
 * The 16 values of NormalFloat4 (bitsandbytes' table): quantiles of N(0, 1) scaled to [-1, 1], with an exact 0,
 * 7 negative and 8 positive levels (QLoRA §3: "an asymmetric data type"). A weight block divided by its absmax is
 * rounded to the nearest of these.
 */
export const NF4_CODE: readonly number[] = Object.freeze([
  -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
  -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
  0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
  0.7229568362236023, 1.0,
]);

export interface QuantizeOptions {
  /** 'int8' (per output row), 'int4' or 'nf4' (per block of `blockSize` values). */
  bits: QuantScheme;
  /** Values per absmax scale for the 4-bit schemes (QLoRA uses 64). Ignored by int8 (one scale per row). @default 64 */
  blockSize?: number;
  /** Quantise the 4-bit schemes' scales to 8 bits in blocks of 256 around their mean (QLoRA §3). @default false */
  doubleQuant?: boolean;
}

/** Scales stored as 8-bit codes: scale_b = (code_b − 128)·step[⌊b/256⌋] + offset. */
export interface QuantizedScales {
  codes: Uint8Array; // one byte per block scale, offset binary
  step: Float32Array; // one float per 256 scales
  offset: number; // the mean scale, subtracted before quantising
}

/** A weight in quantised form. Everything a dequantisation needs; nothing else. */
export interface QuantizedWeight {
  readonly bits: QuantScheme;
  /** [out, in] of W. */
  readonly shape: [number, number];
  /** Values per scale: `in` for int8 (one row), blockSize for 4-bit. */
  readonly blockSize: number;
  /**
   * The codes, little end first: int8 = one byte per value holding q + 128 (q in −127..127); int4 = q + 8 per
   * nibble (q in −7..7); nf4 = the index into NF4_CODE per nibble. Two nibbles per byte, low nibble first.
   */
  readonly codes: Uint8Array;
  /** absmax per row (int8) or per block (4-bit), float32; null when `quantizedScales` holds them. */
  readonly scales: Float32Array | null;
  readonly quantizedScales: QuantizedScales | null;
}

/** Block scales per double-quantisation step (QLoRA §3: blocks of 256). */
export const DQ_BLOCK = 256;

/** Bits per stored code. */
export function codeBits(bits: QuantScheme): 4 | 8 {
  return bits === 'int8' ? 8 : 4;
}

function checkShape(values: ArrayLike<number>, shape: readonly number[]): [number, number] {
  if (shape.length !== 2 || !shape.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new Error(`weight shape must be [out, in] with positive integers, got [${shape.join(', ')}]`);
  }
  const [out, inF] = shape as [number, number];
  if (values.length !== out * inF) {
    throw new Error(`weight has ${values.length} values but shape [${out}, ${inF}] needs ${out * inF}`);
  }
  return [out, inF];
}

/** Index of the NF4 level nearest to x ∈ [−1, 1] (midpoints between neighbours decide). */
function nearestNf4(x: number): number {
  let lo = 0;
  for (let k = 1; k < 16; k++) if (x > (NF4_CODE[k - 1]! + NF4_CODE[k]!) / 2) lo = k;
  return lo;
}

/**
 * Quantises W [out, in] (row-major values, PEFT orientation). For a Dense kernel K [in, out], pass Kᵀ
 * (see `quantizeKernel`). Pure JS on CPU data: run it once per frozen weight, before training.
 */
export function quantizeWeight(values: ArrayLike<number>, shape: readonly number[], options: QuantizeOptions): QuantizedWeight {
  const [out, inF] = checkShape(values, shape);
  const scheme = options.bits;
  if (scheme !== 'int8' && scheme !== 'int4' && scheme !== 'nf4') {
    throw new Error(`bits must be 'int8', 'int4' or 'nf4', got ${JSON.stringify(scheme)}: e.g. { bits: 'nf4' }`);
  }
  const blockSize = scheme === 'int8' ? inF : (options.blockSize ?? 64);
  if (!Number.isInteger(blockSize) || blockSize < 1) {
    throw new Error(`blockSize must be a positive integer, got ${blockSize}: use e.g. 64 (QLoRA's choice)`);
  }
  if (options.doubleQuant && scheme === 'int8') {
    throw new Error(`doubleQuant applies to the 4-bit schemes ('nf4', 'int4'), not 'int8' (its one scale per row is already cheap)`);
  }
  const n = out * inF;
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(values[i]!)) throw new Error(`weight value ${i} is ${values[i]}: only finite weights can be quantised`);
  }
  const nBlocks = Math.ceil(n / blockSize);
  const scales = new Float32Array(nBlocks);
  for (let b = 0; b < nBlocks; b++) {
    let m = 0;
    for (let i = b * blockSize; i < Math.min(n, (b + 1) * blockSize); i++) m = Math.max(m, Math.abs(values[i]!));
    scales[b] = m;
  }
  // With double quantisation the codes are made against the scales as they will be read back, so the
  // dequantised value is the nearest level of the scale actually used.
  const quantizedScales = options.doubleQuant ? quantizeScales(scales) : null;
  const used = quantizedScales ? dequantizeScales(quantizedScales, nBlocks) : scales;

  const bits = codeBits(scheme);
  const codes = new Uint8Array(bits === 8 ? n : Math.ceil(n / 2));
  for (let i = 0; i < n; i++) {
    const s = used[Math.floor(i / blockSize)]!;
    const x = s > 0 ? values[i]! / s : 0; // in [−1, 1] (a zero block stays zero)
    let code: number;
    if (scheme === 'int8') code = Math.max(-127, Math.min(127, Math.round(x * 127))) + 128;
    else if (scheme === 'int4') code = Math.max(-7, Math.min(7, Math.round(x * 7))) + 8;
    else code = nearestNf4(Math.max(-1, Math.min(1, x)));
    if (bits === 8) codes[i] = code;
    else codes[i >> 1] |= (i & 1) === 0 ? code : code << 4;
  }
  return { bits: scheme, shape: [out, inF], blockSize, codes, scales: quantizedScales ? null : scales, quantizedScales };
}

function quantizeScales(scales: Float32Array): QuantizedScales {
  let mean = 0;
  for (const s of scales) mean += s;
  mean /= scales.length;
  const groups = Math.ceil(scales.length / DQ_BLOCK);
  const step = new Float32Array(groups);
  const codes = new Uint8Array(scales.length);
  for (let g = 0; g < groups; g++) {
    let m = 0;
    for (let b = g * DQ_BLOCK; b < Math.min(scales.length, (g + 1) * DQ_BLOCK); b++) m = Math.max(m, Math.abs(scales[b]! - mean));
    step[g] = m / 127;
    for (let b = g * DQ_BLOCK; b < Math.min(scales.length, (g + 1) * DQ_BLOCK); b++) {
      codes[b] = (m > 0 ? Math.round((scales[b]! - mean) / step[g]!) : 0) + 128;
    }
  }
  return { codes, step, offset: Math.fround(mean) };
}

function dequantizeScales(q: QuantizedScales, nBlocks: number): Float32Array {
  const out = new Float32Array(nBlocks);
  for (let b = 0; b < nBlocks; b++) out[b] = (q.codes[b]! - 128) * q.step[Math.floor(b / DQ_BLOCK)]! + q.offset;
  return out;
}

/** The scale of every block, as the dequantiser reads it. */
export function blockScales(q: QuantizedWeight): Float32Array {
  const nBlocks = Math.ceil((q.shape[0] * q.shape[1]) / q.blockSize);
  return q.scales ?? dequantizeScales(q.quantizedScales!, nBlocks);
}

/** W [out, in] back as float32 (row-major), the values the quantised layer computes with. */
export function dequantizeWeight(q: QuantizedWeight): Float32Array {
  const n = q.shape[0] * q.shape[1];
  const scales = blockScales(q);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const s = scales[Math.floor(i / q.blockSize)]!;
    if (q.bits === 'int8') out[i] = ((q.codes[i]! - 128) / 127) * s;
    else {
      const code = (i & 1) === 0 ? q.codes[i >> 1]! & 15 : q.codes[i >> 1]! >> 4;
      out[i] = q.bits === 'int4' ? ((code - 8) / 7) * s : NF4_CODE[code]! * s;
    }
  }
  return out;
}

/** Bytes the quantised weight occupies: codes + scales (+ the double-quantisation constants). */
export function quantizedBytes(q: QuantizedWeight): number {
  const dq = q.quantizedScales;
  return q.codes.length + (q.scales ? 4 * q.scales.length : 0) + (dq ? dq.codes.length + 4 * dq.step.length + 4 : 0);
}

/** Average storage per weight in bits (float32 = 32, int8 ≈ 8 + 32/in, nf4 with blocks of 64 = 4.5). */
export function bitsPerWeight(q: QuantizedWeight): number {
  return (8 * quantizedBytes(q)) / (q.shape[0] * q.shape[1]);
}

export interface QuantError {
  /** Largest |W − Ŵ|. */
  maxAbs: number;
  /** Root mean square of W − Ŵ. */
  rmse: number;
  /** ‖W − Ŵ‖_F / ‖W‖_F. */
  relative: number;
}

/** How far the dequantised weight is from the original. */
export function quantizationError(values: ArrayLike<number>, q: QuantizedWeight): QuantError {
  checkShape(values, q.shape);
  const w = dequantizeWeight(q);
  let maxAbs = 0, se = 0, norm = 0;
  for (let i = 0; i < w.length; i++) {
    const d = values[i]! - w[i]!;
    maxAbs = Math.max(maxAbs, Math.abs(d));
    se += d * d;
    norm += values[i]! * values[i]!;
  }
  return { maxAbs, rmse: Math.sqrt(se / w.length), relative: norm > 0 ? Math.sqrt(se / norm) : Math.sqrt(se) };
}

/** A Dense kernel K [in, out] (TF.js) quantised as W = Kᵀ [out, in]. Reads with `await data()` (any backend). */
export async function quantizeKernel(kernel: tf.Tensor, options: QuantizeOptions): Promise<QuantizedWeight> {
  if (kernel.rank !== 2) throw new Error(`a Dense kernel is 2-D [in, out], got shape [${kernel.shape.join(', ')}]`);
  const W = tf.tidy(() => kernel.transpose()); // [out, in]
  const values = (await W.data()) as Float32Array;
  W.dispose();
  return quantizeWeight(values, W.shape as [number, number], options);
}

