// Root-mean-square layer normalisation (Zhang & Sennrich 2019), as Llama uses it (transformers LlamaRMSNorm):
// y = x / sqrt(mean(x²) + eps) · γ over the last axis, γ ("gamma" here, `weight` in a checkpoint) of size d.
// No centring and no bias, unlike LayerNorm.
import * as tf from '@tensorflow/tfjs';

export interface RmsNormArgs {
  /** Width d of the last axis. */
  dim: number;
  /** Added to mean(x²) before the square root (Llama: rms_norm_eps). @default 1e-6 */
  epsilon?: number;
  name?: string;
  trainable?: boolean;
}

export class RmsNorm extends tf.layers.Layer {
  static className = 'LoraLabRmsNorm';
  readonly dim: number;
  readonly epsilon: number;
  private gamma: tf.LayerVariable | null = null;

  constructor(args: RmsNormArgs) {
    super({ name: args.name, trainable: args.trainable ?? true });
    if (!Number.isInteger(args.dim) || args.dim < 1) throw new Error(`RmsNorm dim must be a positive integer, got ${args.dim}`);
    this.dim = args.dim;
    this.epsilon = args.epsilon ?? 1e-6;
  }

  override build(): void {
    if (this.gamma !== null) return;
    this.gamma = this.addWeight('gamma', [this.dim], 'float32', tf.initializers.ones(), undefined, true);
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
        throw new Error(`RmsNorm expects last axis ${this.dim}, got input shape [${x.shape.join(', ')}]`);
      }
      const ms = x.square().mean(-1, true); // [..., 1]
      return x.mul(tf.rsqrt(ms.add(this.epsilon))).mul(this.gamma!.read()); // [..., d]
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), dim: this.dim, epsilon: this.epsilon };
  }
}
tf.serialization.registerClass(RmsNorm);
