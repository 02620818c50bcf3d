// Reading a safetensors file tensor by tensor (huggingface/safetensors format; see safetensors.ts): only the
// header is read up front and validated against the file's size (a truncated shard fails here, before any
// tensor), then each tensor is streamed in chunks straight into a float32 destination, so loading a model
// never holds a file's bytes and its float32 copy at once. Torch's [out, in] can be transposed on the way in.
import { promises as fs } from 'node:fs';
import { parseSafetensorsHeader, type SafeEntry } from './safetensors.js';
import { decodeFloatsInto, FLOAT_SIZE, type FloatDtype } from './float.js';

/** Bytes read per chunk while streaming a tensor (a multiple of every element size). */
const CHUNK_BYTES = 8 << 20;

function isFloat(d: string): d is FloatDtype {
  return d === 'F32' || d === 'F16' || d === 'BF16' || d === 'F64';
}

export interface ReadFloat32Options {
  /** Write a 2-D [rows, cols] tensor as [cols, rows] (PyTorch Linear [out, in] → TF.js kernel [in, out]). */
  transpose?: boolean;
}

/** An open safetensors file: its validated header, and reads of one tensor at a time. Call close(). */
export class SafetensorsFile {
  readonly path: string;
  /** Tensor entries by name (dtype, shape, byte range). */
  readonly entries: ReadonlyMap<string, SafeEntry>;
  readonly metadata: Readonly<Record<string, string>>;
  /** The file's size in bytes when it was opened. */
  readonly size: number;
  private readonly fh: fs.FileHandle;
  private readonly dataStart: number;

  private constructor(
    path: string,
    fh: fs.FileHandle,
    size: number,
    entries: SafeEntry[],
    metadata: Record<string, string>,
    dataStart: number,
  ) {
    this.path = path;
    this.fh = fh;
    this.size = size;
    this.entries = new Map(entries.map((e) => [e.name, e]));
    this.metadata = metadata;
    this.dataStart = dataStart;
  }

  /** Opens `path` and validates its header (every tensor inside the file, tiling its data section). */
  static async open(path: string): Promise<SafetensorsFile> {
    const fh = await fs.open(path, 'r');
    try {
      const size = (await fh.stat()).size;
      const len = Buffer.alloc(8);
      const { bytesRead } = await fh.read(len, 0, 8, 0);
      // parseSafetensorsHeader reports the short file; give it what there is.
      if (bytesRead < 8) parseSafetensorsHeader(len.subarray(0, bytesRead), size, path);
      const n = Number(len.readBigUInt64LE(0));
      const headLength = n <= size - 8 ? 8 + n : 8;
      const head = Buffer.alloc(headLength);
      await fh.read(head, 0, headLength, 0);
      const { entries, metadata, dataStart } = parseSafetensorsHeader(head, size, path);
      return new SafetensorsFile(path, fh, size, entries, metadata, dataStart);
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  /** The entry for `name`, or an error naming the file and listing a few names it has. */
  entry(name: string): SafeEntry {
    const e = this.entries.get(name);
    if (e === undefined) {
      const some = [...this.entries.keys()].slice(0, 8).join(', ');
      throw new Error(`safetensors file ${this.path} has no tensor '${name}'; it has: ${some}${this.entries.size > 8 ? ', ...' : ''}`);
    }
    return e;
  }

  /**
   * The float32 values of tensor `name` (F32, F16, BF16 or F64 in the file), read in chunks into one new
   * Float32Array; with `transpose`, a 2-D [rows, cols] tensor arrives as [cols, rows].
   */
  async readFloat32(name: string, options: ReadFloat32Options = {}): Promise<Float32Array> {
    const e = this.entry(name);
    if (!isFloat(e.dtype)) {
      throw new Error(`safetensors file ${this.path}, tensor '${name}' is ${e.dtype}; model weights must be F32, F16, BF16 or F64`);
    }
    const size = FLOAT_SIZE[e.dtype];
    const n = e.shape.reduce((a, b) => a * b, 1);
    const out = new Float32Array(n);
    if (n === 0) return out;
    const transpose = options.transpose === true;
    if (transpose && e.shape.length !== 2) {
      throw new Error(`safetensors file ${this.path}, tensor '${name}' is [${e.shape.join(', ')}]: only a 2-D tensor can be transposed`);
    }
    const [rows, cols] = transpose ? (e.shape as [number, number]) : [1, n];
    // Whole rows per chunk when transposing, so each chunk lands as whole columns of the output.
    const rowBytes = cols * size;
    const perChunk = transpose ? Math.max(1, Math.floor(CHUNK_BYTES / rowBytes)) * rowBytes : CHUNK_BYTES - (CHUNK_BYTES % size);
    const chunk = Buffer.alloc(Math.min(perChunk, e.end - e.begin));
    const scratch = transpose ? new Float32Array(chunk.byteLength / size) : null;
    for (let off = e.begin; off < e.end; off += chunk.byteLength) {
      const len = Math.min(chunk.byteLength, e.end - off);
      const { bytesRead } = await this.fh.read(chunk, 0, len, this.dataStart + off);
      if (bytesRead !== len) {
        throw new Error(
          `safetensors file ${this.path}, tensor '${name}': read ${bytesRead} of ${len} bytes at ${this.dataStart + off}; the file shrank while loading`,
        );
      }
      const first = (off - e.begin) / size; // element index of this chunk's first value
      const bytes = new Uint8Array(chunk.buffer, chunk.byteOffset, len);
      if (scratch === null) {
        decodeFloatsInto(e.dtype, bytes, out, first);
        continue;
      }
      decodeFloatsInto(e.dtype, bytes, scratch, 0);
      const r0 = first / cols;
      const nRows = len / rowBytes;
      for (let c = 0; c < cols; c++) {
        const o = c * rows + r0; // out is [cols, rows]: row c holds column c of the input
        for (let r = 0; r < nRows; r++) out[o + r] = scratch[r * cols + c]!;
      }
    }
    return out;
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}
