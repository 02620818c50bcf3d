// safetensors encode/decode: byte layout against a hand-written reference file, round trips, and one
// test per way a file can be corrupt (each must fail with its own clear message).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeSafetensors,
  encodeSafetensors,
  f32Tensor,
  toFloat32,
  type SafeTensor,
} from '../src/io/safetensors.js';

/** A file with an arbitrary (possibly wrong) header: the bytes a hostile or broken writer could produce. */
function rawFile(header: unknown, data: Uint8Array, headerLenOverride?: bigint): Uint8Array {
  const h = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + h.byteLength + data.byteLength);
  new DataView(out.buffer).setBigUint64(0, headerLenOverride ?? BigInt(h.byteLength), true);
  out.set(h, 8);
  out.set(data, 8 + h.byteLength);
  return out;
}

test('encoder writes the reference layout: length, sorted keys, __metadata__ first, space padding', () => {
  const a = f32Tensor([2], new Float32Array([1, 2]));
  const b = f32Tensor([1, 1], new Float32Array([-0.5]));
  const bytes = encodeSafetensors({ 'z.w': b, 'a.w': a }, { format: 'pt' });
  // Written out by hand the way the reference (Rust) serializer lays out an all-F32 file.
  const json =
    '{"__metadata__":{"format":"pt"},"a.w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},' +
    '"z.w":{"dtype":"F32","shape":[1,1],"data_offsets":[8,12]}}';
  const padded = json + ' '.repeat((8 - (json.length % 8)) % 8);
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  assert.equal(Number(view.getBigUint64(0, true)), padded.length);
  assert.equal(padded.length % 8, 0);
  assert.equal(new TextDecoder().decode(bytes.subarray(8, 8 + padded.length)), padded);
  const data = bytes.subarray(8 + padded.length);
  assert.deepEqual([...data], [0, 0, 0x80, 0x3f, 0, 0, 0, 0x40, 0, 0, 0, 0xbf]); // 1, 2, -0.5 little-endian
});

test('round trip keeps dtype, shape, bytes and metadata', () => {
  const values = new Float32Array([0.1, -2.5, 3e-8, 1e30, -0, 7, 8, 9, 10, 11, 12, 13]);
  const tensors: Record<string, SafeTensor> = {
    w: f32Tensor([3, 4], values),
    empty: f32Tensor([0, 4], new Float32Array(0)),
    ints: { dtype: 'I32', shape: [2], data: new Uint8Array([1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]) },
  };
  const { tensors: back, metadata } = decodeSafetensors(encodeSafetensors(tensors, { format: 'pt', note: 'x' }));
  assert.deepEqual(metadata, { format: 'pt', note: 'x' });
  assert.deepEqual([...back.keys()], ['empty', 'ints', 'w']);
  assert.deepEqual(back.get('w')!.shape, [3, 4]);
  assert.deepEqual(toFloat32(back.get('w')!), values);
  assert.deepEqual([...toFloat32(back.get('ints')!)], [1, -1]);
  assert.deepEqual(back.get('empty')!.shape, [0, 4]);
});

test('toFloat32 converts F16, BF16 and F64 exactly for representable values', () => {
  const f16: SafeTensor = { dtype: 'F16', shape: [3], data: new Uint8Array([0x00, 0x3c, 0x00, 0xc0, 0x00, 0x35]) };
  assert.deepEqual([...toFloat32(f16)], [1, -2, 0.3125]);
  const bf16: SafeTensor = { dtype: 'BF16', shape: [2], data: new Uint8Array([0x80, 0x3f, 0x40, 0xc0]) };
  assert.deepEqual([...toFloat32(bf16)], [1, -3]);
  const f64 = new Uint8Array(8);
  new DataView(f64.buffer).setFloat64(0, 0.25, true);
  assert.deepEqual([...toFloat32({ dtype: 'F64', shape: [1], data: f64 })], [0.25]);
});

test('encoder refuses data whose length does not match shape × dtype', () => {
  assert.throws(
    () => encodeSafetensors({ w: { dtype: 'F32', shape: [2, 2], data: new Uint8Array(12) } }),
    /tensor 'w' F32 \[2, 2\] needs 16 bytes but its data has 12/,
  );
  assert.throws(() => f32Tensor([2, 2], new Float32Array(3)), /holds 4 values but 3 were given/);
});

const entry = (begin: number, end: number, shape = [1], dtype = 'F32') => ({ dtype, shape, data_offsets: [begin, end] });

