// Quantising a frozen base weight, and a Dense-like layer that keeps only the quantised form and dequantises
// on the fly: int8 per output row with absmax scales (LLM.int8's vector-wise weights, Dettmers et al. 2022 §3),
// and 4-bit codes in blocks of 64 with absmax scales: NormalFloat4 (QLoRA, Dettmers et al. 2023 §3, eq. 4) or a
// uniform int4 baseline; optionally the block scales quantised again (QLoRA's double quantisation).
// Orientation: W is [out, in] (PyTorch/PEFT, as bitsandbytes stores it), flattened row-major; a TF.js kernel K = Wᵀ.
import * as tf from '@tensorflow/tfjs';

export type QuantScheme = 'int8' | 'int4' | 'nf4';

/**
 * The 16 values of NormalFloat4 (bitsandbytes' table): quantiles of N(0, 1) scaled to [-1, 1], with an exact 0,
 * 7 negative and 8 positive levels (QLoRA §3: "an asymmetric data type"). A weight block divided by its absmax is
 * rounded to the nearest of these.
 */
export const NF4_CODE: readonly number[] = Object.freeze([
  -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
  -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
  0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
  0.7229568362236023, 1.0,
]);

export interface QuantizeOptions {
  /** 'int8' (per output row), 'int4' or 'nf4' (per block of `blockSize` values). */
  scheme: QuantScheme;
  /** Values per absmax scale for the 4-bit schemes (QLoRA uses 64). Ignored by int8 (one scale per row). @default 64 */
  blockSize?: number;
  /** Quantise the 4-bit schemes' scales to 8 bits in blocks of 256 around their mean (QLoRA §3). @default false */
  doubleQuant?: boolean;
}

/** Scales stored as 8-bit codes: scale_b = (code_b − 128)·step[⌊b/256⌋] + offset. */
export interface QuantizedScales {
  codes: Uint8Array; // one byte per block scale, offset binary
  step: Float32Array; // one float per 256 scales
  offset: number; // the mean scale, subtracted before quantising
}

/** A weight in quantised form. Everything a dequantisation needs; nothing else. */
export interface QuantizedWeight {
  readonly scheme: QuantScheme;
  /** [out, in] of W. */
  readonly shape: [number, number];
  /** Values per scale: `in` for int8 (one row), blockSize for 4-bit. */
  readonly blockSize: number;
  /**
   * The codes, little end first: int8 = one byte per value holding q + 128 (q in −127..127); int4 = q + 8 per
   * nibble (q in −7..7); nf4 = the index into NF4_CODE per nibble. Two nibbles per byte, low nibble first.
   */
  readonly codes: Uint8Array;
  /** absmax per row (int8) or per block (4-bit), float32; null when `quantizedScales` holds them. */
  readonly scales: Float32Array | null;
  readonly quantizedScales: QuantizedScales | null;
}

const DQ_BLOCK = 256;

function bitsOf(scheme: QuantScheme): 4 | 8 {
  return scheme === 'int8' ? 8 : 4;
}

function checkShape(values: ArrayLike<number>, shape: readonly number[]): [number, number] {
  if (shape.length !== 2 || !shape.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new Error(`weight shape must be [out, in] with positive integers, got [${shape.join(', ')}]`);
  }
  const [out, inF] = shape as [number, number];
  if (values.length !== out * inF) {
    throw new Error(`weight has ${values.length} values but shape [${out}, ${inF}] needs ${out * inF}`);
  }
  return [out, inF];
}

/** Index of the NF4 level nearest to x ∈ [−1, 1] (midpoints between neighbours decide). */
function nearestNf4(x: number): number {
  let lo = 0;
  for (let k = 1; k < 16; k++) if (x > (NF4_CODE[k - 1]! + NF4_CODE[k]!) / 2) lo = k;
  return lo;
}

/**
 * Quantises W [out, in] (row-major values, PEFT orientation). For a Dense kernel K [in, out], pass Kᵀ
 * (see `quantizeKernel`). Pure JS on CPU data: run it once per frozen weight, before training.
 */
