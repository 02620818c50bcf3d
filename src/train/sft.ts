// Glue between data batches and the loss: LmBatch arrays → tensors, and the SFT loss of a causal LM on a batch.
// Dropout masks are seeded per step so a training run (and its resume) is reproducible.
import * as tf from '@tensorflow/tfjs';
import type { LmBatch } from '../data/batch.js';
import { maskedCrossEntropy } from './loss.js';

/** A batch as tensors: inputs/targets [B, T] int32, mask [B, T] float32. Dispose them (or build inside tidy). */
export function batchTensors(b: LmBatch): { inputs: tf.Tensor2D; targets: tf.Tensor2D; mask: tf.Tensor2D } {
  const shape: [number, number] = [b.batchSize, b.length];
  return {
    inputs: tf.tensor2d(b.inputs, shape, 'int32'),
    targets: tf.tensor2d(b.targets, shape, 'int32'),
    mask: tf.tensor2d(b.mask, shape, 'float32'),
  };
}

/** A model with next-token logits and a training flag. */
export interface TrainableLm {
  logits(tokens: tf.Tensor2D, options?: { training?: boolean; seed?: number }): tf.Tensor3D;
}

/** Masked next-token cross-entropy of `model` on `batch` (mask from the batch: answer-only for SFT). */
export function lmLoss(model: TrainableLm, batch: LmBatch, options: { training?: boolean; seed?: number } = {}): tf.Scalar {
  return tf.tidy(() => {
    const { inputs, targets, mask } = batchTensors(batch);
    return maskedCrossEntropy(model.logits(inputs, options), targets, mask);
  });
}
