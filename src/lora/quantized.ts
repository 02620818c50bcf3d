// LoRA over a quantised frozen base (QLoRA, Dettmers et al. 2023 §3, eq. 5; PEFT tuners/lora/bnb.py Linear4bit):
// y = act(x·Ŵᵀ + b + scaling·(dropout(x)·Aᵀ)·Bᵀ), Ŵ [out, in] dequantised on the fly; gradients reach A, B only.
// Merging would round ΔW into the 4/8-bit codes, so it is refused: apply the adapter to the full-precision model.
import * as tf from '@tensorflow/tfjs';
import { QuantizedDense } from '../quant/dense.js';
import { isQuantized } from '../quant/base.js';
import type { LoraConfig } from './config.js';
import { adapterOf, LoraLayerBase, type LoraAdapter } from './lora-layer.js';

export interface LoraQuantizedDenseArgs {
  /** A QuantizedDense (made by quantizeBase or quantizeDense). */
  base: tf.layers.Layer;
  /** @default 'lora_' + base.name */
  name?: string;
}

export class LoraQuantizedDense extends LoraLayerBase {
  static className = 'LoraLabLoraQuantizedDense';
  readonly kind = 'quantized' as const;
  protected readonly peftNames = { A: 'lora_A', B: 'lora_B', weightSuffix: '.weight' };

  constructor(args: LoraQuantizedDenseArgs) {
    if (!isQuantized(args.base)) {
      throw new Error(
        `LoraQuantizedDense wraps a QuantizedDense; '${args.base.name}' is a ${args.base.getClassName()}`,
      );
    }
    const q = args.base;
    super({ base: q, name: args.name ?? `lora_${q.name}`, inFeatures: q.inFeatures, outFeatures: q.outFeatures });
  }

  private get quantized(): QuantizedDense {
    return this.base as QuantizedDense;
  }

  /** A quantised Conv1D keeps PEFT's fan_in_fan_out. */
  override get fanInFanOut(): boolean {
    return this.quantized.sourceClassName === 'LoraLabConv1D';
  }

  /** Ŵ [out, in], dequantised: the weights the layer computes with. */
  baseWeight(): tf.Tensor2D {
    return this.quantized.dequantized();
  }

  protected checkConfig(c: LoraConfig): void {
    const what = `'${this.name}' (a ${this.quantized.weight.bits} QuantizedDense)`;
    if (c.use_dora) {
      throw new Error(
        `DoRA is not implemented on a quantised base ${what}: set use_dora = false (DoRA runs on a float base)`,
      );
    }
    if (c.init_lora_weights === 'pissa') {
      throw new Error(
        `PiSSA is not implemented on a quantised base ${what}: use init_lora_weights = true or 'gaussian'`,
      );
    }
    if (c.bias !== 'none') {
      throw new Error(`bias '${c.bias}' cannot train the bias of a quantised base ${what}: use bias = 'none'`);
    }
  }

  protected createAdapter(name: string, c: LoraConfig, seed: number): LoraAdapter {
    const branch = this.newBranch(name, c, seed, 'linear');
    return adapterOf(branch, null);
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0]! : inputs;
      const a = this.liveAdapter();
      if (a === undefined) return this.base.apply(x, kwargs) as tf.Tensor;
      const lead = x.shape.slice(0, -1);
      const x2 = x.reshape([-1, this.inFeatures]) as tf.Tensor2D; // [N, in]
      const z = this.quantized.preActivation(x2).add(a.branch.forward(x2, this.isTraining(kwargs))); // [N, out]
      return this.quantized.activate(z).reshape([...lead, this.outFeatures]);
    });
  }

  protected mergeInto(): tf.Tensor | null {
    throw new Error(
      `cannot merge into '${this.name}': its base is quantised (${this.quantized.weight.bits}) ` +
        'and ΔW would be rounded away; ' +
        'save the adapter and load it into the full-precision model (loadAdapter), then merge there',
    );
  }

  protected unmergeFrom(): void {
    // Nothing is ever merged here (mergeInto refuses).
  }

  /** A QuantizedDense cannot be rebuilt from a config (its codes are not weights): fromConfig fails there. */
  static buildBase(): void {}
}
tf.serialization.registerClass(LoraQuantizedDense);
