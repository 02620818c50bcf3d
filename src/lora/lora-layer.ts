// The one LoRA layer contract (PEFT tuners/lora/layer.py LoraLayer): a frozen base layer plus adapters by name, each a
// LoraBranch (A [r, in], B [out, r], scaling; branch.ts). Every LoRA layer kind (dense, Conv1D, embedding, quantised
// dense) extends LoraLayerBase; injection, adapter files, combination and experiments see only `LoraLayer`.
// ΔW = scaling·B·A is [out, in] of the branch (an embedding's in = V rows, out = d); merge folds it into the base.
import * as tf from '@tensorflow/tfjs';
import { LoraBranch } from './branch.js';
import { loraConfig, type LoraConfig, type LoraConfigInput } from './config.js';
import { deriveSeed } from './init.js';

type LayerVariable = tf.LayerVariable;

/** Every LoRA layer carries this brand. Symbol.for: the same symbol in every copy of this module. */
export const LORA_LAYER: unique symbol = Symbol.for('lora-lab.LoraLayer');

/** The base-layer kinds with a LoRA wrapper. */
export type LoraLayerKind = 'dense' | 'conv1d' | 'embedding' | 'quantized';

/** One adapter in one layer. */
export interface LoraAdapter {
  readonly config: LoraConfig;
  /** α/r, or α/√r with use_rslora. */
  readonly scaling: number;
  readonly branch: LoraBranch;
  readonly lora_A: LayerVariable; // [r, in]
  readonly lora_B: LayerVariable; // [out, r]
  /** DoRA's magnitude m [out] (PEFT: lora_magnitude_vector); null without DoRA. */
  readonly lora_magnitude_vector: LayerVariable | null;
}

/** One tensor of an adapter as PEFT's files name it: `base_model.model.<path>.<suffix>`. */
export interface PeftTensor {
  readonly suffix: string;
  readonly role: 'lora_A' | 'lora_B' | 'lora_magnitude_vector';
  readonly variable: LayerVariable;
}

/** What every LoRA layer offers, whatever its base. */
export interface LoraLayer extends tf.layers.Layer {
  readonly [LORA_LAYER]: true;
  readonly kind: LoraLayerKind;
  /** The wrapped layer; its weights are the frozen base. */
  readonly base: tf.layers.Layer;
  /** The branch's sizes: lora_A is [r, inFeatures], lora_B [outFeatures, r]. */
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** PEFT's fan_in_fan_out: the base stores W as [in, out] in PyTorch (GPT-2's Conv1D). */
  readonly fanInFanOut: boolean;
  /** Dropout on the branch follows this when a call does not pass `training`. */
  training: boolean;
  /** The base bias trains (bias 'all' / 'lora_only'). */
  biasTrainable: boolean;
  readonly adapterNames: string[];
  readonly activeAdapter: string | null;
  readonly disabled: boolean;
  readonly merged: boolean;
  readonly mergedAdapters: string[];
  adapter(name: string): LoraAdapter;
  /** Throws if adapter `name` with `config` cannot be added here (name taken, merged, a variant this kind lacks). */
  canAdd(name: string, config: LoraConfig): void;
  addAdapter(name: string, config: LoraConfigInput | LoraConfig, seed?: number): LoraAdapter;
  setAdapter(name: string): void;
  disableAdapters(): void;
  enableAdapters(): void;
  deleteAdapter(name: string): void;
  /** Adapter `name`'s tensors under PEFT's key suffixes (lora_A.weight, lora_embedding_A, ...). */
  peftTensors(name: string): PeftTensor[];
  /** The base's bias [out], or null. */
  baseBias(): LayerVariable | null;
  /** The frozen base weight as the branch sees it, [out, in] (Wᵀ of a kernel, Eᵀ of a table). Caller disposes. */
  baseWeight(): tf.Tensor2D;
  /** ΔW = scaling·B·A [out, in] (DoRA: the direction update only, as PEFT). Caller disposes. */
  deltaWeight(name?: string): tf.Tensor2D;
  merge(name?: string): void;
  unmerge(): void;
  /** Drops every adapter and returns the base, keeping any merged update in it. */
  releaseBase(): tf.layers.Layer;
}

/** An adapter record for `branch` (and DoRA's magnitude). */
export function adapterOf(branch: LoraBranch, magnitude: LayerVariable | null): LoraAdapter {
  const { config, scaling, lora_A, lora_B } = branch;
  return { config, scaling, branch, lora_A, lora_B, lora_magnitude_vector: magnitude };
}

/** True for any lora-lab LoRA layer (by its brand, not `instanceof`). */
export function isLoraLayer(layer: unknown): layer is LoraLayer {
  return typeof layer === 'object' && layer !== null && (layer as Record<symbol, unknown>)[LORA_LAYER] === true;
}

