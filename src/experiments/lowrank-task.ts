// A controlled experiment on why fine-tuning updates are low-rank (Hu et al. 2021, §4.1 and §7; Aghajanyan
// et al. 2020, "intrinsic dimensionality"): a "pretrained" linear layer W0 meets a new task that differs from
// it by a rank-k change plus label noise; FULL fine-tuning of W (every entry free) still learns a ΔW = W − W0
// whose energy sits in about k singular values. Orientation: PyTorch's, W [d_out, d_in], y = x·Wᵀ.
import * as tf from '@tensorflow/tfjs';
import { Matrix } from 'ml-matrix';
import { frobeniusNorm } from '../linalg/lowrank.js';
import { createRng, prescribedSpectrum, randomGaussian, type SeedOrRng } from '../linalg/random.js';
import { matrixToTensor, tensorToMatrix } from '../linalg/tensor.js';
import { asMatrix, assertPositiveInt, assertSpectrum, type MatrixInput } from '../linalg/validate.js';
import { minimize } from './minimize.js';

export interface LowRankTaskOptions {
  /** Output size d_out. @default 64 */
  dOut?: number;
  /** Input size d_in. @default 64 */
  dIn?: number;
  /** Singular values of the true update ΔW* (its rank is their count). @default [4, 3, 2.5, 2] */
  updateSigma?: number[];
  /** Training examples N. @default 256 */
  samples?: number;
  /** Standard deviation of the Gaussian noise added to every label entry. @default 0.3 */
  noise?: number;
  /** @default 0 */
  seed?: number;
}

/** Data for the experiment. W0, deltaW: [d_out, d_in]; X [N, d_in]; Y [N, d_out] = X·(W0 + ΔW*)ᵀ + noise. */
export interface LowRankTask {
  readonly W0: Matrix;
  readonly deltaW: Matrix;
  readonly X: Matrix;
  readonly Y: Matrix;
}

/**
 * W0 has N(0, 1/d_in) entries (a generic "pretrained" layer); ΔW* = U·diag(updateSigma)·Vᵀ with random
 * orthonormal U, V; inputs are N(0, 1). Everything is seeded, so the notebook's figures are reproducible.
 */
export function lowRankTask(options: LowRankTaskOptions = {}): LowRankTask {
  const dOut = options.dOut ?? 64;
  const dIn = options.dIn ?? 64;
  const sigma = options.updateSigma ?? [4, 3, 2.5, 2];
  const N = options.samples ?? 256;
  const noise = options.noise ?? 0.3;
  assertPositiveInt(dOut, 'dOut', 64);
  assertPositiveInt(dIn, 'dIn', 64);
  assertPositiveInt(N, 'samples', 256);
  assertSpectrum(sigma, 'updateSigma');
  if (!(noise >= 0) || !Number.isFinite(noise)) throw new Error(`noise must be finite and >= 0, got ${String(noise)}: use e.g. 0.3`);
  const rng = createRng(options.seed ?? 0);
  const W0 = randomGaussian(dOut, dIn, rng, 1 / Math.sqrt(dIn));
  const deltaW = prescribedSpectrum(dOut, dIn, sigma, rng).M;
  const X = randomGaussian(N, dIn, rng);
  const Y = X.mmul(Matrix.add(W0, deltaW).transpose()); // [N, d_out]
  for (let i = 0; i < N; i++) for (let j = 0; j < dOut; j++) Y.set(i, j, Y.get(i, j) + noise * rng.normal());
  return { W0, deltaW, X, Y };
}

export interface FullFineTuneOptions {
  /** Full-batch gradient-descent steps. @default 100 */
  steps?: number;
  /** Step size on the loss (1/N)·Σ‖y − W·x‖². Below 2/λ_max(2·XᵀX/N) (≈ 0.4 for N = 4·d_in) it converges. @default 0.2 */
  learningRate?: number;
  /** Record (and report) the loss every this many steps. @default 20 */
  logEvery?: number;
  onProgress?: (report: { step: number; steps: number; loss: number }) => void;
}

/**
 * Fine-tunes EVERY entry of W from W0 by plain full-batch gradient descent on (1/N)·Σ‖y − W·x‖²
 * (no rank constraint anywhere) and returns W and ΔW = W − W0. Plain gradient descent, not Adam, so that
 * nothing but the data shapes the update. No tensors are left behind.
 */
export async function fullFineTune(
  W0: MatrixInput,
  X: MatrixInput,
  Y: MatrixInput,
  options: FullFineTuneOptions = {},
): Promise<{ W: Matrix; deltaW: Matrix; losses: { step: number; loss: number }[] }> {
  const w0 = asMatrix(W0, 'W0'), x = asMatrix(X, 'X'), y = asMatrix(Y, 'Y');
  if (x.columns !== w0.columns || y.columns !== w0.rows || x.rows !== y.rows) {
    throw new Error(
      `shapes do not fit y = x·Wᵀ: W0 is ${w0.rows}×${w0.columns} [d_out, d_in], X ${x.rows}×${x.columns} [N, d_in], ` +
        `Y ${y.rows}×${y.columns} [N, d_out]`,
    );
  }
  const steps = options.steps ?? 100;
  const lr = options.learningRate ?? 0.2;
  const logEvery = options.logEvery ?? 20;
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`steps must be a positive integer, got ${String(steps)}: use e.g. 100`);
  if (!(lr > 0) || !Number.isFinite(lr)) throw new Error(`learningRate must be > 0, got ${String(lr)}: use e.g. 0.2`);
  const init = matrixToTensor(w0);
  const W = tf.variable(init, true); // [d_out, d_in]
  init.dispose();
  const Xt = matrixToTensor(x); // [N, d_in]
  const Yt = matrixToTensor(y); // [N, d_out]
  const N = x.rows;
  try {
    const losses = await minimize(
      tf.train.sgd(lr),
      () => tf.div(tf.sum(tf.square(tf.sub(tf.matMul(Xt, W, false, true), Yt))), N) as tf.Scalar, // x·Wᵀ [N, d_out]
      [W],
      { steps, logEvery, onProgress: options.onProgress },
    );
    const Wm = await tensorToMatrix(W, 'W');
    return { W: Wm, deltaW: Matrix.sub(Wm, w0), losses };
  } finally {
    W.dispose();
    Xt.dispose();
    Yt.dispose();
  }
}

/** A Gaussian matrix of M's shape scaled to M's Frobenius norm: the "no structure" baseline for a spectrum. */
export function matchedGaussian(input: MatrixInput, seed: SeedOrRng = 0): Matrix {
  const M = asMatrix(input);
  const G = randomGaussian(M.rows, M.columns, seed);
  const scale = frobeniusNorm(M) / frobeniusNorm(G);
  return G.mul(scale); // G is ours, so scaling in place is fine
}
