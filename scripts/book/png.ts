// A grayscale matrix as PNG bytes (PNG spec, ISO/IEC 15948: IHDR colour type 0, 8-bit, one IDAT, IEND), each
// entry drawn as a scale×scale block so a browser shows crisp pixels without smoothing. Values in [0, 1],
// 0 = black; row 0 at the top. Only node:zlib is needed (deflate and the chunk CRC-32).
import { crc32, deflateSync } from 'node:zlib';

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, data.length);
  out.set(new TextEncoder().encode(type), 4);
  out.set(data, 8);
  dv.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** PNG bytes of `values` (rows of numbers in [0, 1]), each entry a scale×scale block. */
export function grayPng(values: ArrayLike<ArrayLike<number>>, scale = 1): Uint8Array {
  const rows = values.length;
  const cols = rows > 0 ? values[0]!.length : 0;
  if (rows === 0 || cols === 0 || !Number.isInteger(scale) || scale < 1) {
    throw new Error(`grayPng needs a non-empty matrix and an integer scale >= 1, got ${rows}×${cols}, scale ${scale}`);
  }
  const width = cols * scale;
  const stride = width + 1; // each scanline starts with its filter byte
  const raw = new Uint8Array(stride * rows * scale);
  let line = 0;
  for (let i = 0; i < rows; i++) {
    const row = values[i]!;
    if (row.length !== cols) throw new Error(`grayPng: row ${i} has ${row.length} entries, row 0 has ${cols}`);
    for (let rep = 0; rep < scale; rep++, line++) {
      const at = line * stride;
      // filter 2 ("Up") makes a repeated scanline all zeros, which deflate stores almost for free
      if (rep > 0) {
        raw[at] = 2;
        continue;
      }
      raw[at] = 0;
      for (let j = 0; j < cols; j++) {
        const v = Math.round(255 * Math.min(1, Math.max(0, row[j]!)));
        raw.fill(v, at + 1 + j * scale, at + 1 + (j + 1) * scale);
      }
    }
  }
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, width);
  dv.setUint32(4, rows * scale);
  ihdr.set([8, 0, 0, 0, 0], 8); // bit depth 8, colour type 0 (gray), deflate, adaptive filtering, no interlace
  const parts = [
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', new Uint8Array(deflateSync(raw, { level: 9 }))),
    chunk('IEND', new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
