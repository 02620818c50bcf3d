// Whether a representation puts examples where a reference put their class: each class c gets the mean μ_c of
// its reference rows, and a row x "sits with" class argmin_c ‖x − μ_c‖ (Euclidean): the nearest-class-mean rule.
// Used to say that a model's features of new inputs land among the features the model had for the old ones.
import { Matrix } from 'ml-matrix';
import { asMatrix, type MatrixInput } from '../linalg/validate.js';

/** Mean row of each class [C, d]; labels are 0..C−1, one per row of X. Every class needs a row. */
export function classMeans(X: MatrixInput, labels: ArrayLike<number>, numClasses: number): Matrix {
  const M = asMatrix(X, 'X');
  checkLabels(labels, M.rows, numClasses, 'X');
  const sums = new Matrix(numClasses, M.columns);
  const counts = new Array<number>(numClasses).fill(0);
  for (let i = 0; i < M.rows; i++) {
    const c = labels[i]!;
    counts[c]!++;
    for (let j = 0; j < M.columns; j++) sums.set(c, j, sums.get(c, j) + M.get(i, j));
  }
  const empty = counts.findIndex((n) => n === 0);
  if (empty >= 0) throw new Error(`class ${empty} has no row among the ${M.rows} given: give examples of every class`);
  for (let c = 0; c < numClasses; c++) for (let j = 0; j < M.columns; j++) sums.set(c, j, sums.get(c, j) / counts[c]!);
  return sums;
}

/** Share of rows of X whose nearest class mean (of `means` [C, d]) is their own label. */
export function nearestMeanShare(means: MatrixInput, X: MatrixInput, labels: ArrayLike<number>): number {
  const mu = asMatrix(means, 'means');
  const M = asMatrix(X, 'X');
  if (M.columns !== mu.columns) {
    throw new Error(`X has ${M.columns} columns but the class means have ${mu.columns}: give the same features`);
  }
  checkLabels(labels, M.rows, mu.rows, 'X');
  let agree = 0;
  for (let i = 0; i < M.rows; i++) {
    let best = -1;
    let bestDist = Infinity;
    for (let c = 0; c < mu.rows; c++) {
      let d = 0;
      for (let j = 0; j < M.columns; j++) d += (M.get(i, j) - mu.get(c, j)) ** 2;
      if (d < bestDist) [best, bestDist] = [c, d];
    }
    if (best === labels[i]) agree++;
  }
  return agree / M.rows;
}

function checkLabels(labels: ArrayLike<number>, rows: number, numClasses: number, name: string): void {
  if (labels.length !== rows) throw new Error(`${labels.length} labels for the ${rows} rows of ${name}: give one per row`);
  for (let i = 0; i < labels.length; i++) {
    const c = labels[i]!;
    if (!Number.isInteger(c) || c < 0 || c >= numClasses) {
      throw new Error(`label ${i} is ${c}; labels must be integers 0..${numClasses - 1}`);
    }
  }
}