export function quantizeWeight(values: ArrayLike<number>, shape: readonly number[], options: QuantizeOptions): QuantizedWeight {
  const [out, inF] = checkShape(values, shape);
  const scheme = options.scheme;
  if (scheme !== 'int8' && scheme !== 'int4' && scheme !== 'nf4') {
    throw new Error(`quantisation scheme must be 'int8', 'int4' or 'nf4', got ${JSON.stringify(scheme)}`);
  }
  const blockSize = scheme === 'int8' ? inF : (options.blockSize ?? 64);
  if (!Number.isInteger(blockSize) || blockSize < 1) {
    throw new Error(`blockSize must be a positive integer, got ${blockSize}: use e.g. 64 (QLoRA's choice)`);
  }
  if (options.doubleQuant && scheme === 'int8') {
    throw new Error(`doubleQuant applies to the 4-bit schemes ('nf4', 'int4'), not 'int8' (its one scale per row is already cheap)`);
  }
  const n = out * inF;
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(values[i]!)) throw new Error(`weight value ${i} is ${values[i]}: only finite weights can be quantised`);
  }
  const nBlocks = Math.ceil(n / blockSize);
  const scales = new Float32Array(nBlocks);
  for (let b = 0; b < nBlocks; b++) {
    let m = 0;
    for (let i = b * blockSize; i < Math.min(n, (b + 1) * blockSize); i++) m = Math.max(m, Math.abs(values[i]!));
    scales[b] = m;
  }
  // With double quantisation the codes are made against the scales as they will be read back, so the
  // dequantised value is the nearest level of the scale actually used.
  const quantizedScales = options.doubleQuant ? quantizeScales(scales) : null;
  const used = quantizedScales ? dequantizeScales(quantizedScales, nBlocks) : scales;

  const bits = bitsOf(scheme);
  const codes = new Uint8Array(bits === 8 ? n : Math.ceil(n / 2));
  for (let i = 0; i < n; i++) {
    const s = used[Math.floor(i / blockSize)]!;
    const x = s > 0 ? values[i]! / s : 0; // in [−1, 1] (a zero block stays zero)
    let code: number;
    if (scheme === 'int8') code = Math.max(-127, Math.min(127, Math.round(x * 127))) + 128;
    else if (scheme === 'int4') code = Math.max(-7, Math.min(7, Math.round(x * 7))) + 8;
    else code = nearestNf4(Math.max(-1, Math.min(1, x)));
    if (bits === 8) codes[i] = code;
    else codes[i >> 1] |= (i & 1) === 0 ? code : code << 4;
  }
  return { scheme, shape: [out, inF], blockSize, codes, scales: quantizedScales ? null : scales, quantizedScales };
}

function quantizeScales(scales: Float32Array): QuantizedScales {
  let mean = 0;
  for (const s of scales) mean += s;
  mean /= scales.length;
  const groups = Math.ceil(scales.length / DQ_BLOCK);
  const step = new Float32Array(groups);
  const codes = new Uint8Array(scales.length);
  for (let g = 0; g < groups; g++) {
    let m = 0;
    for (let b = g * DQ_BLOCK; b < Math.min(scales.length, (g + 1) * DQ_BLOCK); b++) m = Math.max(m, Math.abs(scales[b]! - mean));
    step[g] = m / 127;
    for (let b = g * DQ_BLOCK; b < Math.min(scales.length, (g + 1) * DQ_BLOCK); b++) {
      codes[b] = (m > 0 ? Math.round((scales[b]! - mean) / step[g]!) : 0) + 128;
    }
  }
  return { codes, step, offset: Math.fround(mean) };
}

function dequantizeScales(q: QuantizedScales, nBlocks: number): Float32Array {
  const out = new Float32Array(nBlocks);
  for (let b = 0; b < nBlocks; b++) out[b] = (q.codes[b]! - 128) * q.step[Math.floor(b / DQ_BLOCK)]! + q.offset;
  return out;
}

/** The scale of every block, as the dequantiser reads it. */
export function blockScales(q: QuantizedWeight): Float32Array {
  const nBlocks = Math.ceil((q.shape[0] * q.shape[1]) / q.blockSize);
  return q.scales ?? dequantizeScales(q.quantizedScales!, nBlocks);
}

/** W [out, in] back as float32 (row-major), the values the quantised layer computes with. */
export function dequantizeWeight(q: QuantizedWeight): Float32Array {
  const n = q.shape[0] * q.shape[1];
  const scales = blockScales(q);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const s = scales[Math.floor(i / q.blockSize)]!;
    if (q.scheme === 'int8') out[i] = ((q.codes[i]! - 128) / 127) * s;
    else {
      const code = (i & 1) === 0 ? q.codes[i >> 1]! & 15 : q.codes[i >> 1]! >> 4;
      out[i] = q.scheme === 'int4' ? ((code - 8) / 7) * s : NF4_CODE[code]! * s;
    }
  }
  return out;
}

/** Bytes the quantised weight occupies: codes + scales (+ the double-quantisation constants). */
export function quantizedBytes(q: QuantizedWeight): number {
  const dq = q.quantizedScales;
  return q.codes.length + (q.scales ? 4 * q.scales.length : 0) + (dq ? dq.codes.length + 4 * dq.step.length + 4 : 0);
}

