// Layer normalisation over the last axis as a TF.js layer (Ba, Kiros & Hinton 2016):
// y = (x − mean) / sqrt(var + eps) · γ + β, with γ ("gamma", PyTorch `weight`) and β ("beta", `bias`) of size d.
// Written from plain ops because tf.layers.layerNormalization's gradient slices row by row (slow on wasm/cpu).
import * as tf from '@tensorflow/tfjs';
import { LastAxisNorm, type NormArgs } from './norm.js';

export type LayerNormArgs = NormArgs;

export class LayerNorm extends LastAxisNorm {
  static className = 'LoraLabLayerNorm';
  private gamma: tf.LayerVariable | null = null;
  private beta: tf.LayerVariable | null = null;

  constructor(args: LayerNormArgs) {
    super(args, 'LayerNorm', 1e-5);
  }

  override build(): void {
    if (this.gamma !== null) return;
    this.gamma = this.addWeight('gamma', [this.dim], 'float32', tf.initializers.ones(), undefined, true);
    this.beta = this.addWeight('beta', [this.dim], 'float32', tf.initializers.zeros(), undefined, true);
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      if (this.gamma === null) this.build();
      const x = this.lastAxisInput(inputs); // [..., d]
      const mean = x.mean(-1, true); // [..., 1]
      const xc = x.sub(mean); // [..., d]
      const variance = xc.square().mean(-1, true); // [..., 1] (biased, as PyTorch)
      const xhat = xc.mul(tf.rsqrt(variance.add(this.epsilon))); // [..., d]
      return xhat.mul(this.gamma!.read()).add(this.beta!.read()); // [..., d]
    });
  }
}
tf.serialization.registerClass(LayerNorm);