const corrupt: [string, () => Uint8Array, RegExp][] = [
  ['fewer than 8 bytes', () => new Uint8Array(5), /f\.st is truncated: 5 bytes, fewer than the 8-byte header length/],
  [
    'header length past the end',
    () => rawFile({ w: entry(0, 4) }, new Uint8Array(4), 1000n),
    /f\.st: header length 1000 runs past the end of the file \(\d+ bytes/,
  ],
  [
    'truncated data (file cut short)',
    () => {
      const ok = encodeSafetensors({ w: f32Tensor([4], new Float32Array(4)) });
      return ok.subarray(0, ok.byteLength - 3);
    },
    /tensor 'w': data_offsets \[0, 16\] run past the data section \(13 bytes\)/,
  ],
  ['header bytes invalid UTF-8', () => {
    const f = rawFile('{"a":1}', new Uint8Array(0));
    f[9] = 0xc3; // a lone UTF-8 lead byte
    return f;
  }, /header \(7 bytes at offset 8\) is not valid UTF-8/],
  ['header not JSON', () => rawFile('{"w": ', new Uint8Array(0)), /header is not valid JSON/],
  ['header a JSON array', () => rawFile([1, 2], new Uint8Array(0)), /header must be a JSON object, got an array/],
  ['unknown dtype', () => rawFile({ w: entry(0, 4, [1], 'F8') }, new Uint8Array(4)), /tensor 'w': unknown dtype "F8"; dtypes are: /],
  ['negative shape', () => rawFile({ w: entry(0, 4, [-1]) }, new Uint8Array(4)), /tensor 'w': shape must be a list of non-negative integers, got \[-1\]/],
  ['fractional offset', () => rawFile({ w: entry(0, 4.5) }, new Uint8Array(4)), /tensor 'w': data_offsets must be \[begin, end\] non-negative integers, got \[0,4\.5\]/],
  ['begin > end', () => rawFile({ w: entry(4, 0, [0]) }, new Uint8Array(4)), /tensor 'w': data_offsets \[4, 0\] have begin > end/],
  ['offsets out of range', () => rawFile({ w: entry(4, 8) }, new Uint8Array(4)), /tensor 'w': data_offsets \[4, 8\] run past the data section \(4 bytes\)/],
  ['shape × dtype ≠ bytes', () => rawFile({ w: entry(0, 8, [3]) }, new Uint8Array(8)), /tensor 'w': F32 \[3\] needs 12 bytes but data_offsets \[0, 8\] hold 8/],
  [
    'overlapping tensors',
    () => rawFile({ a: entry(0, 8, [2]), b: entry(4, 12, [2]) }, new Uint8Array(12)),
    /tensor 'b' \[4, 12\] overlaps tensor 'a' which ends at 8/,
  ],
  ['gap between tensors', () => rawFile({ a: entry(0, 4), b: entry(8, 12) }, new Uint8Array(12)), /gap of 4 bytes before tensor 'b'/],
  ['trailing bytes', () => rawFile({ a: entry(0, 4) }, new Uint8Array(9)), /tensors cover 4 bytes but the data section has 9/],
  ['metadata not strings', () => rawFile({ __metadata__: { format: 1 } }, new Uint8Array(0)), /'__metadata__' value for 'format' must be a string, got 1/],
  ['unknown entry field', () => rawFile({ w: { ...entry(0, 4), extra: 1 } }, new Uint8Array(4)), /tensor 'w': unknown field 'extra'/],
];

for (const [name, make, message] of corrupt) {
  test(`decoder rejects: ${name}`, () => {
    assert.throws(() => decodeSafetensors(make(), 'f.st'), (e: Error) => {
      assert.match(e.message, message);
      assert.match(e.message, /f\.st/);
      return true;
    });
  });
}

test('decoded tensors own their bytes (mutating the input changes nothing)', () => {
  const bytes = encodeSafetensors({ w: f32Tensor([1], new Float32Array([5])) });
  const { tensors } = decodeSafetensors(bytes);
  bytes.fill(0);
  assert.deepEqual([...toFloat32(tensors.get('w')!)], [5]);
});

test('writeSafetensorsFile streams the same bytes encodeSafetensors builds, asking for each tensor once', async () => {
  const { mkdtempSync, readFileSync, rmSync } = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const { writeSafetensorsFile } = await import('../src/io/safetensors-writer.js');
  const tensors: Record<string, SafeTensor> = {
    'b.weight': f32Tensor([2, 3], new Float32Array([1, 2, 3, 4, 5, 6])),
    'a.bias': f32Tensor([3], new Float32Array([0.5, -1, 2])),
    'c.ids': { dtype: 'I32', shape: [1], data: new Uint8Array(new Int32Array([7]).buffer) },
  };
  const dir = mkdtempSync(path.join(os.tmpdir(), 'st-writer-'));
  try {
    const asked: string[] = [];
    const file = path.join(dir, 'x.safetensors');
    const size = await writeSafetensorsFile(file, Object.entries(tensors).map(([name, t]) => ({
      name, dtype: t.dtype, shape: t.shape, bytes: async () => (asked.push(name), t.data),
    })), { format: 'pt' });
    const want = encodeSafetensors(tensors, { format: 'pt' });
    assert.deepEqual(new Uint8Array(readFileSync(file)), want);
    assert.equal(size, want.byteLength);
    assert.deepEqual(asked, ['a.bias', 'b.weight', 'c.ids'], 'in data order, once each');
    await assert.rejects(
      writeSafetensorsFile(file, [{ name: 'x', dtype: 'F32', shape: [2], bytes: async () => new Uint8Array(4) }]),
      /tensor 'x' F32 \[2\] needs 8 bytes but 4 came/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
