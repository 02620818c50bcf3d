// What LayerNorm and RMSNorm share as TF.js layers: a width d for the last axis, an epsilon, the input check and
// the config. Each subclass adds its weights (build) and its formula (call); see layer-norm.ts and rms-norm.ts.
import * as tf from '@tensorflow/tfjs';

export interface NormArgs {
  /** Width d of the last axis. */
  dim: number;
  /** Added inside the square root. @default 1e-5 (LayerNorm), 1e-6 (RmsNorm) */
  epsilon?: number;
  name?: string;
  trainable?: boolean;
}

export abstract class LastAxisNorm extends tf.layers.Layer {
  readonly dim: number;
  readonly epsilon: number;

  protected constructor(args: NormArgs, what: string, defaultEpsilon: number) {
    super({ name: args.name, trainable: args.trainable ?? true });
    if (!Number.isInteger(args.dim) || args.dim < 1) throw new Error(`${what} dim must be a positive integer, got ${args.dim}`);
    this.dim = args.dim;
    this.epsilon = args.epsilon ?? defaultEpsilon;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    return (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
  }

  /** The single input [..., d], or an error naming its shape. */
  protected lastAxisInput(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0]! : inputs;
    if (x.shape[x.rank - 1] !== this.dim) {
      throw new Error(`${this.getClassName().replace(/^LoraLab/, '')} expects last axis ${this.dim}, got input shape [${x.shape.join(', ')}]`);
    }
    return x;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), dim: this.dim, epsilon: this.epsilon };
  }
}
