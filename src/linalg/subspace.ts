// Subspace similarity between two matrices' top singular directions, as in the LoRA paper
// (Hu et al. 2021, §7.2, Eq. 4): φ(A₁, A₂, i, j) = ‖U_{A₁}^{(i)ᵀ}·U_{A₂}^{(j)}‖²_F / min(i, j) ∈ [0, 1],
// where U^{(i)} holds the top-i singular vectors. 1: one subspace contains the other; 0: orthogonal.
// For uniformly random subspaces of ℝ^d, E[‖U₁ᵀ·U₂‖²_F] = i·j/d, so E[φ] = max(i, j)/d: the chance level.
import { Matrix } from 'ml-matrix';
import { svd } from './svd.js';
import { createRng, randomGaussian } from './random.js';
import { asMatrix, assertPositiveInt, assertRank, type MatrixInput } from './validate.js';

export interface SubspaceOptions {
  /**
   * Which singular vectors span the compared subspaces. 'right' (the paper's choice for lora_A, which is
   * [r, d_in] in PEFT's orientation): the top right-singular vectors, in R^{columns}. 'left' (for lora_B,
   * [d_out, r]): the top left-singular vectors, in R^{rows}. Both matrices must share that dimension.
   * @default 'right'
   */
  side?: 'left' | 'right';
}

/** φ(A₁, A₂, i, j): how much of the top-i directions of A₁ lies in the top-j directions of A₂. */
export function subspaceSimilarity(
  A1: MatrixInput,
  A2: MatrixInput,
  i: number,
  j: number,
  options: SubspaceOptions = {},
): number {
  const [B1, B2] = bases(A1, A2, options.side ?? 'right');
  assertRank(i, B1.columns, `A1 has ${B1.columns} singular vectors`, 'i');
  assertRank(j, B2.columns, `A2 has ${B2.columns} singular vectors`, 'j');
  let s = 0;
  for (let a = 0; a < i; a++) {
    for (let b = 0; b < j; b++) {
      let g = 0;
      for (let t = 0; t < B1.rows; t++) g += B1.get(t, a) * B2.get(t, b);
      s += g * g;
    }
  }
  return clamp01(s / Math.min(i, j));
}

export interface SubspaceGridOptions extends SubspaceOptions {
  /** Largest i in the table. @default all singular vectors of A1 */
  maxI?: number;
  /** Largest j in the table. @default all singular vectors of A2 */
  maxJ?: number;
}

/**
 * The whole table φ(A₁, A₂, i, j) for i = 1..maxI, j = 1..maxJ (a heatmap like the paper's Fig. 3):
 * `phi[i - 1][j - 1]`, and the same numbers as `cells` rows {i, j, phi} ready for a chart.
 * One SVD per matrix and a prefix sum over G = U₁ᵀ·U₂, so the grid costs little more than one φ.
 */
export function subspaceSimilarityGrid(
  A1: MatrixInput,
  A2: MatrixInput,
  options: SubspaceGridOptions = {},
): { phi: number[][]; cells: { i: number; j: number; phi: number }[] } {
  const [B1, B2] = bases(A1, A2, options.side ?? 'right');
  const maxI = options.maxI ?? B1.columns;
  const maxJ = options.maxJ ?? B2.columns;
  assertRank(maxI, B1.columns, `A1 has ${B1.columns} singular vectors`, 'maxI');
  assertRank(maxJ, B2.columns, `A2 has ${B2.columns} singular vectors`, 'maxJ');
  const G = B1.subMatrix(0, B1.rows - 1, 0, maxI - 1).transpose().mmul(B2.subMatrix(0, B2.rows - 1, 0, maxJ - 1)); // [maxI, maxJ]
  // P[a][b] = Σ_{a' < a, b' < b} G²: the squared Frobenius norm of the top-left a×b block.
  const P: number[][] = Array.from({ length: maxI + 1 }, () => new Array<number>(maxJ + 1).fill(0));
  for (let a = 1; a <= maxI; a++) {
    for (let b = 1; b <= maxJ; b++) {
      P[a][b] = G.get(a - 1, b - 1) ** 2 + P[a - 1][b] + P[a][b - 1] - P[a - 1][b - 1];
    }
  }
  const phi: number[][] = [];
  const cells: { i: number; j: number; phi: number }[] = [];
  for (let i = 1; i <= maxI; i++) {
    const row: number[] = [];
    for (let j = 1; j <= maxJ; j++) {
      const v = clamp01(P[i][j] / Math.min(i, j));
      row.push(v);
      cells.push({ i, j, phi: v });
    }
    phi.push(row);
  }
  return { phi, cells };
}

