// Injecting LoRA into a LayerTree and managing it (PEFT tuners/lora/model.py LoraModel): wrap the targets,
// freeze everything else, count parameters, several named adapters over one frozen base, merge/unload.
// LoRA+ (Hayou et al. 2024): parameter groups where lora_B (and 1-D weights, as PEFT) learn ratio× faster.
import * as tf from '@tensorflow/tfjs';
import type { LayerTree } from '../models/module.js';
import { loraConfig, type LoraConfig, type LoraConfigInput } from './config.js';
import { deriveSeed } from './init.js';
import { linearDims, LoraDense, validateAdapterName } from './layer.js';
import { resolveTargets } from './targets.js';

type LayerVariable = tf.LayerVariable;

/** A weight is a bias if its own name (after the layer scope) is "bias". */
export function isBiasWeight(w: LayerVariable): boolean {
  return /(^|\/)bias(_\d+)?$/.test(w.originalName ?? w.name);
}

/** "1,081,344": PEFT prints counts with thousands separators. */
function grouped(n: number): string {
  return n.toLocaleString('en-US');
}

export interface ParamGroup {
  /** PEFT's LoRA+ group names: "groupA" (lora_A) and "groupB" (lora_B and 1-D weights: biases, DoRA magnitudes). */
  name: string;
  variables: tf.Variable[];
  /** Multiply the base learning rate by this for the group (LoRA+: loraplus_lr_ratio for groupB, else 1). */
  lrScale: number;
}

/**
 * A LayerTree with LoRA injected. `base` is the same tree object, whose map now holds LoraDense wrappers at
 * the targets; run the model as before and it uses the active adapter.
 */
export class LoraModel {
  readonly base: LayerTree;
  private readonly configs = new Map<string, LoraConfig>();
  private active_: string | null = null;
  private released = false;
  /** Every weight's trainable flag before injection, restored by mergeAndUnload()/unload(). */
  private readonly originalFlags = new Map<LayerVariable, boolean>();
  private readonly originalLayerFlags = new Map<tf.layers.Layer, boolean>();

  /** Use injectLora(); this wraps `tree` in place. */
  constructor(tree: LayerTree, config: LoraConfigInput | LoraConfig, adapterName = 'default') {
    for (const [path, layer] of tree.layers) {
      if (layer instanceof LoraDense) {
        throw new Error(`layer '${path}' already has LoRA: add another adapter with loraModel.addAdapter(name, config) instead of injecting again`);
      }
    }
    this.base = tree;
    for (const layer of tree.layers.values()) {
      this.originalLayerFlags.set(layer, layer.trainable);
      for (const w of layer.weights) this.originalFlags.set(w, w.trainable);
    }
    this.addAdapter(adapterName, config);
  }

  private assertLive(): void {
    if (this.released) throw new Error('this LoraModel was unloaded (mergeAndUnload/unload): use the LayerTree it returned');
  }

  /** Path → LoraDense for every wrapped layer, in the tree's order. */
  loraLayers(): Map<string, LoraDense> {
    const out = new Map<string, LoraDense>();
    for (const [p, l] of this.base.layers) if (l instanceof LoraDense) out.set(p, l);
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
    if (c === undefined) throw new Error(`no adapter '${String(n)}'; adapters are: ${this.adapterNames.join(', ') || '(none)'}`);
    return c;
  }
  /** True while any layer has an adapter merged into its kernel. */
  get merged(): boolean {
    return [...this.loraLayers().values()].some((l) => l.merged);
  }

  /** Dropout on the LoRA branch follows this flag when a call does not pass `training` itself. */
  train(on = true): void {
    for (const l of this.loraLayers().values()) l.training = on;
  }

  /**
   * Adds adapter `name` for `config` (wrapping any new targets). The active adapter does not change (as PEFT).
   * Everything is checked before anything changes.
   */
  addAdapter(name: string, config: LoraConfigInput | LoraConfig): void {
    this.assertLive();
    validateAdapterName(name);
    const c = loraConfig(config);
    if (this.configs.has(name)) throw new Error(`adapter '${name}' already exists: deleteAdapter('${name}') first or pick another name`);
    if (this.merged) throw new Error(`adapters are merged: unmerge() before adding '${name}'`);
    const targets = resolveTargets(this.base, c);
    for (const p of targets) {
      const [dIn, dOut] = linearDims(this.base.layers.get(p)!); // throws for a Dense that is not built yet
      if (c.init_lora_weights === 'pissa' && c.r > Math.min(dIn, dOut)) {
        throw new Error(`PiSSA needs r <= min(in, out) = ${Math.min(dIn, dOut)} at '${p}', got r = ${c.r}: lower r`);
      }
    }
    for (const p of targets) {
      let l = this.base.layers.get(p)!;
      if (!(l instanceof LoraDense)) {
        l = new LoraDense({ base: l, name: `${p}.lora` });
        this.base.layers.set(p, l);
      }
      const ld = l as LoraDense;
      ld.addAdapter(name, c, deriveSeed(c.seed, name, p));
    }
    this.configs.set(name, c);
    if (this.active_ === null) this.active_ = name;
    this.setAdapter(this.active_);
  }

