// Injecting LoRA into a model and managing it (PEFT tuners/lora/model.py LoraModel): wrap each target by its base
// layer's kind (dispatch.ts), freeze everything else, count parameters, several named adapters over one frozen base,
// merge/unload. The model is a LayerTree (the GPT, the classifier) or any tf.LayersModel (seen as a LayersModelTree).
// LoRA+ (Hayou et al. 2024): parameter groups where lora_B (and 1-D weights, as PEFT) learn ratio× faster.
import * as tf from '@tensorflow/tfjs';
import type { LayerTree } from '../models/module.js';
import { isLayersModel, LayersModelTree } from '../models/layers-model.js';
import { restoreDenseCall, useUnfusedGradients } from '../models/linear.js';
import { isQuantized } from '../quant/base.js';
import { loraConfig, type LoraConfig, type LoraConfigInput } from './config.js';
import { wrapLayer } from './dispatch.js';
import { deriveSeed } from './init.js';
import { isLoraLayer, validateAdapterName, type LoraLayer } from './lora-layer.js';
import { resolveTargets, withModelDefaults } from './targets.js';

type LayerVariable = tf.LayerVariable;

/** A weight is a bias if its own name (after the layer scope) is "bias". */
export function isBiasWeight(w: LayerVariable): boolean {
  return /(^|\/)bias(_\d+)?$/.test(w.originalName ?? w.name);
}

/** What `mergeAndUnload()` / `unload()` return: the tree itself, or for a LayersModel a plain tf.LayersModel. */
export type Unloaded<T extends LayerTree> = T extends LayersModelTree ? tf.LayersModel : T;

/** Parameters of a layer, a quantised base counted at its float size. */
function layerParams(layer: tf.layers.Layer, seen: Set<LayerVariable>): number {
  let n = 0;
  for (const w of layer.weights) {
    if (seen.has(w)) continue;
    seen.add(w);
    n += w.shape.reduce((x: number, y) => x * (y ?? 1), 1);
  }
  const base = isLoraLayer(layer) ? layer.base : layer;
  if (isQuantized(base)) n += base.numParams();
  return n;
}

/**
 * A model with LoRA injected. `base` is the same tree object, whose map now holds LoRA layers at the targets; run the
 * model as before (a LayerTree's own forward, or `model` for a tf.LayersModel) and it uses the active adapter.
 */
export class LoraModel<T extends LayerTree = LayerTree> {
  readonly base: T;
  private readonly configs = new Map<string, LoraConfig>();
  private active_: string | null = null;
  private released = false;
  /** Every weight's and layer's trainable flag before injection, restored by mergeAndUnload()/unload(). */
  private readonly originalFlags = new Map<LayerVariable, boolean>();
  private readonly originalLayerFlags = new Map<tf.layers.Layer, boolean>();

  /** Use injectLora(); this wraps `tree` in place. */
  constructor(tree: T, config: LoraConfigInput | LoraConfig, adapterName = 'default') {
    for (const [path, layer] of tree.layers) {
      if (isLoraLayer(layer)) {
        throw new Error(
          `layer '${path}' already has LoRA: add another adapter with loraModel.addAdapter(name, config) instead ` +
          `of injecting again`,
        );
      }
    }
    const c = loraConfig(withModelDefaults(tree, config));
    this.base = tree;
    for (const layer of tree.layers.values()) {
      this.originalLayerFlags.set(layer, layer.trainable);
      for (const w of layer.weights) this.originalFlags.set(w, w.trainable);
    }
    this.addAdapter(adapterName, c);
    // Frozen Dense layers compute no weight gradient from here on (TF.js's fused matMul would).
    for (const layer of tree.layers.values()) useUnfusedGradients(layer);
  }

  private assertLive(): void {
    if (this.released) throw new Error('this LoraModel was unloaded (mergeAndUnload/unload): use the model it returned');
  }

  /**
   * The tf.LayersModel to call `fit`, `predict` or `save` on, for a model made from one (it shares the weights;
   * compile it after injectLora, and get it again after adding or deleting adapters, which re-wires layers).
   */
  get model(): tf.LayersModel {
    const tree = this.base as unknown as Partial<LayersModelTree>;
    if (!(tree instanceof LayersModelTree)) {
      throw new Error('this LoraModel wraps a LayerTree, not a tf.LayersModel: run the tree itself (e.g. gpt.logits)');
    }
    return tree.model;
  }

  /** Path → LoRA layer for every wrapped layer, in the tree's order. */
  loraLayers(): Map<string, LoraLayer> {
    const out = new Map<string, LoraLayer>();
    for (const [p, l] of this.base.layers) if (isLoraLayer(l)) out.set(p, l);
    return out;
  }

  get activeAdapter(): string | null {
    return this.active_;
  }
  get adapterNames(): string[] {
    return [...this.configs.keys()];
  }
  /** The config of adapter `name` (default: the active one). */
  config(name?: string): LoraConfig {
    const n = name ?? this.active_;
    const c = n === null ? undefined : this.configs.get(n);
    if (c === undefined) {
      throw new Error(`no adapter '${String(n)}'; adapters are: ${this.adapterNames.join(', ') || '(none)'}`);
    }
    return c;
  }
  /** True while any layer has an adapter merged into its base. */
  get merged(): boolean {
    return [...this.loraLayers().values()].some((l) => l.merged);
  }

