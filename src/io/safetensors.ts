// The safetensors file format (huggingface/safetensors): an 8-byte little-endian header length N, N bytes
// of JSON header {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {..}}, then raw
// little-endian tensor bytes. Reference: the format spec in the safetensors README and its Rust `validate`.
//
// The decoder trusts nothing in the header. Like the reference implementation it requires the tensors to
// tile the data section exactly: sorted by begin offset, each starts where the previous one ended (no
// overlaps, no gaps) and the last ends at the end of the file. Each way a file can be wrong has its own
// error naming the file, the key and the numbers.

import { decodeFloatsInto } from './float.js';

export type SafeDtype = 'F32' | 'F16' | 'BF16' | 'F64' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

/** One tensor as stored: dtype, shape and its raw little-endian bytes. */
export interface SafeTensor {
  dtype: SafeDtype;
  shape: number[];
  /** Raw little-endian bytes, shape × dtype size of them. */
  data: Uint8Array;
}

/** Bytes per element of each dtype. */
export const DTYPE_SIZE: Readonly<Record<SafeDtype, number>> = {
  F64: 8, I64: 8, F32: 4, I32: 4, F16: 2, BF16: 2, I16: 2, I8: 1, U8: 1, BOOL: 1,
};

const METADATA_KEY = '__metadata__';
/** The reference implementation refuses headers above 100 MB; so do we (a bigger one is a corrupt length). */
const MAX_HEADER_BYTES = 100_000_000;

function isSafeDtype(d: unknown): d is SafeDtype {
  return typeof d === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_SIZE, d);
}

function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** What a header needs of a tensor: its name, dtype and shape (the bytes come later, in sorted name order). */
export interface SafeTensorInfo {
  name: string;
  dtype: SafeDtype;
  shape: number[];
}

/**
 * The header of a safetensors file holding `tensors` (checked: names, dtypes, shapes), as the reference writer
 * lays it out: keys sorted, `__metadata__` first, padded with spaces to a multiple of 8 bytes so the data section
 * starts 8-byte aligned. Returns the 8-byte length prefix plus header, and the tensors in data order with their
 * byte counts.
 */
export function safetensorsHeader(
  tensors: readonly SafeTensorInfo[],
  metadata?: Record<string, string>,
): { prefix: Uint8Array; order: { name: string; bytes: number }[]; dataBytes: number } {
  const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') {
        throw new Error(`safetensors metadata values must be strings, got ${typeof v} for '${k}': use String(value)`);
      }
    }
    header[METADATA_KEY] = metadata;
  }
  let offset = 0;
  const order: { name: string; bytes: number }[] = [];
  for (const t of sorted) {
    const name = t.name;
    if (name === METADATA_KEY) throw new Error(`'${METADATA_KEY}' is reserved and cannot name a tensor`);
    if (Object.prototype.hasOwnProperty.call(header, name)) throw new Error(`tensor '${name}' is listed twice`);
    if (!isSafeDtype(t.dtype)) {
      throw new Error(`tensor '${name}' has unknown dtype '${String(t.dtype)}'; dtypes are: ${Object.keys(DTYPE_SIZE).join(', ')}`);
    }
    for (const d of t.shape) {
      if (!Number.isSafeInteger(d) || d < 0) {
        throw new Error(`tensor '${name}' has a bad shape [${t.shape.join(', ')}]: dimensions must be non-negative integers`);
      }
    }
    const nbytes = numel(t.shape) * DTYPE_SIZE[t.dtype];
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + nbytes] };
    order.push({ name, bytes: nbytes });
    offset += nbytes;
  }
  let json = JSON.stringify(header);
  let headerBytes = new TextEncoder().encode(json);
  const padded = Math.ceil(headerBytes.byteLength / 8) * 8;
  if (padded !== headerBytes.byteLength) {
    json += ' '.repeat(padded - headerBytes.byteLength);
    headerBytes = new TextEncoder().encode(json);
  }
  const prefix = new Uint8Array(8 + headerBytes.byteLength);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(headerBytes.byteLength), true);
  prefix.set(headerBytes, 8);
  return { prefix, order, dataBytes: offset };
}