export interface RandomBaselineOptions {
  /** Random pairs drawn. @default 20 */
  pairs?: number;
  /** Seed of the first pair (the rest follow from it). @default 0 */
  seed?: number;
  /** Largest i and j in the grids. @default r1 and r2 */
  maxI?: number;
  maxJ?: number;
}

/** φ of random subspaces, cell by cell: the chance level max(i, j)/d and what `pairs` random draws gave. */
export interface RandomBaseline {
  /** max(i, j)/d at [i − 1][j − 1]. */
  expected: number[][];
  /** Mean, sample standard deviation, smallest and largest φ over the pairs at [i − 1][j − 1]. */
  mean: number[][];
  std: number[][];
  min: number[][];
  max: number[][];
  pairs: number;
}

/**
 * The random baseline for φ(A₁, A₂, i, j) with A₁ [r1, d] and A₂ [r2, d] (lora_A of ranks r1 and r2): Gaussian
 * matrices of those shapes, whose right singular vectors span uniformly random nested subspaces. Read a learned
 * φ against `max` (beyond the spread of chance), not only against `expected`.
 */
export function randomSubspaceBaseline(d: number, r1: number, r2: number, options: RandomBaselineOptions = {}): RandomBaseline {
  assertPositiveInt(d, 'd', 128);
  assertRank(r1, d, `lora_A's rows cannot outnumber d = ${d}`, 'r1');
  assertRank(r2, d, `lora_A's rows cannot outnumber d = ${d}`, 'r2');
  const pairs = options.pairs ?? 20;
  assertPositiveInt(pairs, 'pairs', 20);
  const maxI = options.maxI ?? r1;
  const maxJ = options.maxJ ?? r2;
  assertRank(maxI, r1, `A1 has ${r1} singular vectors`, 'maxI');
  assertRank(maxJ, r2, `A2 has ${r2} singular vectors`, 'maxJ');
  const rng = createRng(options.seed ?? 0);
  const grids: number[][][] = [];
  for (let p = 0; p < pairs; p++) {
    grids.push(subspaceSimilarityGrid(randomGaussian(r1, d, rng), randomGaussian(r2, d, rng), { maxI, maxJ }).phi);
  }
  const cellwise = (f: (values: number[]) => number) =>
    Array.from({ length: maxI }, (_, i) => Array.from({ length: maxJ }, (_, j) => f(grids.map((g) => g[i]![j]!))));
  const avg = (v: number[]) => v.reduce((a, x) => a + x, 0) / v.length;
  return {
    expected: cellwise(() => 0).map((row, i) => row.map((_, j) => Math.max(i + 1, j + 1) / d)),
    mean: cellwise(avg),
    std: cellwise((v) => (v.length < 2 ? 0 : Math.sqrt(v.reduce((a, x) => a + (x - avg(v)) ** 2, 0) / (v.length - 1)))),
    min: cellwise((v) => Math.min(...v)),
    max: cellwise((v) => Math.max(...v)),
    pairs,
  };
}

/** Orthonormal singular-vector bases of both matrices on the chosen side, checked to live in one space. */
function bases(A1: MatrixInput, A2: MatrixInput, side: 'left' | 'right'): [Matrix, Matrix] {
  if (side !== 'left' && side !== 'right') {
    throw new Error(`side must be 'left' or 'right', got '${String(side)}'`);
  }
  const M1 = asMatrix(A1, 'A1');
  const M2 = asMatrix(A2, 'A2');
  const d1 = side === 'right' ? M1.columns : M1.rows;
  const d2 = side === 'right' ? M2.columns : M2.rows;
  if (d1 !== d2) {
    const what = side === 'right' ? 'columns' : 'rows';
    throw new Error(
      `A1 is ${M1.rows}×${M1.columns} and A2 is ${M2.rows}×${M2.columns}: with side '${side}' they need the ` +
        `same number of ${what} (${d1} vs ${d2}); lora_A matrices are [r, d_in] (side 'right'), ` +
        `lora_B matrices [d_out, r] (side 'left')`,
    );
  }
  const f1 = svd(M1), f2 = svd(M2);
  return side === 'right' ? [f1.V, f2.V] : [f1.U, f2.U];
}

// Rounding can push a sum of squared cosines a few ulps past 1.
function clamp01(x: number): number {
  return Math.min(1, Math.max(0, x));
}