/** Adapter names become folder names in saved adapters: keep them plain. */
export function validateAdapterName(name: string): void {
  if (typeof name !== 'string' || !/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(name)) {
    throw new Error(
      `adapter name must be letters, digits, '_', '-' or '.', not starting with '.' or '-', got ` +
      `${JSON.stringify(name)}: e.g. 'default' or 'task_a'`,
    );
  }
}

/** The adapters and their state, as getConfig() records them: every LoraConfig field, so fromConfig rebuilds them. */
interface SerializedState {
  adapters: { name: string; config: LoraConfig }[];
  activeAdapter: string | null;
  disabled: boolean;
  biasTrainable: boolean;
}

// TF.js's model.json rewrites every string in a layer config (snake_case on save, camelCase on load: 'q_proj' comes
// back as 'qProj'), so the state travels as lowercase hex of its JSON, which both rewrites leave alone.
function toHex(s: string): string {
  return [...new TextEncoder().encode(s)].map((b) => b.toString(16).padStart(2, '0')).join('');
}
function fromHex(h: string): string {
  if (typeof h !== 'string' || !/^(?:[0-9a-f]{2})*$/.test(h)) {
    throw new Error(`a LoRA layer config's loraState is not hex-encoded JSON`);
  }
  return new TextDecoder().decode(Uint8Array.from(h.match(/../g) ?? [], (x) => parseInt(x, 16)));
}

/**
 * What every kind shares: the adapters and which one is active, trainable flags in step with it (PEFT's
 * requires_grad), merge bookkeeping and serialization. A kind supplies its branch sizes, how to run, and how to
 * fold ΔW into its base.
 */
export abstract class LoraLayerBase extends tf.layers.Layer implements LoraLayer {
  readonly [LORA_LAYER] = true as const;
  abstract readonly kind: LoraLayerKind;
  readonly base: tf.layers.Layer;
  readonly inFeatures: number;
  readonly outFeatures: number;
  training = false;
  private biasTrainable_ = false;
  private readonly adapters_ = new Map<string, LoraAdapter>();
  private active_: string | null = null;
  private disabled_ = false;
  /** Adapters merged into the base, in merge order, with what unmerging each needs (DoRA's scale). */
  private readonly merged_: { name: string; undo: tf.Tensor | null }[] = [];
  /** Set while fromConfig rebuilds a layer whose weights are loaded next: skip data-dependent initialisation. */
  protected restoring = false;

  protected constructor(args: { base: tf.layers.Layer; name: string; inFeatures: number; outFeatures: number }) {
    super({ name: args.name, trainable: true });
    this.base = args.base;
    this.inFeatures = args.inFeatures;
    this.outFeatures = args.outFeatures;
    this.base.trainable = false; // freezes the base's LayerVariables (and their tf.Variables)
    this.built = true;
  }

  get fanInFanOut(): boolean {
    return false;
  }

  // ---- what a kind provides --------------------------------------------------------------------

  /** PEFT's names for A and B: 'lora_A' / 'lora_B' (files add '.weight'), or 'lora_embedding_A' / 'lora_embedding_B'. */
  protected abstract readonly peftNames: { A: string; B: string; weightSuffix: string };
  /** Throws (naming the feature) for a config this kind cannot run, before anything changes. */
  protected abstract checkConfig(config: LoraConfig): void;
  /** A new adapter's branch (and DoRA magnitude); may rewrite the base (PiSSA). */
  protected abstract createAdapter(name: string, config: LoraConfig, seed: number): LoraAdapter;
  /** Folds `a` into the base; returns what unmerging needs (or null). */
  protected abstract mergeInto(a: LoraAdapter): tf.Tensor | null;
  /** Undoes mergeInto. */
  protected abstract unmergeFrom(a: LoraAdapter, undo: tf.Tensor | null): void;
  abstract baseWeight(): tf.Tensor2D;

  baseBias(): LayerVariable | null {
    return null;
  }

  /** A branch of this layer's sizes for adapter `name`. */
  protected newBranch(name: string, config: LoraConfig, seed: number, kind: 'linear' | 'embedding',
    init?: { lora_A: tf.Tensor2D; lora_B: tf.Tensor2D }): LoraBranch {
    return new LoraBranch({
      prefix: this.name, adapter: name, names: this.peftNames, inFeatures: this.inFeatures, outFeatures: this.outFeatures,
      config, seed, kind, init,
    });
  }

  // ---- adapters --------------------------------------------------------------------------------

