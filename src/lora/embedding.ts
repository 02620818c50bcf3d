// LoRA on an embedding table (PEFT tuners/lora/layer.py Embedding): the table E [V, d] stays frozen and a low-rank
// update is added, E′ = E + scaling·(B·A)ᵀ with lora_embedding_A [r, V] and lora_embedding_B [d, r] (PEFT's names
// and orientation). Row `id` of the update is scaling·B·A[:, id]: each token id owns a column of A (r numbers).
// PEFT starts A at zero and B at N(0, 1), the reverse of Linear, so the layer equals its base at step 0.
import * as tf from '@tensorflow/tfjs';
import type { LayerTree } from '../models/module.js';
import { loraConfig, loraScaling, type LoraConfig, type LoraConfigInput } from './config.js';
import { deriveSeed } from './init.js';

export interface LoraEmbeddingArgs {
  /**
   * A built table layer: exactly one weight [V, d], called on token ids [..., T] and returning [..., T, d]
   * (the GPT's TokenEmbedding, or tf.layers.embedding).
   */
  base: tf.layers.Layer;
  config: LoraConfigInput | LoraConfig;
  /** Seed for lora_embedding_B. @default derived from config.seed and the layer name */
  seed?: number;
  name?: string;
}

/** An embedding table plus one LoRA adapter; mergeable into the table and back. */
export class LoraEmbedding extends tf.layers.Layer {
  static className = 'LoraLabLoraEmbedding';
  readonly base: tf.layers.Layer;
  readonly config: LoraConfig;
  readonly scaling: number;
  readonly numEmbeddings: number;
  readonly embeddingDim: number;
  readonly lora_embedding_A: tf.LayerVariable; // [r, V]
  readonly lora_embedding_B: tf.LayerVariable; // [d, r]
  private merged_ = false;

  constructor(args: LoraEmbeddingArgs) {
    super({ name: args.name ?? `lora_${args.base.name}`, trainable: true });
    const c = loraConfig(args.config);
    if (c.use_dora) throw new Error('LoraEmbedding does not implement DoRA: set use_dora = false');
    if (c.init_lora_weights === 'pissa') throw new Error(`LoraEmbedding does not implement PiSSA: use init_lora_weights = true`);
    const table = LoraEmbedding.table(args.base);
    [this.numEmbeddings, this.embeddingDim] = table.shape as [number, number];
    this.base = args.base;
    this.base.trainable = false;
    this.config = c;
    this.scaling = loraScaling(c);
    const seed = args.seed ?? deriveSeed(c.seed, 'embedding', this.name);
    const { r } = c;
    const [A, B] = tf.tidy(() => [
      // init false: A random too, so ΔW ≠ 0 (useful in tests); otherwise PEFT's A = 0, B ~ N(0, 1).
      c.init_lora_weights === false ? tf.randomNormal([r, this.numEmbeddings], 0, 1, 'float32', seed + 1) : tf.zeros([r, this.numEmbeddings]),
      tf.randomNormal([this.embeddingDim, r], 0, 1, 'float32', seed),
    ]);
    this.lora_embedding_A = new tf.LayerVariable(A!, 'float32', `${this.name}/lora_embedding_A`, true);
    this.lora_embedding_B = new tf.LayerVariable(B!, 'float32', `${this.name}/lora_embedding_B`, true);
    tf.dispose([A!, B!]);
    this.built = true;
  }

  /** The base's single [V, d] weight, or an error saying what was found. */
  private static table(base: tf.layers.Layer): tf.LayerVariable {
    if (!base.built || base.weights.length !== 1 || base.weights[0]!.shape.length !== 2) {
      throw new Error(
        `LoraEmbedding wraps a built table layer with one [V, d] weight; '${base.name}' (${base.getClassName()}) has ` +
          `${base.built ? `weights [${base.weights.map((w) => `[${w.shape.join(', ')}]`).join(', ')}]` : 'not been built: call it once first'}`,
      );
    }
    return base.weights[0]!;
  }

