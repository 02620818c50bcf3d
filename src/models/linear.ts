// The linear layer kinds lora-lab builds on, read one way: tf.layers.dense and Conv1D (GPT-2's), both y = act(x·K + b)
// with the kernel K [in, out] (TF.js orientation; PyTorch's W = Kᵀ is [out, in]). Also the forward pass that lets a
// frozen kernel cost nothing in backprop: TF.js's fused matMul computes every input's gradient, the kernel's too.
import * as tf from '@tensorflow/tfjs';

/** Class names of the linear kinds (by name, not `instanceof`: a user's tf.layers may be another module copy). */
export const LINEAR_CLASS_NAMES: readonly string[] = ['Dense', 'LoraLabConv1D'];

/** What lora-lab reads from a built linear layer. */
export interface LinearParts {
  readonly kernel: tf.LayerVariable; // [in, out]
  readonly bias: tf.LayerVariable | null; // [out]
  /** The activation after the bias (Dense's; Conv1D has none); null or 'linear' means none. */
  readonly activation: { apply(x: tf.Tensor): tf.Tensor; getClassName(): string } | null;
  readonly inFeatures: number;
  readonly outFeatures: number;
}

/** True for a Dense or Conv1D layer. */
export function isLinearKind(layer: tf.layers.Layer): boolean {
  return LINEAR_CLASS_NAMES.includes(layer.getClassName());
}

/** Kernel, bias and activation of a built Dense or Conv1D (Dense keeps them private in the typings only). */
export function linearParts(layer: tf.layers.Layer): LinearParts {
  if (!isLinearKind(layer)) {
    throw new Error(
      `'${layer.name}' is a ${layer.getClassName()}, not a linear layer (${LINEAR_CLASS_NAMES.join(', ')})`,
    );
  }
  const l = layer as unknown as Partial<Omit<LinearParts, 'inFeatures' | 'outFeatures'>>;
  if (!layer.built || l.kernel == null) {
    throw new Error(
      `${layer.getClassName()} layer '${layer.name}' is not built yet: call it once (e.g. on a zeros input) first`,
    );
  }
  const [inFeatures, outFeatures] = l.kernel.shape as [number, number];
  return { kernel: l.kernel, bias: l.bias ?? null, activation: l.activation ?? null, inFeatures, outFeatures };
}

/** Whether an activation object does something (Dense's 'linear' is an object that does nothing). */
export function hasActivation(a: LinearParts['activation']): a is NonNullable<LinearParts['activation']> {
  return a != null && a.getClassName() !== 'linear';
}

/** True while gradients are being recorded (tf.grad, variableGrads, model.fit's optimizer step). */
export function recordingGradients(): boolean {
  return tf.engine().state.gradientDepth > 0;
}

/**
 * x·K + b for x [N, in], K [in, out]. While gradients are recorded it uses the unfused ops, whose tape computes
 * a gradient only for what is being trained (a frozen K costs no [in, out] product); otherwise the fused kernel.
 */
export function linearForward(x: tf.Tensor2D, kernel: tf.Tensor2D, bias: tf.Tensor | null): tf.Tensor2D {
  if (!recordingGradients()) return tf.fused.matMul({ a: x, b: kernel, bias: bias ?? undefined }) as tf.Tensor2D;
  const y = tf.matMul(x, kernel); // [N, out]
  return (bias === null ? y : tf.add(y, bias)) as tf.Tensor2D;
}

type CallFn = (inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>) => tf.Tensor | tf.Tensor[];

/**
 * Makes a built tf.layers.dense backpropagate like PyTorch: no gradient work for a kernel or bias that is not
 * trained (TF.js's Dense uses the fused matMul, whose gradient computes them anyway). Outputs do not change.
 * Undo with `restoreDenseCall`.
 */
export function useUnfusedGradients(layer: tf.layers.Layer): void {
  if (layer.getClassName() !== 'Dense' || Object.prototype.hasOwnProperty.call(layer, 'call')) return;
  const original = (layer as unknown as { call: CallFn }).call.bind(layer);
  const call: CallFn = (inputs, kwargs) => {
    if (!recordingGradients()) return original(inputs, kwargs);
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0]! : inputs;
      const p = linearParts(layer);
      const lead = x.shape.slice(0, -1);
      const z = linearForward(x.reshape([-1, p.inFeatures]), p.kernel.read() as tf.Tensor2D, p.bias?.read() ?? null);
      const y = hasActivation(p.activation) ? p.activation.apply(z) : z; // [N, out]
      return y.reshape([...lead, p.outFeatures]);
    });
  };
  Object.defineProperty(layer, 'call', { value: call, configurable: true, writable: true });
}

/** Removes what `useUnfusedGradients` installed. */
export function restoreDenseCall(layer: tf.layers.Layer): void {
  if (Object.prototype.hasOwnProperty.call(layer, 'call')) delete (layer as unknown as { call?: CallFn }).call;
}
