// The per-tensor safetensors reader and the float decoders: values equal the in-memory decoder's, F16/BF16
// round to nearest even like torch, transposed reads match a transpose, and a truncated file fails on open.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync, truncateSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { encodeSafetensors, decodeSafetensors, toFloat32, type SafeTensor } from '../src/io/safetensors.js';
import { SafetensorsFile } from '../src/io/safetensors-file.js';
import { decodeFloatsInto, encodeBfloat16s, encodeHalfs, floatToBfloat16, floatToHalf, halfToFloat } from '../src/io/float.js';

function bits16(values: number[], conv: (x: number) => number): Uint8Array {
  const out = new Uint8Array(values.length * 2);
  values.forEach((v, i) => new DataView(out.buffer).setUint16(i * 2, conv(v), true));
  return out;
}

describe('float decoders', () => {
  it('rounds to nearest even and round-trips halves and bfloat16', () => {
    assert.equal(floatToHalf(1), 0x3c00);
    assert.equal(floatToHalf(-2), 0xc000);
    assert.equal(floatToHalf(65504), 0x7bff);
    assert.equal(floatToHalf(1e6), 0x7c00); // overflow → Inf
    assert.equal(floatToHalf(2 ** -24), 0x0001); // smallest subnormal
    assert.equal(floatToHalf(1 + 2 ** -11), 0x3c00); // tie → even (down)
    assert.equal(floatToHalf(1 + 3 * 2 ** -11), 0x3c02); // tie → even (up)
    assert.equal(floatToBfloat16(1), 0x3f80);
    assert.equal(floatToBfloat16(1 + 2 ** -8), 0x3f80); // tie → even
    assert.equal(floatToBfloat16(1 + 3 * 2 ** -8), 0x3f82);
    const xs = Float32Array.from([0, -1, 1 + 2 ** -8, 1 + 3 * 2 ** -8, NaN, 3.3e38, -1e-40, 65520]);
    assert.deepEqual([...encodeBfloat16s(xs)], [...xs].map(floatToBfloat16));
    assert.deepEqual([...encodeHalfs(xs)], [...xs].map(floatToHalf));
    for (let h = 0; h < 65536; h += 97) {
      const v = halfToFloat(h);
      if (Number.isFinite(v) && !(v === 0 && h === 0x8000)) assert.equal(floatToHalf(v), h);
    }
  });

  it('decodes F16 and BF16 chunks at any offset, aligned or not', () => {
    const values = [0, 1, -1.5, 3.140625, 1024, -0.0009765625];
    const f16 = bits16(values, floatToHalf);
    const out = new Float32Array(8);
    decodeFloatsInto('F16', f16, out, 1);
    assert.deepEqual([...out.subarray(1, 7)], values);
    const unaligned = new Uint8Array(f16.byteLength + 1);
    unaligned.set(f16, 1);
    const out2 = new Float32Array(6);
    decodeFloatsInto('BF16', bits16(values, floatToBfloat16), out2);
    assert.deepEqual([...out2], values);
    decodeFloatsInto('F16', unaligned.subarray(1), out2);
    assert.deepEqual([...out2], values);
    assert.throws(() => decodeFloatsInto('F16', new Uint8Array(3), out2), /not a whole number of F16/);
    assert.throws(() => decodeFloatsInto('F32', new Uint8Array(40), out2), /do not fit/);
  });
});

describe('SafetensorsFile', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'st-file-'));
  const a = Float32Array.from({ length: 6 }, (_, i) => i - 2.5); // [2, 3]
  const b = [0.5, -0.25, 7, 8];
  const tensors: Record<string, SafeTensor> = {
    a: { dtype: 'F32', shape: [2, 3], data: new Uint8Array(a.buffer.slice(0)) },
    b: { dtype: 'BF16', shape: [4], data: bits16(b, floatToBfloat16) },
    c: { dtype: 'F16', shape: [2, 2], data: bits16(b, floatToHalf) },
    i: { dtype: 'I32', shape: [1], data: new Uint8Array(4) },
  };
  const file = path.join(dir, 'm.safetensors');
  const bytes = encodeSafetensors(tensors, { format: 'pt' });
  writeFileSync(file, bytes);

  it('reads each tensor as the in-memory decoder does, and transposes on request', async () => {
    const f = await SafetensorsFile.open(file);
    try {
      const ref = decodeSafetensors(bytes).tensors;
      for (const name of ['a', 'b', 'c']) assert.deepEqual([...(await f.readFloat32(name))], [...toFloat32(ref.get(name)!)]);
      assert.deepEqual([...(await f.readFloat32('a', { transpose: true }))], [-2.5, 0.5, -1.5, 1.5, -0.5, 2.5]);
      assert.deepEqual([...(await f.readFloat32('c', { transpose: true }))], [0.5, 7, -0.25, 8]);
      assert.deepEqual(f.metadata, { format: 'pt' });
      await assert.rejects(f.readFloat32('i'), /tensor 'i' is I32; model weights must be F32, F16, BF16/);
      await assert.rejects(f.readFloat32('b', { transpose: true }), /only a 2-D tensor can be transposed/);
      assert.throws(() => f.entry('zz'), /has no tensor 'zz'; it has: a, b, c, i/);
    } finally {
      await f.close();
    }
  });

  it('refuses a truncated file when it is opened, naming the file and tensor', async () => {
    const cut = path.join(dir, 'cut.safetensors');
    writeFileSync(cut, bytes);
    truncateSync(cut, bytes.byteLength - 3);
    await assert.rejects(SafetensorsFile.open(cut), (e: Error) => {
      assert.match(e.message, /cut\.safetensors/);
      assert.match(e.message, /truncated|trailing bytes|data section/);
      return true;
    });
    truncateSync(cut, 5);
    await assert.rejects(SafetensorsFile.open(cut), /truncated: 5 bytes/);
  });

  it('cleans up', () => rmSync(dir, { recursive: true, force: true }));
});
