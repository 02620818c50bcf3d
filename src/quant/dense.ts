// A frozen linear layer that keeps only the quantised form of its weight on the device and dequantises it inside
// each call: y = act(x·Ŵᵀ + b), Ŵ [out, in] rebuilt from int8/int4/NF4 codes and block scales (QLoRA, Dettmers et
// al. 2023 §3: "the frozen base is stored in 4 bits, computed in 16/32"). Made from a Dense or a Conv1D.
import * as tf from '@tensorflow/tfjs';
import { hasActivation, linearParts } from '../models/linear.js';
import { codeBits, DQ_BLOCK, NF4_CODE, quantizeKernel, type QuantizeOptions, type QuantizedWeight } from './weight.js';

/**
 * Packs bytes into int32 words, 4 per word, little end first. TF.js has no 8- or 4-bit dtype, so this is how a
 * tensor holds 1 byte per int8 code or 2 codes per byte (the memory the schemes promise).
 */
export function packWords(bytes: Uint8Array): Int32Array {
  const words = new Int32Array(Math.ceil(bytes.length / 4));
  for (let i = 0; i < bytes.length; i++) words[i >> 2] |= bytes[i]! << (8 * (i & 3));
  return words;
}

/**
 * Unpacks `bits`-bit fields from int32 words [w] → int32 [w·32/bits], lowest field first. Uses floorDiv and mod,
 * which every backend has (no bit-shift op in TF.js); floor semantics make this right for negative words too.
 */
export function unpackFields(words: tf.Tensor1D, bits: 4 | 8): tf.Tensor1D {
  return tf.tidy(() => {
    const per = 32 / bits;
    const fields: tf.Tensor[] = [];
    for (let k = 0; k < per; k++) {
      const shifted = k === 0 ? words : tf.floorDiv(words, tf.scalar(2 ** (bits * k), 'int32'));
      fields.push(tf.mod(shifted, tf.scalar(2 ** bits, 'int32'))); // [w]
    }
    return tf.stack(fields, 1).reshape([-1]) as tf.Tensor1D; // [w·per], field k of word j at j·per + k
  });
}

export interface QuantizedDenseArgs {
  /** The quantised W [out, in]. */
  weight: QuantizedWeight;
  /** Bias [out] (kept in float32, as bitsandbytes does), or null. */
  bias?: Float32Array | null;
  /** Activation applied after the bias, as in tf.layers.dense (e.g. 'relu'); none by default. */
  activation?: string | null;
  /** The layer kind it replaces ('Dense' or 'LoraLabConv1D'): a Conv1D's adapter keeps PEFT's fan_in_fan_out. */
  sourceClassName?: string;
  /** The options the weight was quantised with (a saved adapter records them to re-quantise the same way). */
  options?: QuantizeOptions;
  name?: string;
}

/**
 * A frozen linear layer y = act(x·Ŵᵀ + b) whose weight lives on the device only as codes and scales; Ŵ is
 * rebuilt inside each call and freed with the call's other intermediates (in training: after the backward pass),
 * so the resident memory is the quantised size. Nothing in it trains.
 */
export class QuantizedDense extends tf.layers.Layer {
  static className = 'LoraLabQuantizedDense';
  readonly weight: QuantizedWeight;
  readonly sourceClassName: string;
  readonly options: QuantizeOptions;
  readonly inFeatures: number;
  readonly outFeatures: number;
  private readonly words: tf.Tensor1D; // packed codes, int32
  private readonly scaleTensor: tf.Tensor1D; // [nBlocks] float32 (double quantisation: the 8-bit codes, see below)
  private readonly dq: { codes: tf.Tensor1D; step: tf.Tensor1D; offset: number } | null;
  private readonly code: tf.Tensor1D | null; // NF4_CODE [16]
  private readonly biasTensor: tf.Tensor1D | null;
  private readonly activationName: string | null;
  private readonly activationLayer: tf.layers.Layer | null;

  constructor(args: QuantizedDenseArgs) {
    super({ name: args.name, trainable: false });
    const q = args.weight;
    this.weight = q;
    this.sourceClassName = args.sourceClassName ?? 'Dense';
    this.options = args.options ?? { bits: q.bits, blockSize: q.blockSize, doubleQuant: q.quantizedScales !== null };
    [this.outFeatures, this.inFeatures] = q.shape;
    if (args.bias && args.bias.length !== this.outFeatures) {
      throw new Error(`bias has ${args.bias.length} values but the weight has out = ${this.outFeatures}`);
    }
    this.words = tf.tensor1d(packWords(q.codes), 'int32');
    const dqs = q.quantizedScales;
    if (dqs) {
      this.dq = { codes: tf.tensor1d(packWords(dqs.codes), 'int32'), step: tf.tensor1d(dqs.step), offset: dqs.offset };
      this.scaleTensor = tf.tensor1d([], 'float32');
    } else {
      this.dq = null;
      this.scaleTensor = tf.tensor1d(q.scales!);
    }
    this.code = q.bits === 'nf4' ? tf.tensor1d([...NF4_CODE]) : null;
    this.biasTensor = args.bias ? tf.tensor1d(args.bias) : null;
    this.activationName = args.activation ?? null;
    this.activationLayer = this.activationName
      ? tf.layers.activation({ activation: this.activationName as Parameters<typeof tf.layers.activation>[0]['activation'] })
      : null;
    this.built = true;
  }

  /** Parameters of the float layer it stands for: out·in (+ out for the bias). */
  numParams(): number {
    return this.outFeatures * this.inFeatures + (this.biasTensor ? this.outFeatures : 0);
  }