/** Serialises tensors to safetensors bytes (layout: see safetensorsHeader). */
export function encodeSafetensors(
  tensors: Record<string, SafeTensor>,
  metadata?: Record<string, string>,
): Uint8Array {
  const infos = Object.entries(tensors).map(([name, t]) => ({ name, dtype: t.dtype, shape: t.shape }));
  const { prefix, order, dataBytes } = safetensorsHeader(infos, metadata);
  const out = new Uint8Array(prefix.byteLength + dataBytes);
  out.set(prefix, 0);
  let at = prefix.byteLength;
  for (const { name, bytes } of order) {
    const t = tensors[name]!;
    if (bytes !== t.data.byteLength) {
      throw new Error(
        `tensor '${name}' ${t.dtype} [${t.shape.join(', ')}] needs ${bytes} bytes but its data has ${t.data.byteLength}`,
      );
    }
    out.set(t.data, at);
    at += bytes;
  }
  return out;
}

/** One tensor's entry in a safetensors header: dtype, shape and its byte range within the data section. */
export interface SafeEntry {
  name: string;
  dtype: SafeDtype;
  shape: number[];
  /** Byte offsets into the data section (which starts at `8 + headerLength` in the file). */
  begin: number;
  end: number;
}

/** A validated safetensors header: entries sorted by name, metadata, and where the data section starts. */
export interface SafeHeader {
  entries: SafeEntry[];
  metadata: Record<string, string>;
  /** File offset of the data section: 8 + the header's length. */
  dataStart: number;
}

/**
 * Validates a header given the file's first 8 + N bytes (`head`, at least the 8-byte length) and the
 * file's total size. Used by both the in-memory decoder and the per-tensor file reader, so a file read
 * either way passes the same checks. `head` must hold the whole header (8 + N bytes).
 */
export function parseSafetensorsHeader(head: Uint8Array, fileSize: number, source = '<bytes>'): SafeHeader {
  const where = `safetensors file ${source}`;
  if (fileSize < 8 || head.byteLength < 8) {
    throw new Error(`${where} is truncated: ${fileSize} bytes, fewer than the 8-byte header length`);
  }
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const n64 = view.getBigUint64(0, true);
  if (n64 > BigInt(fileSize - 8)) {
    throw new Error(
      `${where}: header length ${n64} runs past the end of the file (${fileSize} bytes, so at most ${fileSize - 8}); the file is truncated or not safetensors`,
    );
  }
  const n = Number(n64);
  if (n > MAX_HEADER_BYTES) {
    throw new Error(`${where}: header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  }
  if (head.byteLength < 8 + n) throw new Error(`parseSafetensorsHeader: pass the first ${8 + n} bytes of ${source}`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(head.subarray(8, 8 + n));
  } catch {
    throw new Error(`${where}: header (${n} bytes at offset 8) is not valid UTF-8`);
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    throw new Error(`${where}: header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new Error(`${where}: header must be a JSON object, got ${Array.isArray(header) ? 'an array' : String(header)}`);
  }

  const dataStart = 8 + n;
  const dataLen = fileSize - dataStart;
  const metadata: Record<string, string> = {};
  const entries: SafeEntry[] = [];

  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === METADATA_KEY) {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
        throw new Error(`${where}: '${METADATA_KEY}' must be an object of strings, got ${JSON.stringify(raw)}`);
      }
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== 'string') {
          throw new Error(`${where}: '${METADATA_KEY}' value for '${k}' must be a string, got ${JSON.stringify(v)}`);
        }
        metadata[k] = v;
      }
      continue;
    }
    const at = `${where}, tensor '${name}'`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      throw new Error(`${at}: entry must be an object {dtype, shape, data_offsets}, got ${JSON.stringify(raw)}`);
    }
    const e = raw as Record<string, unknown>;
    for (const k of Object.keys(e)) {
      if (k !== 'dtype' && k !== 'shape' && k !== 'data_offsets') {
        throw new Error(`${at}: unknown field '${k}'; an entry has only dtype, shape, data_offsets`);
      }
    }
    if (!isSafeDtype(e.dtype)) {
      throw new Error(`${at}: unknown dtype ${JSON.stringify(e.dtype)}; dtypes are: ${Object.keys(DTYPE_SIZE).join(', ')}`);
    }
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
      throw new Error(`${at}: shape must be a list of non-negative integers, got ${JSON.stringify(e.shape)}`);
    }
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
      throw new Error(`${at}: data_offsets must be [begin, end] non-negative integers, got ${JSON.stringify(off)}`);
    }
    const [begin, end] = off as [number, number];
    if (begin > end) throw new Error(`${at}: data_offsets [${begin}, ${end}] have begin > end`);
    if (end > dataLen) {
      throw new Error(
        `${at}: data_offsets [${begin}, ${end}] run past the data section (${dataLen} bytes); the file is truncated or corrupt`,
      );
    }
    const shape = e.shape as number[];
    const expected = numel(shape) * DTYPE_SIZE[e.dtype];
    if (expected !== end - begin) {
      throw new Error(
        `${at}: ${e.dtype} [${shape.join(', ')}] needs ${expected} bytes but data_offsets [${begin}, ${end}] hold ${end - begin}`,
      );
    }
    entries.push({ name, dtype: e.dtype, shape, begin, end });
  }

  // The tensors must tile the data section: sorted by begin (ties: empty tensors first), no overlap, no gap.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  let prev: string | undefined;
  for (const t of sorted) {
    if (t.begin < cursor) {
      throw new Error(
        `${where}: tensor '${t.name}' [${t.begin}, ${t.end}] overlaps tensor '${prev}' which ends at ${cursor}`,
      );
    }
    if (t.begin > cursor) {
      throw new Error(
        `${where}: gap of ${t.begin - cursor} bytes before tensor '${t.name}' (begins at ${t.begin}, previous data ends at ${cursor}); tensors must be contiguous`,
      );
    }
    cursor = t.end;
    prev = t.name;
  }
  if (cursor !== dataLen) {
    throw new Error(
      `${where}: tensors cover ${cursor} bytes but the data section has ${dataLen}; the file has trailing bytes or a wrong header`,
    );
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { entries, metadata, dataStart };
}

