// QLoRA (Dettmers et al. 2023, §3 eq. 5): LoRA adapters over a frozen base stored in 4 or 8 bits, dequantised on the
// fly: y = x·Ŵᵀ + b + scaling·(dropout(x)·Aᵀ)·Bᵀ. Gradients reach only A and B (PEFT tuners/lora/bnb.py Linear4bit).
// PEFT orientation: Ŵ [out, in], lora_A [r, in], lora_B [out, r]; scaling = α/r (α/√r with use_rslora).
import * as tf from '@tensorflow/tfjs';
import type { LayerTree } from '../models/module.js';
import { loraConfig, loraScaling, OUTPUT_HEAD_NAMES, type LoraConfig, type LoraConfigInput } from './config.js';
import { deriveSeed, initialLoraWeights } from './init.js';
import { isDense } from './layer.js';
import { resolveTargets } from './targets.js';
import { quantizeDense, QuantizedDense, type QuantizeOptions } from './quantize.js';

export interface QLoraDenseArgs {
  /** The quantised frozen base. */
  base: QuantizedDense;
  config: LoraConfigInput | LoraConfig;
  /** Seed for lora_A's initialisation. @default config.seed */
  seed?: number;
  name?: string;
}

/** A QuantizedDense plus one trainable LoRA adapter (A random, B zero: equal to the quantised base at step 0). */
export class QLoraDense extends tf.layers.Layer {
  static className = 'LoraLabQLoraDense';
  readonly base: QuantizedDense;
  readonly config: LoraConfig;
  readonly scaling: number;
  readonly lora_A: tf.LayerVariable; // [r, in]
  readonly lora_B: tf.LayerVariable; // [out, r]
  /** Dropout on the LoRA branch when a call does not pass `training`. */
  training = false;
  private dropoutCalls = 0;

  constructor(args: QLoraDenseArgs) {
    super({ name: args.name ?? `qlora_${args.base.name}`, trainable: true });
    const c = loraConfig(args.config);
    if (c.use_dora) throw new Error('QLoraDense does not implement DoRA: set use_dora = false (DoRA runs on a float base: LoraDense)');
    if (c.init_lora_weights === 'pissa') {
      throw new Error(`QLoraDense does not implement PiSSA initialisation: use init_lora_weights = true or 'gaussian'`);
    }
    this.base = args.base;
    this.config = c;
    this.scaling = loraScaling(c);
    const seed = args.seed ?? c.seed;
    // initialLoraWeights reads only the kernel's shape for these inits; a zeros kernel [in, out] avoids dequantising.
    const shapeOnly = tf.zeros([args.base.inFeatures, args.base.outFeatures]) as tf.Tensor2D;
    const init = initialLoraWeights(shapeOnly, c, seed);
    shapeOnly.dispose();
    this.lora_A = new tf.LayerVariable(init.lora_A, 'float32', `${this.name}/lora_A`, true);
    this.lora_B = new tf.LayerVariable(init.lora_B, 'float32', `${this.name}/lora_B`, true);
    tf.dispose([init.lora_A, init.lora_B]);
    this.built = true;
  }

