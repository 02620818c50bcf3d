// LoraDense: a frozen Dense layer plus LoRA adapters (Hu et al. 2021, eq. 3; PEFT tuners/lora/layer.py Linear).
// PEFT orientation for LoRA: W [out, in], lora_A [r, in], lora_B [out, r], ΔW = scaling·B·A [out, in]. The TF.js
// kernel K = Wᵀ is [in, out], so y = act(x·K + b + scaling·(x·Aᵀ)·Bᵀ) and a merge adds ΔWᵀ to K.
// DoRA (Liu et al. 2024, eq. 5, §4.3): y = act((m / ‖W + ΔW‖_row) ⊙ ((W + ΔW)·x) + b), the norm detached.
import * as tf from '@tensorflow/tfjs';
import { loraConfig, loraScaling, type LoraConfig, type LoraConfigInput } from './config.js';
import { deriveSeed, initialLoraWeights } from './init.js';

type LayerVariable = tf.LayerVariable;
type Kwargs = Record<string, unknown>;

/** What LoraDense reads from a TF.js Dense (its fields are private in the typings, public at run time). */
interface DenseInternals {
  kernel: LayerVariable | null; // [in, out]
  bias: LayerVariable | null; // [out]
  activation: { apply(x: tf.Tensor): tf.Tensor; getClassName(): string } | null;
}

/** True for a tf.layers.dense layer. */
export function isDense(layer: tf.layers.Layer): boolean {
  return layer.getClassName() === 'Dense';
}

function denseInternals(base: tf.layers.Layer): DenseInternals & { kernel: LayerVariable } {
  if (!isDense(base)) {
    throw new Error(`LoRA wraps Dense layers only; layer '${base.name}' is a ${base.getClassName()}`);
  }
  const d = base as unknown as DenseInternals;
  if (!base.built || d.kernel == null) {
    throw new Error(`Dense layer '${base.name}' is not built yet: call it once (e.g. on a zeros input) before adding LoRA`);
  }
  return d as DenseInternals & { kernel: LayerVariable };
}

/** [in, out] of a built Dense or a LoraDense; errors name a layer that is not Dense or not built yet. */
export function linearDims(layer: tf.layers.Layer): [number, number] {
  if (layer instanceof LoraDense) return [layer.inFeatures, layer.outFeatures];
  return denseInternals(layer).kernel.shape as [number, number];
}

/** Stops gradients (TF.js has no stopGradient): identity forward, zero backward. DoRA detaches ‖W + ΔW‖. */
const detach = tf.customGrad((...args: unknown[]) => {
  const x = args[0] as tf.Tensor;
  return { value: x.clone(), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) };
});

/** One adapter's weights inside a layer. */
export interface LoraAdapterWeights {
  readonly config: LoraConfig;
  /** α/r, or α/√r with use_rslora. */
  readonly scaling: number;
  readonly lora_A: LayerVariable; // [r, in]
  readonly lora_B: LayerVariable; // [out, r]
  /** DoRA's magnitude m [out] (PEFT: lora_magnitude_vector); null without DoRA. */
  readonly lora_magnitude_vector: LayerVariable | null;
}

export interface LoraDenseArgs {
  /** A built tf.layers.dense; its kernel and bias are frozen and shared (not copied). */
  base: tf.layers.Layer;
  /** Layer name. @default 'lora_' + base.name */
  name?: string;
}

/** Adapter names become folder names in saved adapters: keep them plain. */
export function validateAdapterName(name: string): void {
  if (typeof name !== 'string' || !/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(name)) {
    throw new Error(`adapter name must be letters, digits, '_', '-' or '.', not starting with '.' or '-', got ${JSON.stringify(name)}: e.g. 'default' or 'task_a'`);
  }
}

export class LoraDense extends tf.layers.Layer {
  static className = 'LoraDense';
  /** The wrapped Dense; its weights are this layer's frozen base W. */
  readonly base: tf.layers.Layer;
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** Default for call() when kwargs.training is not given: dropout on the LoRA branch only while training. */
  training = false;
  /** Bias modes 'all' / 'lora_only' set this: the base bias is then trainable. */
  private biasTrainable_ = false;
  private readonly adapters_ = new Map<string, LoraAdapterWeights>();
  private active_: string | null = null;
  private disabled_ = false;
  /** Adapters merged into the base kernel, in merge order; DoRA keeps its scale m/‖W+ΔW‖ [out] for unmerge. */
  private readonly merged_: { name: string; doraScale: tf.Tensor1D | null }[] = [];
  private dropoutCalls = 0;