/** Average storage per weight in bits (float32 = 32, int8 ≈ 8 + 32/in, nf4 with blocks of 64 = 4.5). */
export function bitsPerWeight(q: QuantizedWeight): number {
  return (8 * quantizedBytes(q)) / (q.shape[0] * q.shape[1]);
}

export interface QuantError {
  /** Largest |W − Ŵ|. */
  maxAbs: number;
  /** Root mean square of W − Ŵ. */
  rmse: number;
  /** ‖W − Ŵ‖_F / ‖W‖_F. */
  relative: number;
}

/** How far the dequantised weight is from the original. */
export function quantizationError(values: ArrayLike<number>, q: QuantizedWeight): QuantError {
  checkShape(values, q.shape);
  const w = dequantizeWeight(q);
  let maxAbs = 0, se = 0, norm = 0;
  for (let i = 0; i < w.length; i++) {
    const d = values[i]! - w[i]!;
    maxAbs = Math.max(maxAbs, Math.abs(d));
    se += d * d;
    norm += values[i]! * values[i]!;
  }
  return { maxAbs, rmse: Math.sqrt(se / w.length), relative: norm > 0 ? Math.sqrt(se / norm) : Math.sqrt(se) };
}

/** A Dense kernel K [in, out] (TF.js) quantised as W = Kᵀ [out, in]. Reads with `await data()` (any backend). */
export async function quantizeKernel(kernel: tf.Tensor, options: QuantizeOptions): Promise<QuantizedWeight> {
  if (kernel.rank !== 2) throw new Error(`a Dense kernel is 2-D [in, out], got shape [${kernel.shape.join(', ')}]`);
  const W = tf.tidy(() => kernel.transpose()); // [out, in]
  const values = (await W.data()) as Float32Array;
  W.dispose();
  return quantizeWeight(values, W.shape as [number, number], options);
}

// ---- on the device: codes packed into int32 words ------------------------------------------------------

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
    this.code = q.scheme === 'nf4' ? tf.tensor1d(NF4_CODE as number[]) : null;
    this.biasTensor = args.bias ? tf.tensor1d(args.bias) : null;
    this.activationName = args.activation ?? null;
    this.activationLayer = this.activationName
      ? tf.layers.activation({ activation: this.activationName as Parameters<typeof tf.layers.activation>[0]['activation'] })
      : null;
    this.built = true;
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
      const fields = unpackFields(this.words, bitsOf(q.scheme)).slice(0, n); // [n] int32 codes
      let unit: tf.Tensor; // value / scale, in [−1, 1]
      if (q.scheme === 'int8') unit = fields.sub(128).toFloat().div(127);
      else if (q.scheme === 'int4') unit = fields.sub(8).toFloat().div(7);
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

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0]! : inputs;
      const lead = x.shape.slice(0, -1);
      const x2 = x.reshape([-1, this.inFeatures]); // [N, in]
      let y = tf.matMul(x2, this.dequantized(), false, true); // [N, out] = x·Ŵᵀ
      if (this.biasTensor) y = y.add(this.biasTensor);
      if (this.activationLayer) y = this.activationLayer.apply(y) as tf.Tensor;
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
      scheme: this.weight.scheme,
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

/** What tf.layers.dense keeps private; read to quantise one. */
interface DenseParts {
  kernel: tf.LayerVariable | null;
  bias: tf.LayerVariable | null;
  activation: { getClassName(): string } | null;
}

/** TF.js activation class names → the identifiers tf.layers.activation accepts. */
const ACTIVATIONS: Record<string, string | null> = { linear: null, relu: 'relu', gelu: 'gelu', tanh: 'tanh', sigmoid: 'sigmoid', elu: 'elu', swish: 'swish' };

/** A QuantizedDense equal (up to quantisation) to a built tf.layers.dense. */
export async function quantizeDense(layer: tf.layers.Layer, options: QuantizeOptions): Promise<QuantizedDense> {
  if (layer.getClassName() !== 'Dense') {
    throw new Error(`quantizeDense needs a Dense layer; '${layer.name}' is a ${layer.getClassName()}`);
  }
  const d = layer as unknown as DenseParts;
  if (!layer.built || d.kernel == null) throw new Error(`Dense layer '${layer.name}' is not built yet: call it once before quantising`);
  const act = d.activation?.getClassName() ?? 'linear';
  if (!(act in ACTIVATIONS)) throw new Error(`Dense layer '${layer.name}' has activation ${act}, which QuantizedDense does not support`);
  const weight = await quantizeKernel(d.kernel.read(), options);
  const bias = d.bias ? ((await d.bias.read().data()) as Float32Array).slice() : null;
  return new QuantizedDense({ weight, bias, activation: ACTIVATIONS[act], name: `${layer.name}_${options.scheme}` });
}
