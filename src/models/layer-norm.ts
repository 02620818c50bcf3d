// Layer normalisation over the last axis as a TF.js layer (Ba, Kiros & Hinton 2016):
// y = (x − mean) / sqrt(var + eps) · γ + β, with γ ("gamma", PyTorch `weight`) and β ("beta", `bias`) of size d.
// Written from plain ops because tf.layers.layerNormalization's gradient slices row by row (slow on wasm/cpu).
import * as tf from '@tensorflow/tfjs';

export interface LayerNormArgs {
  /** Width d of the last axis. */
  dim: number;
  /** Added to the variance before the square root. @default 1e-5 */
  epsilon?: number;
  name?: string;
  trainable?: boolean;
}

export class LayerNorm extends tf.layers.Layer {
  static className = 'LoraLabLayerNorm';
  readonly dim: number;
  readonly epsilon: number;
  private gamma: tf.LayerVariable | null = null;
  private beta: tf.LayerVariable | null = null;

  constructor(args: LayerNormArgs) {
    super({ name: args.name, trainable: args.trainable ?? true });
    if (!Number.isInteger(args.dim) || args.dim < 1) throw new Error(`LayerNorm dim must be a positive integer, got ${args.dim}`);
    this.dim = args.dim;
    this.epsilon = args.epsilon ?? 1e-5;
  }

  override build(): void {
    if (this.gamma !== null) return;
    this.gamma = this.addWeight('gamma', [this.dim], 'float32', tf.initializers.ones(), undefined, true);
    this.beta = this.addWeight('beta', [this.dim], 'float32', tf.initializers.zeros(), undefined, true);
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    return (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      if (this.gamma === null) this.build();
      const x = Array.isArray(inputs) ? inputs[0]! : inputs; // [..., d]
      if (x.shape[x.rank - 1] !== this.dim) {
        throw new Error(`LayerNorm expects last axis ${this.dim}, got input shape [${x.shape.join(', ')}]`);
      }
      const mean = x.mean(-1, true); // [..., 1]
      const xc = x.sub(mean); // [..., d]
      const variance = xc.square().mean(-1, true); // [..., 1] (biased, as PyTorch)
      const xhat = xc.mul(tf.rsqrt(variance.add(this.epsilon))); // [..., d]
      return xhat.mul(this.gamma!.read()).add(this.beta!.read()); // [..., d]
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), dim: this.dim, epsilon: this.epsilon };
  }
}
tf.serialization.registerClass(LayerNorm);