  constructor(args: LoraDenseArgs) {
    super({ name: args.name ?? `lora_${args.base.name}`, trainable: true });
    const d = denseInternals(args.base);
    this.base = args.base;
    [this.inFeatures, this.outFeatures] = d.kernel.shape as [number, number];
    this.base.trainable = false; // freezes K and b (LayerVariable and tf.Variable flags)
    this.built = true;
  }

  private get parts(): DenseInternals & { kernel: LayerVariable } {
    return denseInternals(this.base);
  }

  // ---- adapters --------------------------------------------------------------------------------

  /** Names of this layer's adapters, in creation order. */
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
  /** True while at least one adapter is merged into the base kernel. */
  get merged(): boolean {
    return this.merged_.length > 0;
  }
  get mergedAdapters(): string[] {
    return this.merged_.map((m) => m.name);
  }
  adapter(name: string): LoraAdapterWeights {
    const a = this.adapters_.get(name);
    if (a === undefined) {
      throw new Error(`layer '${this.name}' has no adapter '${name}'; adapters are: ${this.adapterNames.join(', ') || '(none)'}`);
    }
    return a;
  }

  /**
   * Adds adapter `name` (and makes it active if none is). Initialisation follows config.init_lora_weights;
   * PiSSA also replaces the base kernel by its residual. `seed` overrides the config's seed for this layer.
   */
  addAdapter(name: string, config: LoraConfigInput | LoraConfig, seed?: number): LoraAdapterWeights {
    validateAdapterName(name);
    const c = loraConfig(config);
    if (this.adapters_.has(name)) throw new Error(`layer '${this.name}' already has an adapter '${name}': delete it first or pick another name`);
    if (this.merged) throw new Error(`layer '${this.name}' has merged adapters (${this.mergedAdapters.join(', ')}): unmerge() before adding '${name}'`);
    const { kernel } = this.parts;
    const scaling = loraScaling(c);
    const init = initialLoraWeights(kernel.read() as tf.Tensor2D, c, seed ?? deriveSeed(c.seed, name, this.name));
    if (init.residualKernel) {
      kernel.write(init.residualKernel);
      init.residualKernel.dispose();
    }
    const lora_A = new tf.LayerVariable(init.lora_A, 'float32', `${this.name}/lora_A/${name}`, true);
    const lora_B = new tf.LayerVariable(init.lora_B, 'float32', `${this.name}/lora_B/${name}`, true);
    init.lora_A.dispose();
    init.lora_B.dispose();
    let magnitude: LayerVariable | null = null;
    if (c.use_dora) {
      // m starts at ‖W + ΔW‖ per output row, so the layer still equals its base at step 0.
      const m = tf.tidy(() => this.rowNorm(kernel.read(), lora_A.read(), lora_B.read(), scaling));
      magnitude = new tf.LayerVariable(m, 'float32', `${this.name}/lora_magnitude_vector/${name}`, true);
      m.dispose();
    }
    const weights: LoraAdapterWeights = { config: c, scaling, lora_A, lora_B, lora_magnitude_vector: magnitude };
    this.adapters_.set(name, weights);
    if (this.active_ === null) this.active_ = name;
    this.syncTrainableFlags();
    return weights;
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
    a.lora_A.dispose();
    a.lora_B.dispose();
    a.lora_magnitude_vector?.dispose();
    this.adapters_.delete(name);
    if (this.active_ === name) this.active_ = this.adapterNames[0] ?? null;
    this.syncTrainableFlags();
  }

  /** The base bias is trainable (bias 'all' / 'lora_only') or frozen. */
  set biasTrainable(on: boolean) {
    this.biasTrainable_ = on;
    this.syncTrainableFlags();
  }
  get biasTrainable(): boolean {
    return this.biasTrainable_;
  }

  /** Keeps LayerVariable/tf.Variable trainable flags in step with the active adapter (PEFT's requires_grad). */
  private syncTrainableFlags(): void {
    for (const [name, a] of this.adapters_) {
      const on = name === this.active_ && !this.disabled_;
      a.lora_A.trainable = on;
      a.lora_B.trainable = on;
      if (a.lora_magnitude_vector) a.lora_magnitude_vector.trainable = on;
    }
    const { bias } = this.parts;
    if (bias) bias.trainable = this.biasTrainable_;
  }

  // ---- weights as TF.js sees them ----------------------------------------------------------------