  override get trainableWeights(): tf.LayerVariable[] {
    return this.trainable ? [this.lora_A, this.lora_B] : [];
  }
  override set trainableWeights(_w: tf.LayerVariable[]) {
    // Computed from the adapter (Layer's constructor assigns an empty list).
  }
  override get nonTrainableWeights(): tf.LayerVariable[] {
    return this.trainable ? [] : [this.lora_A, this.lora_B];
  }
  override set nonTrainableWeights(_w: tf.LayerVariable[]) {
    // See trainableWeights.
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0]! : inputs;
      const lead = x.shape.slice(0, -1);
      const x2 = x.reshape([-1, this.base.inFeatures]); // [N, in]
      const training = (kwargs['training'] as boolean | undefined) ?? this.training;
      const p = this.config.lora_dropout;
      const xd = training && p > 0 ? tf.dropout(x2, p, undefined, deriveSeed(this.config.seed, this.name, this.dropoutCalls++)) : x2;
      const h = tf.matMul(xd, this.lora_A.read(), false, true); // [N, r]
      const lora = tf.matMul(h, this.lora_B.read(), false, true).mul(this.scaling); // [N, out]
      const y = (this.base.apply(x2) as tf.Tensor).add(lora); // [N, out]
      return y.reshape([...lead, this.base.outFeatures]);
    });
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    return this.base.computeOutputShape(inputShape);
  }

  /** ΔW = scaling·B·A [out, in] (caller disposes). */
  deltaWeight(): tf.Tensor2D {
    return tf.tidy(() => tf.matMul(this.lora_B.read(), this.lora_A.read()).mul(this.scaling) as tf.Tensor2D);
  }

  /** Frees the adapter's weights (not the base's). */
  disposeAdapter(): void {
    this.lora_A.dispose();
    this.lora_B.dispose();
  }

  /** Not rebuildable from a config alone (its weights are not in it): build it with injectQLora(tree, config, options). */
  static override fromConfig<T extends tf.serialization.Serializable>(
    _cls: tf.serialization.SerializableConstructor<T>,
    _config: tf.serialization.ConfigDict,
  ): T {
    throw new Error('QLoraDense cannot be rebuilt from its config alone: build it with injectQLora(tree, config, options)');
  }
}
tf.serialization.registerClass(QLoraDense);

export interface QLoraOptions extends QuantizeOptions {
  /**
   * Quantise every Dense layer except the output head (QLoRA), or only the LoRA targets.
   * @default 'all-but-head'
   */
  quantize?: 'all-but-head' | 'targets';
}

/** Bytes of every weight in a tree, counting a QuantizedDense at its packed size. */
export function weightBytes(tree: LayerTree): number {
  let bytes = 0;
  for (const layer of tree.layers.values()) {
    if (layer instanceof QLoraDense) bytes += layer.base.deviceBytes() + 4 * (layer.lora_A.read().size + layer.lora_B.read().size);
    else if (layer instanceof QuantizedDense) bytes += layer.deviceBytes();
    else for (const w of layer.weights) bytes += 4 * w.read().size;
  }
  return bytes;
}

/** A LayerTree whose Dense layers are quantised, with LoRA on the targets. Made by `injectQLora`. */
export class QLoraModel {
  readonly base: LayerTree;
  readonly config: LoraConfig;
  readonly options: QLoraOptions;
  /** The Dense layers that were replaced, by path (unload() puts them back). */
  private readonly originals = new Map<string, tf.layers.Layer>();
  private readonly flags = new Map<tf.LayerVariable, boolean>();

  constructor(tree: LayerTree, config: LoraConfig, options: QLoraOptions, originals: Map<string, tf.layers.Layer>) {
    this.base = tree;
    this.config = config;
    this.options = options;
    for (const [p, l] of originals) this.originals.set(p, l);
    // Everything not LoRA is frozen (layer norms, embeddings, the unquantised head), as in QLoRA.
    for (const layer of tree.layers.values()) {
      if (layer instanceof QLoraDense) continue;
      for (const w of layer.weights) {
        this.flags.set(w, w.trainable);
        w.trainable = false;
      }
    }
  }

  /** Dropout on the LoRA branches follows this flag when a call does not pass `training`. */
  train(on = true): void {
    for (const l of this.loraLayers().values()) l.training = on;
  }

  /** The LoRA-wrapped layers by path. */
  loraLayers(): Map<string, QLoraDense> {
    const out = new Map<string, QLoraDense>();
    for (const [p, l] of this.base.layers) if (l instanceof QLoraDense) out.set(p, l);
    return out;
  }

  /** lora_A and lora_B of every wrapped layer, in tree order. */
  trainableVariables(): tf.Variable[] {
    return [...this.loraLayers().values()].flatMap((l) => [l.lora_A.read() as tf.Variable, l.lora_B.read() as tf.Variable]);
  }

  /** LoRA+ groups, as LoraModel.paramGroups(): B (groupB) learns loraplus_lr_ratio× faster. */
  paramGroups(): { name: string; variables: tf.Variable[]; lrScale: number }[] {
    const layers = [...this.loraLayers().values()];
    return [
      { name: 'groupA', variables: layers.map((l) => l.lora_A.read() as tf.Variable), lrScale: 1 },
      { name: 'groupB', variables: layers.map((l) => l.lora_B.read() as tf.Variable), lrScale: this.config.loraplus_lr_ratio ?? 1 },
    ];
  }