  /** Bytes this layer keeps on the device: packed codes + scales + bias (+ the NF4 table). */
  deviceBytes(): number {
    const ts = [this.words, this.scaleTensor, this.code, this.biasTensor, this.dq?.codes, this.dq?.step];
    return ts.reduce((s, t) => s + (t ? t.size * 4 : 0), 0);
  }

  /** Ŵ [out, in] as float32, built from the codes (caller disposes). */
  dequantized(): tf.Tensor2D {
    return tf.tidy(() => {
      const q = this.weight;
      const n = this.outFeatures * this.inFeatures;
      const nBlocks = Math.ceil(n / q.blockSize);
      const fields = unpackFields(this.words, codeBits(q.bits)).slice(0, n); // [n] int32 codes
      let unit: tf.Tensor; // value / scale, in [−1, 1]
      if (q.bits === 'int8') unit = fields.sub(128).toFloat().div(127);
      else if (q.bits === 'int4') unit = fields.sub(8).toFloat().div(7);
      else unit = tf.gather(this.code!, fields);
      let scales: tf.Tensor; // [nBlocks]
      if (this.dq) {
        const c = unpackFields(this.dq.codes, 8).slice(0, nBlocks).sub(128).toFloat(); // [nBlocks]
        const groupOf = tf.range(0, nBlocks, 1, 'int32').div(DQ_BLOCK).floor().toInt(); // [nBlocks]
        scales = c.mul(tf.gather(this.dq.step, groupOf)).add(this.dq.offset);
      } else {
        scales = this.scaleTensor;
      }
      const padded = nBlocks * q.blockSize;
      const u = padded === n ? unit : tf.concat([unit, tf.zeros([padded - n])]);
      const w = u.reshape([nBlocks, q.blockSize]).mul(scales.reshape([nBlocks, 1])); // [nBlocks, blockSize]
      return w.reshape([-1]).slice(0, n).reshape([this.outFeatures, this.inFeatures]) as tf.Tensor2D; // [out, in]
    });
  }

  /** x·Ŵᵀ + b for x [N, in] → [N, out], before the activation (a LoRA branch adds its update here). */
  preActivation(x2: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      const y = tf.matMul(x2, this.dequantized(), false, true); // [N, out] = x·Ŵᵀ
      return (this.biasTensor ? y.add(this.biasTensor) : y) as tf.Tensor2D;
    });
  }

  /** The layer's activation (none by default). */
  activate(z: tf.Tensor): tf.Tensor {
    return this.activationLayer ? (this.activationLayer.apply(z) as tf.Tensor) : z;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0]! : inputs;
      const lead = x.shape.slice(0, -1);
      const y = this.activate(this.preActivation(x.reshape([-1, this.inFeatures]) as tf.Tensor2D)); // [N, out]
      return y.reshape([...lead, this.outFeatures]);
    });
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const s = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    return [...s.slice(0, -1), this.outFeatures];
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      bits: this.weight.bits,
      sourceClassName: this.sourceClassName,
      shape: [...this.weight.shape],
      blockSize: this.weight.blockSize,
      activation: this.activationName,
    };
  }

  /** Frees the device tensors. */
  override dispose(): ReturnType<tf.layers.Layer['dispose']> {
    tf.dispose([this.words, this.scaleTensor, ...(this.code ? [this.code] : []), ...(this.biasTensor ? [this.biasTensor] : [])]);
    if (this.dq) tf.dispose([this.dq.codes, this.dq.step]);
    return { refCountAfterDispose: 0, numDisposedVariables: 0 };
  }

  /** Not rebuildable from a config alone (its weights are not in it): build it with quantizeDense(denseLayer, options). */
  static override fromConfig<T extends tf.serialization.Serializable>(
    _cls: tf.serialization.SerializableConstructor<T>,
    _config: tf.serialization.ConfigDict,
  ): T {
    throw new Error('QuantizedDense cannot be rebuilt from its config alone: build it with quantizeDense(denseLayer, options)');
  }
}
tf.serialization.registerClass(QuantizedDense);

/** TF.js activation class names → the identifiers tf.layers.activation accepts. */
const ACTIVATIONS: Record<string, string | null> = {
  linear: null, relu: 'relu', gelu: 'gelu', tanh: 'tanh', sigmoid: 'sigmoid', elu: 'elu', swish: 'swish',
};

/** A QuantizedDense equal (up to quantisation) to a built Dense or Conv1D. */
export async function quantizeDense(layer: tf.layers.Layer, options: QuantizeOptions): Promise<QuantizedDense> {
  const cls = layer.getClassName();
  if (cls !== 'Dense' && cls !== 'LoraLabConv1D') {
    throw new Error(`quantizeDense needs a Dense or Conv1D layer; '${layer.name}' is a ${cls}`);
  }
  const p = linearParts(layer);
  const act = hasActivation(p.activation) ? p.activation.getClassName() : 'linear';
  if (!(act in ACTIVATIONS)) {
    throw new Error(`layer '${layer.name}' has activation ${act}, which QuantizedDense does not support`);
  }
  const weight = await quantizeKernel(p.kernel.read(), options);
  const bias = p.bias ? ((await p.bias.read().data()) as Float32Array).slice() : null;
  return new QuantizedDense({
    weight, bias, activation: ACTIVATIONS[act], sourceClassName: cls, options: { ...options },
    name: `${layer.name}_${options.bits}`,
  });
}