  override get trainableWeights(): LayerVariable[] {
    if (!this.trainable_) return [];
    const out: LayerVariable[] = [];
    const a = this.active_ === null || this.disabled_ ? undefined : this.adapters_.get(this.active_);
    if (a) out.push(a.lora_A, a.lora_B, ...(a.lora_magnitude_vector ? [a.lora_magnitude_vector] : []));
    const { bias } = this.parts;
    if (bias && this.biasTrainable_) out.push(bias);
    return out;
  }
  override set trainableWeights(_weights: LayerVariable[]) {
    // Layer's constructor initialises this list; LoraDense computes it from its adapters instead.
  }
  override get nonTrainableWeights(): LayerVariable[] {
    const trainable = new Set(this.trainableWeights);
    const { kernel, bias } = this.parts;
    const all: LayerVariable[] = [kernel, ...(bias ? [bias] : [])];
    for (const a of this.adapters_.values()) {
      all.push(a.lora_A, a.lora_B, ...(a.lora_magnitude_vector ? [a.lora_magnitude_vector] : []));
    }
    return all.filter((w) => !trainable.has(w));
  }
  override set nonTrainableWeights(_weights: LayerVariable[]) {
    // See trainableWeights.
  }

  // ---- forward ----------------------------------------------------------------------------------

  /** The adapter the forward pass adds, or undefined when disabled, merged or absent here. */
  private liveAdapter(): LoraAdapterWeights | undefined {
    if (this.disabled_ || this.active_ === null) return undefined;
    if (this.merged_.some((m) => m.name === this.active_)) return undefined;
    return this.adapters_.get(this.active_);
  }