  get adapterNames(): string[] {
    return [...this.adapters_.keys()];
  }
  /** The active adapter's name (may name an adapter this layer lacks: it then acts as its base). */
  get activeAdapter(): string | null {
    return this.active_;
  }
  get disabled(): boolean {
    return this.disabled_;
  }
  get merged(): boolean {
    return this.merged_.length > 0;
  }
  get mergedAdapters(): string[] {
    return this.merged_.map((m) => m.name);
  }
  adapter(name: string): LoraAdapter {
    const a = this.adapters_.get(name);
    if (a === undefined) {
      throw new Error(
        `layer '${this.name}' has no adapter '${name}'; adapters are: ${this.adapterNames.join(', ') || '(none)'}`,
      );
    }
    return a;
  }

  /** Checks that adapter `name` with `config` could be added here, changing nothing. */
  canAdd(name: string, config: LoraConfig): void {
    validateAdapterName(name);
    if (this.adapters_.has(name)) {
      throw new Error(`layer '${this.name}' already has an adapter '${name}': delete it first or pick another name`);
    }
    if (this.merged) {
      throw new Error(
        `layer '${this.name}' has merged adapters (${this.mergedAdapters.join(', ')}): unmerge() before adding ` +
        `'${name}'`,
      );
    }
    this.checkConfig(config);
  }

  /** Adds adapter `name` (active if none is). `seed` overrides the one derived from config.seed and the names. */
  addAdapter(name: string, config: LoraConfigInput | LoraConfig, seed?: number): LoraAdapter {
    const c = loraConfig(config);
    this.canAdd(name, c);
    const a = this.createAdapter(name, c, seed ?? deriveSeed(c.seed, name, this.name));
    this.adapters_.set(name, a);
    if (this.active_ === null) this.active_ = name;
    this.syncTrainableFlags();
    return a;
  }

  /** Makes `name` the adapter the forward pass uses (a name this layer lacks makes it act as its base). */
  setAdapter(name: string): void {
    this.active_ = name;
    this.syncTrainableFlags();
  }

  /** Base output only (unmerges first if needed, as PEFT does). */
  disableAdapters(): void {
    if (this.merged) this.unmerge();
    this.disabled_ = true;
    this.syncTrainableFlags();
  }
  enableAdapters(): void {
    this.disabled_ = false;
    this.syncTrainableFlags();
  }

  /** Deletes adapter `name` and frees its weights (unmerging everything first if anything is merged). */
  deleteAdapter(name: string): void {
    const a = this.adapter(name);
    if (this.merged) this.unmerge();
    a.branch.dispose();
    a.lora_magnitude_vector?.dispose();
    this.adapters_.delete(name);
    if (this.active_ === name) this.active_ = this.adapterNames[0] ?? null;
    this.syncTrainableFlags();
  }

  set biasTrainable(on: boolean) {
    this.biasTrainable_ = on;
    this.syncTrainableFlags();
  }
  get biasTrainable(): boolean {
    return this.biasTrainable_;
  }

  /** Keeps the variables' trainable flags in step with the active adapter (PEFT's requires_grad). */
  private syncTrainableFlags(): void {
    for (const [name, a] of this.adapters_) {
      const on = name === this.active_ && !this.disabled_;
      a.branch.trainable = on;
      if (a.lora_magnitude_vector) a.lora_magnitude_vector.trainable = on;
    }
    const bias = this.baseBias();
    if (bias) bias.trainable = this.biasTrainable_;
  }

  peftTensors(name: string): PeftTensor[] {
    const a = this.adapter(name);
    const { A, B, weightSuffix } = this.peftNames;
    const out: PeftTensor[] = [
      { suffix: `${A}${weightSuffix}`, role: 'lora_A', variable: a.lora_A },
      { suffix: `${B}${weightSuffix}`, role: 'lora_B', variable: a.lora_B },
    ];
    const m = a.lora_magnitude_vector;
    if (m) out.push({ suffix: 'lora_magnitude_vector', role: 'lora_magnitude_vector', variable: m });
    return out;
  }

  // ---- weights as TF.js sees them ----------------------------------------------------------------

  override get trainableWeights(): LayerVariable[] {
    if (!this.trainable_) return [];
    const out: LayerVariable[] = [];
    const a = this.active_ === null || this.disabled_ ? undefined : this.adapters_.get(this.active_);
    if (a) out.push(a.lora_A, a.lora_B, ...(a.lora_magnitude_vector ? [a.lora_magnitude_vector] : []));
    const bias = this.baseBias();
    if (bias && this.biasTrainable_) out.push(bias);
    return out;
  }
  override set trainableWeights(_weights: LayerVariable[]) {
    // Layer's constructor initialises this list; a LoRA layer computes it from its adapters instead.
  }
  override get nonTrainableWeights(): LayerVariable[] {
    const trainable = new Set(this.trainableWeights);
    const all: LayerVariable[] = [...this.base.weights];
    for (const a of this.adapters_.values()) {
      all.push(a.lora_A, a.lora_B, ...(a.lora_magnitude_vector ? [a.lora_magnitude_vector] : []));
    }
    return all.filter((w) => !trainable.has(w));
  }
  override set nonTrainableWeights(_weights: LayerVariable[]) {
    // See trainableWeights.
  }