  get merged(): boolean {
    return this.merged_;
  }

  override get trainableWeights(): tf.LayerVariable[] {
    return this.trainable ? [this.lora_embedding_A, this.lora_embedding_B] : [];
  }
  override set trainableWeights(_w: tf.LayerVariable[]) {
    // Computed from the adapter (Layer's constructor assigns an empty list).
  }
  override get nonTrainableWeights(): tf.LayerVariable[] {
    return [LoraEmbedding.table(this.base), ...(this.trainable ? [] : [this.lora_embedding_A, this.lora_embedding_B])];
  }
  override set nonTrainableWeights(_w: tf.LayerVariable[]) {
    // See trainableWeights.
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor {
    return tf.tidy(() => {
      const ids = Array.isArray(inputs) ? inputs[0]! : inputs; // [..., T] int32
      const y = this.base.apply(ids, kwargs) as tf.Tensor; // [..., T, d]
      if (this.merged_) return y;
      // One-hot × Aᵀ instead of a gather: the wasm backend has no gradient for gather (UnsortedSegmentSum).
      const oneHot = tf.oneHot(ids.reshape([-1]).toInt(), this.numEmbeddings).toFloat(); // [N, V]
      const h = tf.matMul(oneHot, this.lora_embedding_A.read(), false, true); // [N, r]: column `id` of A
      const lora = tf.matMul(h, this.lora_embedding_B.read(), false, true).mul(this.scaling); // [N, d]
      return y.add(lora.reshape(y.shape));
    });
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return this.base.computeOutputShape(inputShape);
  }

  /** ΔE = scaling·(B·A)ᵀ [V, d], the change to the table (caller disposes). */
  deltaWeight(): tf.Tensor2D {
    return tf.tidy(
      () => tf.matMul(this.lora_embedding_A.read(), this.lora_embedding_B.read(), true, true).mul(this.scaling) as tf.Tensor2D,
    );
  }

  /** E ← E + ΔE: lookups then cost what the base costs. */
  merge(): void {
    if (this.merged_) return;
    const t = LoraEmbedding.table(this.base);
    tf.tidy(() => {
      t.write(t.read().add(this.deltaWeight()));
    });
    this.merged_ = true;
  }

  /** E ← E − ΔE. */
  unmerge(): void {
    if (!this.merged_) return;
    const t = LoraEmbedding.table(this.base);
    tf.tidy(() => {
      t.write(t.read().sub(this.deltaWeight()));
    });
    this.merged_ = false;
  }

  /** Frees the adapter's weights (not the table). */
  disposeAdapter(): void {
    this.lora_embedding_A.dispose();
    this.lora_embedding_B.dispose();
  }

  /** Not rebuildable from a config alone (its weights are not in it): build it with injectLoraEmbedding(tree, path, config). */
  static override fromConfig<T extends tf.serialization.Serializable>(
    _cls: tf.serialization.SerializableConstructor<T>,
    _config: tf.serialization.ConfigDict,
  ): T {
    throw new Error('LoraEmbedding cannot be rebuilt from its config alone: build it with injectLoraEmbedding(tree, path, config)');
  }
}
tf.serialization.registerClass(LoraEmbedding);

/**
 * Replaces the table layer at `path` in `tree` by a LoraEmbedding around it (in place) and returns the new layer;
 * train its `trainableWeights`. Undo with `tree.layers.set(path, layer.base)` (after `merge()` to keep the update).
 */
export function injectLoraEmbedding(tree: LayerTree, path: string, config: LoraConfigInput | LoraConfig): LoraEmbedding {
  const base = tree.layers.get(path);
  if (base === undefined) throw new Error(`no layer at '${path}'; layers are: ${[...tree.layers.keys()].join(', ')}`);
  if (base instanceof LoraEmbedding) throw new Error(`layer '${path}' already has a LoRA adapter`);
  const layer = new LoraEmbedding({ base, config, name: `${path}.lora` });
  tree.layers.set(path, layer);
  return layer;
}