/**
 * Parses and validates safetensors bytes. `source` (a path) names the file in every error.
 * The returned tensors own copies of their bytes (safe to keep after `bytes` is reused).
 */
export function decodeSafetensors(
  bytes: Uint8Array,
  source = '<bytes>',
): { tensors: Map<string, SafeTensor>; metadata: Record<string, string> } {
  const { entries, metadata, dataStart } = parseSafetensorsHeader(bytes, bytes.byteLength, source);
  const tensors = new Map<string, SafeTensor>();
  for (const t of entries) {
    tensors.set(t.name, { dtype: t.dtype, shape: t.shape, data: bytes.slice(dataStart + t.begin, dataStart + t.end) });
  }
  return { tensors, metadata };
}

/** A float32 SafeTensor from values (written little-endian whatever the host byte order). */
export function f32Tensor(shape: number[], values: Float32Array): SafeTensor {
  const n = numel(shape);
  if (n !== values.length) {
    throw new Error(`f32Tensor: shape [${shape.join(', ')}] holds ${n} values but ${values.length} were given`);
  }
  const data = new Uint8Array(n * 4);
  const view = new DataView(data.buffer);
  for (let i = 0; i < n; i++) view.setFloat32(i * 4, values[i]!, true);
  return { dtype: 'F32', shape: [...shape], data };
}

/** The values of a floating-point or integer SafeTensor as float32 (F16/BF16/F64/ints converted). */
export function toFloat32(t: SafeTensor): Float32Array {
  const size = DTYPE_SIZE[t.dtype];
  const n = numel(t.shape);
  if (t.data.byteLength !== n * size) {
    throw new Error(
      `toFloat32: ${t.dtype} [${t.shape.join(', ')}] needs ${n * size} bytes but has ${t.data.byteLength}`,
    );
  }
  const out = new Float32Array(n);
  if (t.dtype === 'F32' || t.dtype === 'F16' || t.dtype === 'BF16' || t.dtype === 'F64') {
    decodeFloatsInto(t.dtype, t.data, out);
    return out;
  }
  const view = new DataView(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  for (let i = 0; i < n; i++) {
    switch (t.dtype) {
      case 'I64': out[i] = Number(view.getBigInt64(i * 8, true)); break;
      case 'I32': out[i] = view.getInt32(i * 4, true); break;
      case 'I16': out[i] = view.getInt16(i * 2, true); break;
      case 'I8': out[i] = view.getInt8(i); break;
      case 'U8': case 'BOOL': out[i] = view.getUint8(i); break;
    }
  }
  return out;
}