  countParams(): { trainable: number; all: number } {
    let all = 0;
    for (const layer of this.base.layers.values()) {
      if (layer instanceof QLoraDense) all += layer.base.inFeatures * layer.base.outFeatures + layer.lora_A.read().size + layer.lora_B.read().size;
      else if (layer instanceof QuantizedDense) all += layer.inFeatures * layer.outFeatures;
      else for (const w of layer.weights) all += w.read().size;
    }
    const trainable = this.trainableVariables().reduce((s, v) => s + v.size, 0);
    return { trainable, all };
  }

  /** PEFT's line: "trainable params: X || all params: Y || trainable%: Z". */
  report(): string {
    const { trainable, all } = this.countParams();
    const f = (n: number) => n.toLocaleString('en-US');
    return `trainable params: ${f(trainable)} || all params: ${f(all)} || trainable%: ${((100 * trainable) / all).toFixed(4)}`;
  }

  /** Bytes of all weights as held now (quantised layers at their packed size) and as float32 before. */
  memory(): { bytes: number; float32Bytes: number } {
    return { bytes: weightBytes(this.base), float32Bytes: 4 * this.countParams().all };
  }

  /** Puts the original float Dense layers back, frees the quantised copies and adapters, restores trainable flags. */
  unload(): LayerTree {
    for (const [p, original] of this.originals) {
      const l = this.base.layers.get(p);
      if (l instanceof QLoraDense) {
        l.disposeAdapter();
        l.base.dispose();
      } else if (l instanceof QuantizedDense) l.dispose();
      this.base.layers.set(p, original);
    }
    this.originals.clear();
    for (const [w, on] of this.flags) w.trainable = on;
    return this.base;
  }
}

/**
 * QLoRA on a LayerTree, in place: quantise its Dense layers (all but the output head, or only the targets) and wrap
 * the targets of `config` with a trainable adapter. The original Dense layers are kept aside for unload().
 */
export async function injectQLora(tree: LayerTree, config: LoraConfigInput | LoraConfig, options: QLoraOptions): Promise<QLoraModel> {
  const c = loraConfig(config);
  if (c.use_dora) throw new Error('QLoraDense does not implement DoRA: set use_dora = false (DoRA runs on a float base: LoraDense)');
  if (c.init_lora_weights === 'pissa') {
    throw new Error(`QLoraDense does not implement PiSSA initialisation: use init_lora_weights = true or 'gaussian'`);
  }
  const targets = new Set(resolveTargets(tree, c)); // errors list the layers when a target matches nothing
  const which = options.quantize ?? 'all-but-head';
  if (which !== 'all-but-head' && which !== 'targets') {
    throw new Error(`quantize must be 'all-but-head' or 'targets', got ${JSON.stringify(which)}`);
  }
  const toQuantize = [...tree.layers].filter(([p, l]) => {
    if (!isDense(l)) return false;
    if (targets.has(p)) return true;
    if (which === 'targets') return false;
    return !OUTPUT_HEAD_NAMES.includes(p.slice(p.lastIndexOf('.') + 1));
  });
  // Build every replacement first, so an error leaves the tree unchanged.
  const built = new Map<string, tf.layers.Layer>();
  try {
    for (const [p, l] of toQuantize) {
      const q = await quantizeDense(l, options);
      built.set(p, targets.has(p) ? new QLoraDense({ base: q, config: c, seed: deriveSeed(c.seed, 'default', p), name: `${p}.qlora` }) : q);
    }
  } catch (e) {
    for (const l of built.values()) {
      if (l instanceof QLoraDense) {
        l.disposeAdapter();
        l.base.dispose();
      } else l.dispose();
    }
    throw e;
  }
  const originals = new Map<string, tf.layers.Layer>();
  for (const [p, l] of built) {
    originals.set(p, tree.layers.get(p)!);
    tree.layers.set(p, l);
  }
  return new QLoraModel(tree, c, options, originals);
}