  /** Dropout on the LoRA branches follows this flag when a call does not pass `training` itself. */
  train(on = true): void {
    for (const l of this.loraLayers().values()) l.training = on;
  }

  /**
   * Adds adapter `name` for `config`, wrapping any new targets by their kind. The active adapter does not change (as
   * PEFT). Everything is checked before anything changes: names, kinds, and what each kind supports (DoRA, PiSSA).
   */
  addAdapter(name: string, config: LoraConfigInput | LoraConfig): void {
    this.assertLive();
    validateAdapterName(name);
    const c = loraConfig(withModelDefaults(this.base, config));
    if (this.configs.has(name)) {
      throw new Error(`adapter '${name}' already exists: deleteAdapter('${name}') first or pick another name`);
    }
    if (this.merged) throw new Error(`adapters are merged: unmerge() before adding '${name}'`);
    const planned = new Map<string, LoraLayer>();
    const fresh: [tf.layers.Layer | LayerVariable, boolean][][] = [];
    try {
      for (const p of resolveTargets(this.base, c)) {
        const l = this.base.layers.get(p)!;
        let w: LoraLayer;
        if (isLoraLayer(l)) {
          w = l;
        } else {
          // A wrapper freezes its base: note the flags to put back if a later check fails.
          fresh.push([[l, l.trainable], ...l.weights.map((v) => [v, v.trainable] as [LayerVariable, boolean])]);
          w = wrapLayer(l, `${p}.lora`, p);
        }
        w.canAdd(name, c);
        planned.set(p, w);
      }
    } catch (e) {
      for (const flags of fresh) for (const [x, on] of flags) x.trainable = on;
      throw e;
    }
    for (const [p, w] of planned) {
      if (this.base.layers.get(p) !== w) {
        restoreDenseCall(this.base.layers.get(p)!);
        this.base.layers.set(p, w);
      }
      w.addAdapter(name, c, deriveSeed(c.seed, name, p));
    }
    this.configs.set(name, c);
    if (this.active_ === null) this.active_ = name;
    this.setAdapter(this.active_);
  }

  /** Makes `name` the adapter every LoRA layer uses (layers without it act as their base). */
  setAdapter(name: string): void {
    this.assertLive();
    this.config(name); // throws listing the adapters
    if (this.merged) throw new Error(`adapters are merged: unmerge() before switching to '${name}'`);
    this.active_ = name;
    for (const l of this.loraLayers().values()) l.setAdapter(name);
    this.applyFreeze();
  }

  /** Base outputs only, until enableAdapters(). */
  disableAdapters(): void {
    this.assertLive();
    for (const l of this.loraLayers().values()) l.disableAdapters();
  }
  enableAdapters(): void {
    this.assertLive();
    for (const l of this.loraLayers().values()) l.enableAdapters();
  }

  /** Deletes adapter `name`; layers left without adapters get their base layer back. */
  deleteAdapter(name: string): void {
    this.assertLive();
    this.config(name);
    for (const [p, l] of this.loraLayers()) {
      if (!l.adapterNames.includes(name)) continue;
      l.deleteAdapter(name);
      if (l.adapterNames.length === 0) this.putBack(p, l.releaseBase());
    }
    this.configs.delete(name);
    if (this.active_ === name) {
      this.active_ = this.adapterNames[0] ?? null;
      if (this.active_ !== null) for (const l of this.loraLayers().values()) l.setAdapter(this.active_);
    }
    this.applyFreeze();
  }

  private putBack(path: string, base: tf.layers.Layer): void {
    this.base.layers.set(path, base);
    if (!this.released) useUnfusedGradients(base);
  }

  /**
   * Freezes every weight except the active adapter's (A, B, DoRA m) and the biases its bias mode trains:
   * 'all' = every bias in the model, 'lora_only' = biases of wrapped layers. Every LoRA layer kind is treated alike.
   */
  private applyFreeze(): void {
    const mode = this.active_ === null ? 'none' : this.config().bias;
    for (const layer of this.base.layers.values()) {
      if (isLoraLayer(layer)) {
        layer.biasTrainable = mode !== 'none';
        continue;
      }
      const trainBias = mode === 'all';
      layer.trainable = trainBias && layer.weights.some(isBiasWeight);
      for (const w of layer.weights) w.trainable = trainBias && isBiasWeight(w);
    }
  }

  /** What an optimizer should update: the active adapter's weights (+ biases per bias mode), in tree order. */
  trainableVariables(): tf.Variable[] {
    const out: tf.Variable[] = [];
    const seen = new Set<LayerVariable>();
    for (const layer of this.base.layers.values()) {
      for (const w of layer.trainableWeights) {
        if (seen.has(w)) continue;
        seen.add(w);
        out.push(w.read() as tf.Variable);
      }
    }
    return out;
  }

