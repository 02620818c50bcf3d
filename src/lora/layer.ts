// LoraDense: a frozen linear layer plus LoRA adapters (Hu et al. 2021, eq. 3; PEFT tuners/lora/layer.py Linear), for
// both linear kinds: tf.layers.dense and GPT-2's Conv1D (PEFT's fan_in_fan_out = true; same math, W stored [in, out]).
// PEFT orientation for LoRA: W [out, in], lora_A [r, in], lora_B [out, r], ΔW = scaling·B·A [out, in]. The TF.js
// kernel K = Wᵀ is [in, out], so y = act(x·K + b + scaling·(dropout(x)·Aᵀ)·Bᵀ) and a merge adds ΔWᵀ to K.
// DoRA (Liu et al. 2024, eq. 5, §4.3): y = act((m / ‖W + ΔW‖_row) ⊙ ((W + ΔW)·x) + b), the norm detached.
import * as tf from '@tensorflow/tfjs';
import { hasActivation, linearForward, linearParts, recordingGradients, type LinearParts } from '../models/linear.js';
import type { LoraConfig } from './config.js';
import { pissaWeights } from './init.js';
import { adapterOf, LoraLayerBase, type LoraAdapter, type LoraLayerKind } from './lora-layer.js';

type LayerVariable = tf.LayerVariable;

/** Stops gradients (TF.js has no stopGradient): identity forward, zero backward. DoRA detaches ‖W + ΔW‖. */
const detach = tf.customGrad((...args: unknown[]) => {
  const x = args[0] as tf.Tensor;
  return { value: x.clone(), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) };
});

export interface LoraDenseArgs {
  /** A built tf.layers.dense or Conv1D; its kernel and bias are frozen and shared (not copied). */
  base: tf.layers.Layer;
  /** Layer name. @default 'lora_' + base.name */
  name?: string;
}

export class LoraDense extends LoraLayerBase {
  static className = 'LoraLabLoraDense';
  readonly kind: LoraLayerKind;
  protected readonly peftNames = { A: 'lora_A', B: 'lora_B', weightSuffix: '.weight' };

  constructor(args: LoraDenseArgs) {
    const p = linearParts(args.base); // throws for other kinds and for a layer not built yet
    const name = args.name ?? `lora_${args.base.name}`;
    super({ base: args.base, name, inFeatures: p.inFeatures, outFeatures: p.outFeatures });
    this.kind = args.base.getClassName() === 'LoraLabConv1D' ? 'conv1d' : 'dense';
  }

  /** Conv1D keeps W as [in, out] in PyTorch: PEFT's fan_in_fan_out. */
  override get fanInFanOut(): boolean {
    return this.kind === 'conv1d';
  }

  private get parts(): LinearParts {
    return linearParts(this.base);
  }

  override baseBias(): LayerVariable | null {
    return this.parts.bias;
  }

  /** W = Kᵀ [out, in]. */
  baseWeight(): tf.Tensor2D {
    return tf.tidy(() => this.parts.kernel.read().transpose() as tf.Tensor2D);
  }

  protected checkConfig(c: LoraConfig): void {
    const m = Math.min(this.inFeatures, this.outFeatures);
    if (c.init_lora_weights === 'pissa' && c.r > m) {
      throw new Error(`PiSSA needs r <= min(in, out) = ${m} at '${this.name}', got r = ${c.r}: lower r`);
    }
  }

  protected createAdapter(name: string, c: LoraConfig, seed: number): LoraAdapter {
    const { kernel } = this.parts;
    let init: { lora_A: tf.Tensor2D; lora_B: tf.Tensor2D } | undefined;
    if (c.init_lora_weights === 'pissa' && !this.restoring) {
      const pissa = pissaWeights(kernel.read() as tf.Tensor2D, c);
      kernel.write(pissa.residualKernel); // the base keeps W − scaling·B·A
      pissa.residualKernel.dispose();
      init = pissa;
    }
    const branch = this.newBranch(name, c, seed, 'linear', init);
    if (init) tf.dispose([init.lora_A, init.lora_B]);
    let magnitude: LayerVariable | null = null;
    if (c.use_dora) {
      // m starts at ‖W + ΔW‖ per output row, so the layer still equals its base at step 0.
      const m = tf.tidy(() => this.rowNorm(kernel.read(), branch.deltaKernel()));
      magnitude = new tf.LayerVariable(m, 'float32', `${this.name}/lora_magnitude_vector/${name}`, true);
      m.dispose();
    }
    return adapterOf(branch, magnitude);
  }

