// What an adapted linear layer makes of its inputs, said in the frozen layer's own input coordinates: for W₀ and
// W′ = W₀ + ΔW (both [d_out, d_in], PyTorch orientation, y = x·Wᵀ) the inputs z that W₀ would need to see to give
// W′'s outputs, z = argmin ‖W₀·z − W′·x‖ = W₀⁺·W′·x (least squares; z = x when ΔW = 0). When ΔW = W₀·(R − I)
// undoes a change of camera R, z is the input before that change: a picture of what LoRA corrected.
import { Matrix, QrDecomposition } from 'ml-matrix';
import { singularValues } from '../linalg/svd.js';
import { asMatrix, type MatrixInput } from '../linalg/validate.js';

/** Z [N, d_in] with rows z_n = W₀⁺·W·x_n, for W₀, W [d_out, d_in] and X [N, d_in]; W₀ needs full column rank. */
export function inputsSeenBy(W0: MatrixInput, W: MatrixInput, X: MatrixInput): Matrix {
  const [B, A, x] = [asMatrix(W0, 'W0'), asMatrix(W, 'W'), asMatrix(X, 'X')];
  if (A.rows !== B.rows || A.columns !== B.columns) {
    throw new Error(`W is ${A.rows}×${A.columns} but W0 is ${B.rows}×${B.columns}: give two weights of one layer`);
  }
  if (x.columns !== B.columns) {
    throw new Error(`X has ${x.columns} columns but W0 takes d_in = ${B.columns} inputs: give X as [N, ${B.columns}]`);
  }
  if (B.rows < B.columns) {
    throw new Error(
      `W0 is ${B.rows}×${B.columns}: with d_out < d_in many inputs give the same output, so there is no one z to show`,
    );
  }
  const sigma = singularValues(B);
  if (!(sigma[sigma.length - 1]! > 1e-10 * sigma[0]!)) {
    throw new Error(`W0 (${B.rows}×${B.columns}) has rank < d_in = ${B.columns}: some inputs are invisible to it`);
  }
  return new QrDecomposition(B).solve(A.mmul(x.transpose())).transpose(); // [d_in, N] → [N, d_in]: least squares through W0's QR
}
