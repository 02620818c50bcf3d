// Conv1D: Hugging Face GPT-2's linear layer (transformers pytorch_utils.Conv1D), whose weight is stored
// [in, out] (y = x·W + b) where torch.nn.Linear stores [out, in]. TF.js's Dense kernel is [in, out] too, so the
// math is Dense's; the class exists so that files keep GPT-2's orientation and LoRA knows to set PEFT's
// `fan_in_fan_out` (lora_A [r, in], lora_B [out, r] as ever; only the merge transposes ΔW [out, in] into W).
import * as tf from '@tensorflow/tfjs';
import { linearForward } from './linear.js';

export interface Conv1DArgs {
  /** Input features (GPT-2: nx). */
  inFeatures: number;
  /** Output features (GPT-2: nf; c_attn fuses q, k, v into 3·d_model). */
  outFeatures: number;
  /** @default true (GPT-2's Conv1D always has a bias) */
  useBias?: boolean;
  /** Initial weights N(0, initStd²); biases start at 0. @default 0.02 (GPT-2) */
  initStd?: number;
  seed?: number;
  /** Overrides the N(0, initStd²) kernel init (e.g. values read from a checkpoint, created without a copy). */
  kernelInitializer?: ReturnType<typeof tf.initializers.zeros>;
  /** Overrides the zero bias init. */
  biasInitializer?: ReturnType<typeof tf.initializers.zeros>;
  name?: string;
  trainable?: boolean;
}

/** y = x·W + b over the last axis; W [in, out] (`weight` in a GPT-2 checkpoint, `kernel` here), b [out]. */
export class Conv1D extends tf.layers.Layer {
  static className = 'LoraLabConv1D';
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly useBias: boolean;
  readonly initStd: number;
  readonly seed: number | undefined;
  private readonly kernelInit: ReturnType<typeof tf.initializers.zeros> | undefined;
  private readonly biasInit: ReturnType<typeof tf.initializers.zeros> | undefined;
  /** [in, out], the same orientation as the checkpoint's tensor. */
  kernel: tf.LayerVariable | null = null;
  /** [out], or null without a bias. */
  bias: tf.LayerVariable | null = null;

  constructor(args: Conv1DArgs) {
    super({ name: args.name, trainable: args.trainable ?? true });
    for (const [k, v] of [['inFeatures', args.inFeatures], ['outFeatures', args.outFeatures]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new Error(`Conv1D ${k} must be a positive integer, got ${v}`);
    }
    this.inFeatures = args.inFeatures;
    this.outFeatures = args.outFeatures;
    this.useBias = args.useBias ?? true;
    this.initStd = args.initStd ?? 0.02;
    this.seed = args.seed;
    this.kernelInit = args.kernelInitializer;
    this.biasInit = args.biasInitializer;
  }

  override build(): void {
    if (this.kernel !== null) return;
    const init = this.kernelInit ?? tf.initializers.randomNormal({ mean: 0, stddev: this.initStd, seed: this.seed });
    this.kernel = this.addWeight('kernel', [this.inFeatures, this.outFeatures], 'float32', init, undefined, true);
    if (this.useBias) {
      this.bias = this.addWeight('bias', [this.outFeatures], 'float32', this.biasInit ?? tf.initializers.zeros(), undefined, true);
    }
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const s = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    return [...s.slice(0, -1), this.outFeatures];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0]! : inputs; // [..., in]
      if (this.kernel === null) this.build();
      const lead = x.shape.slice(0, -1);
      const x2 = x.reshape([-1, this.inFeatures]); // [N, in]
      // linearForward: a frozen kernel (a LoRA base) then costs no gradient work in backprop.
      const y = linearForward(x2 as tf.Tensor2D, this.kernel!.read() as tf.Tensor2D, this.bias?.read() ?? null); // [N, out]
      return y.reshape([...lead, this.outFeatures]); // [..., out]
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      inFeatures: this.inFeatures,
      outFeatures: this.outFeatures,
      useBias: this.useBias,
      initStd: this.initStd,
      seed: this.seed ?? null,
    };
  }

  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    const c = { ...config, seed: config['seed'] ?? undefined } as unknown as Conv1DArgs;
    return new cls(c);
  }
}
tf.serialization.registerClass(Conv1D);
