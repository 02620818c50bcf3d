// Memory accounting for the LoRA-vs-full comparison: parameter counts, optimizer-state bytes (Adam keeps two
// floats per trainable parameter, so its state shrinks with the trainable set: LoRA paper §4.2) and the peak of
// tf.memory().numBytes sampled during training steps.
import * as tf from '@tensorflow/tfjs';

/** Number of scalars in a list of variables or tensors. */
export function countParams(tensors: readonly { size: number }[]): number {
  return tensors.reduce((n, t) => n + t.size, 0);
}

/** Bytes of Adam/AdamW state for `trainableParams` parameters: 2 moments × 4 bytes (float32) each. */
export function optimizerStateBytes(trainableParams: number, bytesPerFloat = 4): number {
  return 2 * bytesPerFloat * trainableParams;
}

/** Tracks the largest tf.memory().numBytes seen by sample() (all live tensors on the backend). */
export class PeakMemory {
  peak = 0;
  sample(): number {
    const b = tf.memory().numBytes;
    if (b > this.peak) this.peak = b;
    return b;
  }
}

/** "1.5 MiB"-style text for a byte count. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(v >= 100 ? 0 : 1)} ${units[u]}`;
}