  /**
   * LoRA+ groups (train's ParamGroup): groupA = lora_A (lr × 1), groupB = lora_B and 1-D weights (biases, DoRA
   * magnitudes) at lr × loraplus_lr_ratio (default 1). Embedding adapters group the same way.
   */
  paramGroups(): { name: string; variables: tf.Variable[]; lrScale: number }[] {
    const ratio = this.active_ === null ? 1 : (this.config().loraplus_lr_ratio ?? 1);
    const a: tf.Variable[] = [];
    const b: tf.Variable[] = [];
    for (const v of this.trainableVariables()) (v.rank === 1 || /\/lora_(embedding_)?B\//.test(v.name) ? b : a).push(v);
    return [
      { name: 'groupA', variables: a, lrScale: 1 },
      { name: 'groupB', variables: b, lrScale: ratio },
    ];
  }

  /** Trainable parameters and all parameters (base + every adapter, a quantised base at its float count). */
  countParams(): { trainable: number; all: number } {
    const seen = new Set<LayerVariable>();
    let all = 0;
    for (const layer of this.base.layers.values()) all += layerParams(layer, seen);
    const trainable = this.trainableVariables().reduce((s, v) => s + v.size, 0);
    return { trainable, all };
  }

  /** PEFT's print_trainable_parameters line: "trainable params: X || all params: Y || trainable%: Z". */
  report(): string {
    const { trainable, all } = this.countParams();
    const pct = all === 0 ? 0 : (100 * trainable) / all;
    const f = (n: number) => n.toLocaleString('en-US'); // PEFT prints thousands separators
    return `trainable params: ${f(trainable)} || all params: ${f(all)} || trainable%: ${pct.toFixed(4)}`;
  }

  /** Folds the active adapter into every LoRA layer's base: same outputs, base cost. */
  merge(): void {
    this.assertLive();
    const name = this.active_;
    if (name === null) throw new Error('no adapter to merge: add one first');
    for (const l of this.loraLayers().values()) if (l.adapterNames.includes(name)) l.merge(name);
  }
  /** Restores every base (W = W′ − ΔW). */
  unmerge(): void {
    this.assertLive();
    for (const l of this.loraLayers().values()) l.unmerge();
  }

  /**
   * Merges the active adapter and puts the base layers back: returns the model with no LoRA whose outputs equal this
   * model's (the tree itself, or for a tf.LayersModel a plain LayersModel of the original layers, which plain TF.js
   * can save and load). All adapters are freed; trainable flags return to their pre-LoRA values.
   */
  mergeAndUnload(): Unloaded<T> {
    this.assertLive();
    const name = this.active_;
    for (const l of this.loraLayers().values()) {
      if (name !== null && l.adapterNames.includes(name) && !l.mergedAdapters.includes(name)) {
        l.unmerge();
        l.merge(name);
      }
    }
    return this.release();
  }

  /** Removes LoRA without merging: the base back to its original outputs (PiSSA's residual base excepted). */
  unload(): Unloaded<T> {
    this.assertLive();
    for (const l of this.loraLayers().values()) l.unmerge();
    return this.release();
  }

  private release(): Unloaded<T> {
    this.released = true;
    for (const [p, l] of this.loraLayers()) this.base.layers.set(p, l.releaseBase());
    for (const layer of this.base.layers.values()) restoreDenseCall(layer);
    for (const [layer, on] of this.originalLayerFlags) layer.trainable = on;
    for (const [w, on] of this.originalFlags) w.trainable = on;
    this.configs.clear();
    this.active_ = null;
    const tree = this.base as unknown as Partial<LayersModelTree>;
    return (tree instanceof LayersModelTree ? tree.model : this.base) as Unloaded<T>;
  }
}

/**
 * Wraps every target of `config` in `model` with the LoRA layer for its kind (Dense, Conv1D, Embedding, quantised
 * Dense) holding adapter `adapterName`, in place, and freezes everything else. `model` is a LayerTree or any
 * tf.LayersModel; for the latter, train and run `loraModel.model` (model.fit works: only A and B are trainable).
 * A target that matches nothing is an error listing the layer paths; an unsupported kind names the supported ones.
 */
type AnyConfig = LoraConfigInput | LoraConfig;
export function injectLora(model: tf.LayersModel, config: AnyConfig, adapterName?: string): LoraModel<LayersModelTree>;
export function injectLora<T extends LayerTree>(model: T, config: AnyConfig, adapterName?: string): LoraModel<T>;
export function injectLora(model: LayerTree | tf.LayersModel, config: AnyConfig, adapterName = 'default'): LoraModel {
  return new LoraModel(asLayerTree(model), config, adapterName);
}

/** A LayerTree for `model`: itself, or a LayersModelTree for a tf.LayersModel. */
export function asLayerTree(model: LayerTree | tf.LayersModel): LayerTree {
  if (isLayersModel(model)) return new LayersModelTree(model);
  if (!(model as LayerTree).layers || !((model as LayerTree).layers instanceof Map)) {
    throw new Error('expected a LayerTree (an object with a `layers` Map of path → layer) or a tf.LayersModel');
  }
  return model as LayerTree;
}
