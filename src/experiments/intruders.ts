// Intruder dimensions (Shuttleworth et al. 2024, "LoRA vs Full Fine-tuning: An Illusion of Equivalence", arXiv
// 2410.21228, Algorithm 1): for each of the top-k left singular vectors uⱼ′ of the fine-tuned W′ = W₀ + ΔW, the
// largest |cosine| to any left singular vector uᵢ of W₀; uⱼ′ is an intruder when that is below a threshold ε.
// W₀, W′: [d_out, d_in] (PyTorch orientation); singular vectors are unit columns, so a cosine is a dot product.
import { Matrix } from 'ml-matrix';
import { svd } from '../linalg/svd.js';
import { asMatrix, type MatrixInput } from '../linalg/validate.js';
import { randomGaussian, type SeedOrRng } from '../linalg/random.js';

export interface IntruderOptions {
  /** How many of W′'s top singular vectors to examine. @default 10 */
  k?: number;
  /** ε: a vector whose best |cosine| to W₀'s singular vectors is below this is an intruder. @default 0.5 */
  threshold?: number;
}

export interface IntruderAnalysis {
  /** For j = 1..k: max over i of |uⱼ′ · uᵢ|, W′'s j-th left singular vector against all of W₀'s. */
  maxCosine: number[];
  /** σⱼ of W′ for j = 1..k. */
  sigma: number[];
  /** How many maxCosine values are below the threshold. */
  intruders: number;
  k: number;
  threshold: number;
}

function checkOptions(o: IntruderOptions, limit: number): { k: number; threshold: number } {
  const k = o.k ?? 10;
  const threshold = o.threshold ?? 0.5;
  if (!Number.isInteger(k) || k < 1 || k > limit) {
    throw new Error(`k must be an integer in 1..${limit} (the number of singular vectors), got ${k}: use e.g. 10`);
  }
  if (!(threshold > 0 && threshold <= 1)) {
    throw new Error(`threshold must be in (0, 1], got ${threshold}: use e.g. 0.5`);
  }
  return { k, threshold };
}

/** max over the columns u of U of |u · x| for a unit vector x given as column `j` of X. */
function bestCosine(U: Matrix, X: Matrix, j: number): number {
  let best = 0;
  for (let i = 0; i < U.columns; i++) {
    let dot = 0;
    for (let t = 0; t < U.rows; t++) dot += U.get(t, i) * X.get(t, j);
    best = Math.max(best, Math.abs(dot));
  }
  return best;
}

// W₀'s left singular vectors by matrix object: a study compares many W′ with the same few W₀. A W₀ changed in place
// after its first use would be read stale, so pass a fresh matrix (denseWeights() gives fresh ones).
const bases = new WeakMap<Matrix, Matrix>();

function leftVectors(W0: Matrix): Matrix {
  let U = bases.get(W0);
  if (U === undefined) {
    U = svd(W0).U; // [d_out, min(d_out, d_in)]
    bases.set(W0, U);
  }
  return U;
}

/** Intruder dimensions of a fine-tuned weight W′ against its pretrained W₀ (same shape). */
export function intruderDimensions(
  W0: MatrixInput,
  Wtuned: MatrixInput,
  options: IntruderOptions = {},
): IntruderAnalysis {
  const a = asMatrix(W0, 'W0');
  const b = asMatrix(Wtuned, 'W′');
  if (a.rows !== b.rows || a.columns !== b.columns) {
    throw new Error(
      `W0 is ${a.rows}×${a.columns} but W′ is ${b.rows}×${b.columns}: give one layer's weight before and after tuning`,
    );
  }
  const { k, threshold } = checkOptions(options, Math.min(b.rows, b.columns));
  const U0 = W0 instanceof Matrix ? leftVectors(W0) : svd(a).U; // [d_out, min(d_out, d_in)]
  const f = svd(b);
  const maxCosine = Array.from({ length: k }, (_, j) => bestCosine(U0, f.U, j));
  return {
    maxCosine,
    sigma: Array.from(f.sigma.subarray(0, k)),
    intruders: maxCosine.filter((c) => c < threshold).length,
    k,
    threshold,
  };
}

/**
 * The chance level: the best |cosine| of `samples` random unit vectors (uniform on the sphere in ℝ^d_out) to W₀'s
 * left singular vectors. With d_out ≤ d_in those vectors are a full basis, so even a random direction has some
 * cosine with one of them (about √(2·ln d / d)); a threshold means something only well above this.
 */
export function chanceMaxCosine(W0: MatrixInput, samples = 200, seed: SeedOrRng = 0): number[] {
  const U0 = W0 instanceof Matrix ? leftVectors(W0) : svd(asMatrix(W0, 'W0')).U;
  if (!Number.isInteger(samples) || samples < 1) throw new Error(`samples must be a positive integer, got ${samples}`);
  const X = randomGaussian(U0.rows, samples, seed); // [d_out, samples]: Gaussian columns point uniformly
  for (let j = 0; j < samples; j++) {
    const col = X.getColumn(j);
    const n = Math.hypot(...col);
    X.setColumn(j, col.map((v) => v / n));
  }
  return Array.from({ length: samples }, (_, j) => bestCosine(U0, X, j));
}

/**
 * intruderDimensions() for every layer of `tuned` (W′ by path) against the same path of `base` (W₀ by path), in
 * `tuned`'s order. A path missing from `base` is an error naming the paths it has.
 */
export function intrudersByLayer(
  base: ReadonlyMap<string, Matrix>,
  tuned: ReadonlyMap<string, Matrix>,
  options: IntruderOptions = {},
): Map<string, IntruderAnalysis> {
  const out = new Map<string, IntruderAnalysis>();
  for (const [p, W] of tuned) {
    const W0 = base.get(p);
    if (W0 === undefined) throw new Error(`no base weight for '${p}'; base has: ${[...base.keys()].join(', ')}`);
    out.set(p, intruderDimensions(W0, W, options));
  }
  return out;
}
