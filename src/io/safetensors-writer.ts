// Writing a safetensors file tensor by tensor (huggingface/safetensors format; layout in safetensors.ts): the
// header comes from names, dtypes and shapes alone, then each tensor's bytes are asked for and written in turn,
// so saving a model holds one tensor's bytes at a time, never the whole file. Used inside an atomic folder save.
import { promises as fs } from 'node:fs';
import { safetensorsHeader, type SafeTensorInfo } from './safetensors.js';

/** A tensor to write: its header entry and a function giving its little-endian bytes when its turn comes. */
export interface PendingTensor extends SafeTensorInfo {
  bytes(): Promise<Uint8Array>;
}

/** Writes `tensors` to `file` (created or truncated) in the reference layout; returns the file's size. */
export async function writeSafetensorsFile(
  file: string,
  tensors: readonly PendingTensor[],
  metadata?: Record<string, string>,
): Promise<number> {
  const { prefix, order, dataBytes } = safetensorsHeader(tensors, metadata);
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const fh = await fs.open(file, 'w');
  try {
    await fh.write(prefix);
    for (const { name, bytes } of order) {
      const t = byName.get(name)!;
      const data = await t.bytes();
      if (data.byteLength !== bytes) {
        throw new Error(`tensor '${name}' ${t.dtype} [${t.shape.join(', ')}] needs ${bytes} bytes but ${data.byteLength} came`);
      }
      await fh.write(data);
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
  return prefix.byteLength + dataBytes;
}