  /** Makes `name` the adapter every wrapped layer uses (layers without it act as their base). */
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

  /** Deletes adapter `name`; layers left without adapters get their plain Dense back. */
  deleteAdapter(name: string): void {
    this.assertLive();
    this.config(name);
    for (const [p, l] of this.loraLayers()) {
      if (!l.adapterNames.includes(name)) continue;
      l.deleteAdapter(name);
      if (l.adapterNames.length === 0) this.base.layers.set(p, l.releaseBase());
    }
    this.configs.delete(name);
    if (this.active_ === name) {
      this.active_ = this.adapterNames[0] ?? null;
      if (this.active_ !== null) for (const l of this.loraLayers().values()) l.setAdapter(this.active_);
    }
    this.applyFreeze();
  }

  /**
   * Freezes every weight except the active adapter's A, B (and DoRA m) and the biases its bias mode trains:
   * 'all' = every bias in the model, 'lora_only' = biases of wrapped layers.
   */
  private applyFreeze(): void {
    const mode = this.active_ === null ? 'none' : this.config().bias;
    for (const layer of this.base.layers.values()) {
      if (layer instanceof LoraDense) {
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

  /** LoRA+ groups: groupA = lora_A (lr × 1), groupB = lora_B and 1-D weights (lr × loraplus_lr_ratio, default 1). */
  paramGroups(): ParamGroup[] {
    const ratio = this.active_ === null ? 1 : (this.config().loraplus_lr_ratio ?? 1);
    const a: tf.Variable[] = [];
    const b: tf.Variable[] = [];
    for (const v of this.trainableVariables()) {
      (v.rank === 1 || /\/lora_B\//.test(v.name) ? b : a).push(v);
    }
    return [
      { name: 'groupA', variables: a, lrScale: 1 },
      { name: 'groupB', variables: b, lrScale: ratio },
    ];
  }

  /** Trainable parameters and all parameters (base + every adapter), each weight counted once. */
  countParams(): { trainable: number; all: number } {
    const seen = new Set<LayerVariable>();
    let all = 0;
    for (const layer of this.base.layers.values()) {
      for (const w of layer.weights) {
        if (seen.has(w)) continue;
        seen.add(w);
        all += w.shape.reduce((x: number, y) => x * (y ?? 1), 1);
      }
    }
    const trainable = this.trainableVariables().reduce((s, v) => s + v.size, 0);
    return { trainable, all };
  }

  /** PEFT's print_trainable_parameters line: "trainable params: X || all params: Y || trainable%: Z". */
  report(): string {
    const { trainable, all } = this.countParams();
    const pct = all === 0 ? 0 : (100 * trainable) / all;
    return `trainable params: ${grouped(trainable)} || all params: ${grouped(all)} || trainable%: ${pct.toFixed(4)}`;
  }

  /** Folds the active adapter into every wrapped layer's kernel: same outputs, base cost. */
  merge(): void {
    this.assertLive();
    const name = this.active_;
    if (name === null) throw new Error('no adapter to merge: add one first');
    for (const l of this.loraLayers().values()) if (l.adapterNames.includes(name)) l.merge(name);
  }
  /** Restores every base kernel (W = W′ − ΔW). */
  unmerge(): void {
    this.assertLive();
    for (const l of this.loraLayers().values()) l.unmerge();
  }

  /**
   * Merges the active adapter and puts the plain Dense layers back: returns `base`, a LayerTree with no LoRA
   * whose outputs equal this model's. All adapters are freed; trainable flags return to their pre-LoRA values.
   */
  mergeAndUnload(): LayerTree {
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

  /** Removes LoRA without merging: `base` back to its original outputs (PiSSA's residual base excepted). */
  unload(): LayerTree {
    this.assertLive();
    for (const l of this.loraLayers().values()) l.unmerge();
    return this.release();
  }

  private release(): LayerTree {
    for (const [p, l] of this.loraLayers()) this.base.layers.set(p, l.releaseBase());
    for (const [layer, on] of this.originalLayerFlags) layer.trainable = on;
    for (const [w, on] of this.originalFlags) w.trainable = on;
    this.configs.clear();
    this.active_ = null;
    this.released = true;
    return this.base;
  }
}

/**
 * Wraps every target of `config` in `model` with a LoraDense holding adapter `adapterName`, in place, and
 * freezes everything else. A target that matches nothing is an error listing the layer paths.
 */
export function injectLora(model: LayerTree, config: LoraConfigInput | LoraConfig, adapterName = 'default'): LoraModel {
  return new LoraModel(model, config, adapterName);
}
