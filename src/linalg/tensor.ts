// Crossing between TF.js tensors (float32, where models and LoRA live) and ml-matrix matrices (float64,
// where the SVD lives). Orientation is kept as is: a Dense kernel [in, out] stays [in, out]; transpose to
// PyTorch/PEFT's weight [out, in] yourself where a formula needs it.
import * as tf from '@tensorflow/tfjs';
import { Matrix } from 'ml-matrix';
import { asMatrix, type MatrixInput } from './validate.js';

/**
 * A 2-D tensor as a Matrix (float64 copy). Async because it reads with `await t.array()`, which works on
 * every backend (webgpu included); the tensor is not disposed. Errors name a wrong rank or a non-finite entry.
 */
export async function tensorToMatrix(t: tf.Tensor, name = 'tensor'): Promise<Matrix> {
  if (t.rank !== 2) {
    throw new Error(
      `${name} must be 2-D to become a matrix, got shape [${t.shape.join(', ')}]: reshape it to [rows, cols] first`,
    );
  }
  const rows = (await t.array()) as number[][];
  return asMatrix(rows, name);
}

/** A Matrix (or number[][]) as a new 2-D tensor, float32 by default; the caller owns (disposes) it. */
export function matrixToTensor(input: MatrixInput, dtype: 'float32' | 'int32' = 'float32'): tf.Tensor2D {
  const M = asMatrix(input);
  return tf.tensor2d(M.to2DArray(), [M.rows, M.columns], dtype);
}
