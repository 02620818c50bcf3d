// The small full-batch loop the linear-algebra experiments share: `steps` updates of a TF.js optimizer (Adam for
// fitting B·A, plain SGD for the full fine-tune, so nothing but the data shapes its update), recording the loss at
// step 1, every `logEvery` steps and the last. Reads losses with `await data()` only.
import * as tf from '@tensorflow/tfjs';

export interface MinimizeOptions {
  steps: number;
  logEvery: number;
  onProgress?: (report: { step: number; steps: number; loss: number }) => void;
}

/** Runs the loop and disposes the optimizer; the variables keep the result. */
export async function minimize(
  optimizer: tf.Optimizer,
  loss: () => tf.Scalar,
  vars: tf.Variable[],
  o: MinimizeOptions,
): Promise<{ step: number; loss: number }[]> {
  const losses: { step: number; loss: number }[] = [];
  try {
    for (let step = 1; step <= o.steps; step++) {
      const record = step === 1 || step === o.steps || step % o.logEvery === 0;
      const value = optimizer.minimize(loss, record, vars);
      if (value) {
        const v = (await value.data())[0]!;
        value.dispose();
        losses.push({ step, loss: v });
        o.onProgress?.({ step, steps: o.steps, loss: v });
      }
    }
  } finally {
    optimizer.dispose();
  }
  return losses;
}