  // ---- forward helpers ----------------------------------------------------------------------------

  /** The adapter the forward pass adds, or undefined when disabled, merged or absent here. */
  protected liveAdapter(): LoraAdapter | undefined {
    if (this.disabled_ || this.active_ === null) return undefined;
    if (this.merged_.some((m) => m.name === this.active_)) return undefined;
    return this.adapters_.get(this.active_);
  }

  /** kwargs.training, else the layer's `training` flag. */
  protected isTraining(kwargs: Record<string, unknown>): boolean {
    return (kwargs['training'] as boolean | undefined) ?? this.training;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return this.base.computeOutputShape(inputShape);
  }

  // ---- ΔW, merge, unmerge -------------------------------------------------------------------------

  deltaWeight(adapter?: string): tf.Tensor2D {
    return this.adapter(adapter ?? this.requireActive()).branch.deltaWeight();
  }

  private requireActive(): string {
    if (this.active_ === null) throw new Error(`layer '${this.name}' has no adapters: add one first`);
    return this.active_;
  }

  /** Folds adapter `name` (default: the active one) into the base: the same outputs at the base's cost. */
  merge(name?: string): void {
    const n = name ?? this.requireActive();
    const a = this.adapter(n);
    if (this.merged_.some((m) => m.name === n)) return; // already merged: nothing to do
    this.merged_.push({ name: n, undo: this.mergeInto(a) });
  }

  /** Undoes every merge, newest first. */
  unmerge(): void {
    while (this.merged_.length > 0) {
      const { name, undo } = this.merged_.pop()!;
      this.unmergeFrom(this.adapter(name), undo);
      undo?.dispose();
    }
  }

  /** Frees all adapters' weights (not the base's); the layer is unusable afterwards. */
  disposeAdapters(): void {
    if (this.merged) this.unmerge();
    for (const name of this.adapterNames) this.deleteAdapter(name);
  }

  releaseBase(): tf.layers.Layer {
    for (const m of this.merged_.splice(0)) m.undo?.dispose();
    for (const name of this.adapterNames) this.deleteAdapter(name);
    return this.base;
  }

  // ---- serialization ----------------------------------------------------------------------------

  override getConfig(): tf.serialization.ConfigDict {
    const state: SerializedState = {
      adapters: [...this.adapters_].map(([name, a]) => ({ name, config: a.config })),
      activeAdapter: this.active_,
      disabled: this.disabled_,
      biasTrainable: this.biasTrainable_,
    };
    return {
      ...super.getConfig(),
      base: { className: this.base.getClassName(), config: this.base.getConfig() },
      inFeatures: this.inFeatures,
      loraState: toHex(JSON.stringify(state)),
    } as unknown as tf.serialization.ConfigDict;
  }

  /**
   * Rebuilds the layer from getConfig(): the base from its registered class, built, and the adapters shaped as
   * configured. Weights are not part of a config: a LayersModel loads them next (tf.loadLayersModel), as in Keras.
   */
  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    const c = config as unknown as {
      name: string;
      trainable?: boolean;
      base: { className: string; config: tf.serialization.ConfigDict };
      inFeatures: number;
      loraState: string;
    };
    const state = JSON.parse(fromHex(c.loraState)) as SerializedState;
    const entry = tf.serialization.SerializationMap.getMap().classNameMap[c.base.className];
    if (entry === undefined) {
      throw new Error(`LoRA layer '${c.name}': its base class ${c.base.className} is not registered`);
    }
    const [baseCls, baseFromConfig] = entry;
    const base = baseFromConfig(baseCls, c.base.config) as unknown as tf.layers.Layer;
    type Kind = { buildBase(base: tf.layers.Layer, inFeatures: number): void };
    const ctor = cls as unknown as Kind & (new (args: { base: tf.layers.Layer; name: string }) => LoraLayerBase);
    ctor.buildBase(base, c.inFeatures);
    const layer = new ctor({ base, name: c.name });
    layer.restoring = true;
    for (const a of state.adapters) layer.addAdapter(a.name, a.config);
    layer.restoring = false;
    if (state.activeAdapter !== null) layer.setAdapter(state.activeAdapter);
    if (state.disabled) layer.disableAdapters();
    layer.biasTrainable = state.biasTrainable;
    if (c.trainable === false) layer.trainable = false;
    return layer as unknown as T;
  }
}