  /** ‖W + ΔW‖ per output row = column norms of K + ΔWᵀ [in, out] → [out]. */
  private rowNorm(K: tf.Tensor, deltaK: tf.Tensor): tf.Tensor1D {
    return tf.tidy(() => tf.sqrt(tf.sum(tf.square(K.add(deltaK)), 0)) as tf.Tensor1D);
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0]! : inputs;
      const a = this.liveAdapter();
      // Merged, disabled or no adapter here, outside backprop: exactly the base layer's own call.
      if (a === undefined && !recordingGradients()) return this.base.apply(x, kwargs) as tf.Tensor;
      const { kernel, bias, activation } = this.parts;
      const lead = x.shape.slice(0, -1);
      const x2 = x.reshape([-1, this.inFeatures]) as tf.Tensor2D; // [N, in]
      const K = kernel.read() as tf.Tensor2D; // [in, out], frozen: backprop computes no gradient for it
      const b = bias?.read() ?? null;
      let z: tf.Tensor; // pre-activation [N, out]
      if (a === undefined) {
        z = linearForward(x2, K, b);
      } else if (a.lora_magnitude_vector === null) {
        z = linearForward(x2, K, b).add(a.branch.forward(x2, this.isTraining(kwargs))); // + s·(x_d·Aᵀ)·Bᵀ
      } else {
        // PEFT's form of DoRA: base(x) + (m/‖·‖ − 1)·(x_d·K) + (m/‖·‖)·lora(x_d); with no dropout this is
        // (m/‖W+ΔW‖)·((W+ΔW)·x) + b.
        const xd = a.branch.dropout(x2, this.isTraining(kwargs)); // [N, in]
        const norm = detach(this.rowNorm(K, a.branch.deltaKernel())) as tf.Tensor1D; // [out]
        const scale = a.lora_magnitude_vector.read().div(norm); // [out]
        const xK = tf.matMul(x2, K); // [N, out]
        const xdK = xd === x2 ? xK : tf.matMul(xd, K); // [N, out]
        z = xK.add(scale.sub(1).mul(xdK)).add(scale.mul(a.branch.forward(xd, false)));
        if (b) z = z.add(b);
      }
      const y = hasActivation(activation) ? activation.apply(z) : z; // [N, out]
      return y.reshape([...lead, this.outFeatures]);
    });
  }

  /** K ← K + ΔWᵀ (DoRA: K ← (m/‖W+ΔW‖)·(K + ΔWᵀ), the scale kept for unmerge). */
  protected mergeInto(a: LoraAdapter): tf.Tensor | null {
    const { kernel } = this.parts;
    const m = a.lora_magnitude_vector;
    let scale: tf.Tensor | null = null;
    tf.tidy(() => {
      const K = kernel.read();
      const dK = a.branch.deltaKernel(); // [in, out]
      if (m === null) {
        kernel.write(K.add(dK));
      } else {
        scale = tf.keep(m.read().div(this.rowNorm(K, dK))); // [out]
        kernel.write(K.add(dK).mul(scale)); // scales column o of K (= row o of W)
      }
    });
    return scale;
  }

  /** K ← K − ΔWᵀ (DoRA: K ← K / scale − ΔWᵀ). */
  protected unmergeFrom(a: LoraAdapter, undo: tf.Tensor | null): void {
    const { kernel } = this.parts;
    tf.tidy(() => {
      const K = undo ? kernel.read().div(undo) : kernel.read();
      kernel.write(K.sub(a.branch.deltaKernel()));
    });
  }

  /** fromConfig's hook: builds a freshly deserialized base (under its name scope, so weight names match a save). */
  static buildBase(base: tf.layers.Layer, inFeatures: number): void {
    tf.tidy(() => {
      base.apply(tf.zeros([1, inFeatures]));
    });
  }
}
tf.serialization.registerClass(LoraDense);