  /** ‖W + scaling·B·A‖ per output row, computed as column norms of K + scaling·Aᵀ·Bᵀ [in, out] → [out]. */
  private rowNorm(K: tf.Tensor, A: tf.Tensor, B: tf.Tensor, scaling: number): tf.Tensor1D {
    const Wn = K.add(tf.matMul(A, B, true, true).mul(scaling)); // [in, out]
    return tf.sqrt(tf.sum(tf.square(Wn), 0)) as tf.Tensor1D; // [out]
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0]! : inputs;
      const a = this.liveAdapter();
      // Merged, disabled or no adapter here: exactly the base Dense (same kernel call, no extra cost).
      if (a === undefined) return this.base.apply(x, kwargs) as tf.Tensor;
      const { kernel, bias, activation } = this.parts;
      const training = (kwargs.training as boolean | undefined) ?? this.training;
      const lead = x.shape.slice(0, -1);
      const x2 = x.reshape([-1, this.inFeatures]); // [N, in]
      const K = kernel.read(); // [in, out]
      const p = a.config.lora_dropout;
      const xd =
        training && p > 0 ? tf.dropout(x2, p, undefined, deriveSeed(a.config.seed, this.name, this.dropoutCalls++)) : x2; // [N, in]
      const h = tf.matMul(xd, a.lora_A.read(), false, true); // [N, r]: A compresses to r numbers
      const lora = tf.matMul(h, a.lora_B.read(), false, true).mul(a.scaling); // [N, out]: B restores
      let z: tf.Tensor; // pre-activation [N, out]
      if (a.lora_magnitude_vector === null) {
        z = tf.fused.matMul({ a: x2, b: K as tf.Tensor2D, bias: bias ? bias.read() : undefined }).add(lora);
      } else {
        // PEFT's form of DoRA: base(x) + (m/‖·‖ − 1)·(x_d·K) + (m/‖·‖)·lora(x_d); with no dropout this is
        // (m/‖W+ΔW‖)·((W+ΔW)·x) + b.
        const norm = detach(this.rowNorm(K, a.lora_A.read(), a.lora_B.read(), a.scaling)) as tf.Tensor1D; // [out]
        const scale = a.lora_magnitude_vector.read().div(norm); // [out]
        const xK = tf.matMul(x2, K); // [N, out]
        const xdK = xd === x2 ? xK : tf.matMul(xd, K); // [N, out]
        z = xK.add(scale.sub(1).mul(xdK)).add(scale.mul(lora));
        if (bias) z = z.add(bias.read());
      }
      const y = activation ? activation.apply(z) : z; // [N, out]
      return y.reshape([...lead, this.outFeatures]);
    });
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return this.base.computeOutputShape(inputShape);
  }

  // ---- ΔW, merge, unmerge -----------------------------------------------------------------------

  /**
   * ΔW = scaling·B·A in PEFT orientation [out, in] (the kernel's delta is its transpose). For DoRA this is the
   * direction update only, as PEFT's get_delta_weight; merge() applies the magnitude. Caller disposes.
   */
  deltaWeight(adapter?: string): tf.Tensor2D {
    const a = this.adapter(adapter ?? this.requireActive());
    return tf.tidy(() => tf.matMul(a.lora_B.read(), a.lora_A.read()).mul(a.scaling) as tf.Tensor2D); // [out, in]
  }

  private requireActive(): string {
    if (this.active_ === null) throw new Error(`layer '${this.name}' has no adapters: add one first`);
    return this.active_;
  }

  /** Folds adapter `name` (default: the active one) into the base kernel: K ← K + ΔWᵀ (DoRA: K ← (m/‖W+ΔW‖)·(K + ΔWᵀ)). */
  merge(name?: string): void {
    const n = name ?? this.requireActive();
    const a = this.adapter(n);
    if (this.merged_.some((m) => m.name === n)) return; // already merged: nothing to do
    const { kernel } = this.parts;
    let doraScale: tf.Tensor1D | null = null;
    tf.tidy(() => {
      const K = kernel.read();
      const Kn = K.add(tf.matMul(a.lora_A.read(), a.lora_B.read(), true, true).mul(a.scaling)); // [in, out]
      if (a.lora_magnitude_vector === null) {
        kernel.write(Kn);
      } else {
        doraScale = tf.keep(a.lora_magnitude_vector.read().div(this.rowNorm(K, a.lora_A.read(), a.lora_B.read(), a.scaling))) as tf.Tensor1D; // [out]
        kernel.write(Kn.mul(doraScale)); // scales column o of K (= row o of W)
      }
    });
    this.merged_.push({ name: n, doraScale });
  }

  /** Undoes every merge, newest first: K ← K − ΔWᵀ (DoRA: K ← K / scale − ΔWᵀ). */
  unmerge(): void {
    const { kernel } = this.parts;
    while (this.merged_.length > 0) {
      const { name, doraScale } = this.merged_.pop()!;
      const a = this.adapter(name);
      tf.tidy(() => {
        const K = doraScale ? kernel.read().div(doraScale) : kernel.read();
        kernel.write(K.sub(tf.matMul(a.lora_A.read(), a.lora_B.read(), true, true).mul(a.scaling)));
      });
      doraScale?.dispose();
    }
  }

  /** Frees all adapters' weights (not the base's); the layer is unusable afterwards. */
  disposeAdapters(): void {
    if (this.merged) this.unmerge();
    for (const name of this.adapterNames) this.deleteAdapter(name);
  }

  /** Drops the adapters and returns the base Dense with any merged update kept in its kernel. */
  releaseBase(): tf.layers.Layer {
    for (const m of this.merged_.splice(0)) m.doraScale?.dispose();
    for (const name of this.adapterNames) this.deleteAdapter(name);
    return this.base;
  }

  // ---- serialization ----------------------------------------------------------------------------

  override getConfig(): tf.serialization.ConfigDict {
    const adapters = [...this.adapters_].map(([name, a]) => ({
      name,
      r: a.config.r,
      lora_alpha: a.config.lora_alpha,
      lora_dropout: a.config.lora_dropout,
      use_rslora: a.config.use_rslora,
      use_dora: a.config.use_dora,
      seed: a.config.seed,
    }));
    return {
      ...super.getConfig(),
      base: { className: this.base.getClassName(), config: this.base.getConfig() },
      inFeatures: this.inFeatures,
      adapters,
      activeAdapter: this.active_,
      disabled: this.disabled_,
      biasTrainable: this.biasTrainable_,
    } as unknown as tf.serialization.ConfigDict;
  }

  /**
   * Rebuilds a LoraDense from getConfig(): a fresh base Dense and adapters shaped as configured. Weights are
   * not part of a config: copy them with setWeights(getWeights()) or load them with the model (as in Keras).
   */
  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    const c = config as unknown as {
      name: string; trainable?: boolean; base: { config: Record<string, unknown> }; inFeatures: number;
      adapters: { name: string; r: number; lora_alpha: number; lora_dropout: number; use_rslora: boolean; use_dora: boolean; seed: number }[];
      activeAdapter: string | null; disabled: boolean; biasTrainable: boolean;
    };
    const base = tf.layers.dense(c.base.config as unknown as Parameters<typeof tf.layers.dense>[0]);
    base.build([null, c.inFeatures]);
    base.built = true;
    const layer = new LoraDense({ base, name: c.name });
    for (const a of c.adapters) {
      const { name, ...rest } = a;
      layer.addAdapter(name, { ...rest, target_modules: [c.name] });
    }
    if (c.activeAdapter !== null) layer.setAdapter(c.activeAdapter);
    if (c.disabled) layer.disableAdapters();
    layer.biasTrainable = c.biasTrainable;
    if (c.trainable === false) layer.trainable = false;
    return layer as unknown as T;
  }
}
tf.serialization.registerClass(LoraDense);
