// "Define A and B first, then learn them": fit ΔW ≈ B·A by gradient descent (Adam) from LoRA's own start
// (Hu et al. 2021, §4.1: A random, B = 0, so B·A = 0 at step 0), and compare with the best any rank-r
// matrix can do, the truncated SVD (Eckart–Young). Orientation: PEFT's, ΔW [d_out, d_in], A [r, d_in], B [d_out, r].
import * as tf from '@tensorflow/tfjs';
import { Matrix } from 'ml-matrix';
import { frobeniusError, truncationError } from '../linalg/lowrank.js';
import { createRng } from '../linalg/random.js';
import { reconstruct, svd } from '../linalg/svd.js';
import { tensorToMatrix, matrixToTensor } from '../linalg/tensor.js';
import { asMatrix, assertRank, type MatrixInput } from '../linalg/validate.js';
import { minimize } from './minimize.js';

export interface FitLowRankOptions {
  /** Adam steps. @default 1000 */
  steps?: number;
  /** Adam's learning rate. @default 0.02 */
  learningRate?: number;
  /** Seed for lora_A's initial values. @default 0 */
  seed?: number;
  /** Record (and report) the loss every this many steps; also at the first and last step. @default 50 */
  logEvery?: number;
  /** Called with each recorded loss (e.g. to draw a live curve). */
  onProgress?: (report: { step: number; steps: number; loss: number }) => void;
}

export interface FitLowRankResult {
  /** Learned lora_A [r, d_in]. */
  readonly A: Matrix;
  /** Learned lora_B [d_out, r]. */
  readonly B: Matrix;
  /** B·A [d_out, d_in], rank <= r by construction. */
  readonly BA: Matrix;
  /** Loss = mean over entries of (B·A − ΔW)², at the recorded steps. */
  readonly losses: { step: number; loss: number }[];
  /** ‖ΔW − B·A‖_F, in float64 from the learned factors. */
  readonly error: number;
  /** The Eckart–Young optimum for rank r: sqrt(Σ_{i>r} σᵢ(ΔW)²); no rank-r matrix gets below it. */
  readonly optimum: number;
  /** ‖B·A − ΔW_r‖_F, where ΔW_r is the truncated SVD: how far the learned product is from the optimum itself. */
  readonly distanceToOptimum: number;
}

/**
 * Learns B·A ≈ ΔW with Adam on the mean squared error. A starts like PEFT's lora_A (Kaiming-uniform,
 * U(−1/√d_in, 1/√d_in)), B at zero. Runs on the current TF.js backend; reads values back only with
 * `await data()`. Leaves no tensors behind.
 */
export async function fitLowRank(target: MatrixInput, r: number, options: FitLowRankOptions = {}): Promise<FitLowRankResult> {
  const dW = asMatrix(target, 'deltaW');
  const dOut = dW.rows, dIn = dW.columns;
  assertRank(r, Math.min(dOut, dIn), `min(d_out, d_in) for a ${dOut}×${dIn} ΔW`, 'r');
  const steps = options.steps ?? 1000;
  const lr = options.learningRate ?? 0.02;
  const logEvery = options.logEvery ?? 50;
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`steps must be a positive integer, got ${String(steps)}: use e.g. 1000`);
  if (!(lr > 0) || !Number.isFinite(lr)) throw new Error(`learningRate must be > 0, got ${String(lr)}: use e.g. 0.02`);
  if (!Number.isInteger(logEvery) || logEvery < 1) throw new Error(`logEvery must be a positive integer, got ${String(logEvery)}`);

  const rng = createRng(options.seed ?? 0);
  const bound = 1 / Math.sqrt(dIn);
  const A0 = Array.from({ length: r }, () => Array.from({ length: dIn }, () => (2 * rng.uniform() - 1) * bound));
  const A = variableFrom(tf.tensor2d(A0, [r, dIn])); // [r, d_in]
  const B = variableFrom(tf.zeros([dOut, r])); // [d_out, r]
  const T = matrixToTensor(dW); // [d_out, d_in]
  try {
    const losses = await minimize(
      tf.train.adam(lr),
      () => tf.mean(tf.square(tf.sub(tf.matMul(B, A), T))) as tf.Scalar, // B·A [d_out, d_in]
      [A, B],
      { steps, logEvery, onProgress: options.onProgress },
    );
    const Am = await tensorToMatrix(A, 'lora_A');
    const Bm = await tensorToMatrix(B, 'lora_B');
    const BA = Bm.mmul(Am);
    const f = svd(dW);
    return {
      A: Am,
      B: Bm,
      BA,
      losses,
      error: frobeniusError(dW, BA),
      optimum: truncationError(f.sigma, r).frobenius,
      distanceToOptimum: frobeniusError(reconstruct(f, r), BA),
    };
  } finally {
    A.dispose();
    B.dispose();
    T.dispose();
  }
}

/** A trainable variable holding `t`'s values; `t` itself is disposed (tf.variable keeps its own reference). */
function variableFrom(t: tf.Tensor): tf.Variable {
  const v = tf.variable(t, true);
  t.dispose();
  return v;
}
