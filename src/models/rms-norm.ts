// Root-mean-square layer normalisation (Zhang & Sennrich 2019), as Llama uses it (transformers LlamaRMSNorm):
// y = x / sqrt(mean(x²) + eps) · γ over the last axis, γ ("gamma" here, `weight` in a checkpoint) of size d.
// No centring and no bias, unlike LayerNorm.
import * as tf from '@tensorflow/tfjs';
import { LastAxisNorm, type NormArgs } from './norm.js';

export type RmsNormArgs = NormArgs;

export class RmsNorm extends LastAxisNorm {
  static className = 'LoraLabRmsNorm';
  private gamma: tf.LayerVariable | null = null;

  constructor(args: RmsNormArgs) {
    super(args, 'RmsNorm', 1e-6);
  }

  override build(): void {
    if (this.gamma !== null) return;
    this.gamma = this.addWeight('gamma', [this.dim], 'float32', tf.initializers.ones(), undefined, true);
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      if (this.gamma === null) this.build();
      const x = this.lastAxisInput(inputs); // [..., d]
      const ms = x.square().mean(-1, true); // [..., 1]
      return x.mul(tf.rsqrt(ms.add(this.epsilon))).mul(this.gamma!.read()); // [..., d]
    });
  }
}
tf.serialization.registerClass(RmsNorm);
