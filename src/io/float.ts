// Little-endian float bytes (safetensors' F32, F16, BF16, F64) to float32, chunk by chunk into a destination,
// so a 16-bit tensor never exists twice in full. IEEE 754 binary16: 1 sign, 5 exponent (bias 15), 10 fraction
// bits; bfloat16: the upper 16 bits of a binary32. Typed-array fast paths on little-endian hosts, DataView elsewhere.

/** The float dtypes a model weight may be stored in. */
export type FloatDtype = 'F32' | 'F16' | 'BF16' | 'F64';

export const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** binary16 bits → value, exactly (every half is a float32). */
export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 0x1f) return f === 0 ? s * Infinity : NaN;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

let halfTable: Float32Array | null = null;
/** All 65,536 halves as float32 (256 KiB, built once): conversion becomes one lookup per element. */
function halves(): Float32Array {
  if (halfTable === null) {
    halfTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) halfTable[h] = halfToFloat(h);
  }
  return halfTable;
}

/** Bytes per element of each float dtype. */
export const FLOAT_SIZE: Readonly<Record<FloatDtype, number>> = { F32: 4, F16: 2, BF16: 2, F64: 8 };

/**
 * Decodes `src` (whole elements of `dtype`, little-endian) into `dest` starting at element `at`.
 * `src` may sit at any byte offset; unaligned input takes the DataView path.
 */
export function decodeFloatsInto(dtype: FloatDtype, src: Uint8Array, dest: Float32Array, at = 0): void {
  const size = FLOAT_SIZE[dtype];
  if (src.byteLength % size !== 0) {
    throw new Error(`decodeFloatsInto: ${src.byteLength} bytes is not a whole number of ${dtype} elements`);
  }
  const n = src.byteLength / size;
  if (at < 0 || at + n > dest.length) {
    throw new Error(`decodeFloatsInto: ${n} values at ${at} do not fit a destination of ${dest.length}`);
  }
  const aligned = src.byteOffset % size === 0;
  if (LITTLE_ENDIAN_HOST && aligned) {
    if (dtype === 'F32') dest.set(new Float32Array(src.buffer, src.byteOffset, n), at);
    else if (dtype === 'F64') dest.set(new Float64Array(src.buffer, src.byteOffset, n), at);
    else if (dtype === 'F16') {
      const h = new Uint16Array(src.buffer, src.byteOffset, n);
      const table = halves();
      for (let i = 0; i < n; i++) dest[at + i] = table[h[i]!]!;
    } else {
      // bfloat16 → float32 is a 16-bit shift of the bits: write them through a Uint32 view of dest.
      const h = new Uint16Array(src.buffer, src.byteOffset, n);
      const bits = new Uint32Array(dest.buffer, dest.byteOffset + at * 4, n);
      for (let i = 0; i < n; i++) bits[i] = h[i]! << 16;
    }
    return;
  }
  const view = new DataView(src.buffer, src.byteOffset, src.byteLength);
  const scratch = new DataView(new ArrayBuffer(4));
  for (let i = 0; i < n; i++) {
    switch (dtype) {
      case 'F32': dest[at + i] = view.getFloat32(i * 4, true); break;
      case 'F64': dest[at + i] = view.getFloat64(i * 8, true); break;
      case 'F16': dest[at + i] = halfToFloat(view.getUint16(i * 2, true)); break;
      case 'BF16':
        scratch.setUint32(0, view.getUint16(i * 2, true) << 16, true);
        dest[at + i] = scratch.getFloat32(0, true);
        break;
    }
  }
}

/** float32 → binary16 bits, rounding to nearest even (what torch's .half() does); overflow gives ±Inf. */
export function floatToHalf(x: number): number {
  const f = new Float32Array([x]);
  const b = new Uint32Array(f.buffer)[0]!;
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (half + (rem > mid || (rem === mid && (half & 1)) ? 1 : 0));
  }
  const half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // Rounding may carry into the exponent, which is the correct next value (up to Inf).
  return sign | (half + (rem > 0x1000 || (rem === 0x1000 && (half & 1)) ? 1 : 0));
}

/** float32 → bfloat16 bits, rounding to nearest even (torch's .bfloat16()). */
export function floatToBfloat16(x: number): number {
  const f = new Float32Array([x]);
  const b = new Uint32Array(f.buffer)[0]!;
  if ((b & 0x7fffffff) > 0x7f800000) return ((b >>> 16) | 0x40) & 0xffff; // NaN stays NaN
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

/** Many float32 values → binary16 bits (round to nearest even), for writing F16 files. */
export function encodeHalfs(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = floatToHalf(values[i]!);
  return out;
}

/** Many float32 values → bfloat16 bits (round to nearest even, NaN kept), for writing BF16 files. */
export function encodeBfloat16s(values: Float32Array): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < bits.length; i++) {
    const b = bits[i]!;
    out[i] = (b & 0x7fffffff) > 0x7f800000 ? ((b >>> 16) | 0x40) & 0xffff : ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
  }
  return out;
}
