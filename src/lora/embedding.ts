// LoRA on an embedding table (PEFT tuners/lora/layer.py Embedding): the table E [V, d] stays frozen and a low-rank
// update is added, E′ = E + scaling·(B·A)ᵀ with lora_embedding_A [r, V] and lora_embedding_B [d, r] (PEFT's names
// and orientation: the branch's in = V, out = d). Row `id` of the update is scaling·B·A[:, id]: a column of A per id.
// PEFT starts A at zero and B at N(0, 1), the reverse of Linear, so the layer equals its base at step 0; PEFT applies
// no dropout on this branch. Bases: TF.js's tf.layers.embedding and the GPT's TokenEmbedding.
import * as tf from '@tensorflow/tfjs';
import type { LoraConfig } from './config.js';
import { adapterOf, LoraLayerBase, type LoraAdapter } from './lora-layer.js';

export interface LoraEmbeddingArgs {
  /** A built table layer with one weight [V, d], called on ids [..., T] and returning [..., T, d]. */
  base: tf.layers.Layer;
  /** @default 'lora_' + base.name */
  name?: string;
}

/** The base's single [V, d] weight, or an error saying what was found. */
function table(base: tf.layers.Layer): tf.LayerVariable {
  if (!base.built || base.weights.length !== 1 || base.weights[0]!.shape.length !== 2) {
    const shapes = base.weights.map((w) => `[${w.shape.join(', ')}]`).join(', ');
    throw new Error(
      `LoraEmbedding wraps a built table layer with one [V, d] weight; '${base.name}' (${base.getClassName()}) has ` +
        (base.built ? `weights [${shapes}]` : 'not been built: call it once first'),
    );
  }
  return base.weights[0]!;
}

export class LoraEmbedding extends LoraLayerBase {
  static className = 'LoraLabLoraEmbedding';
  readonly kind = 'embedding' as const;
  protected readonly peftNames = { A: 'lora_embedding_A', B: 'lora_embedding_B', weightSuffix: '' };

  constructor(args: LoraEmbeddingArgs) {
    const [V, d] = table(args.base).shape as [number, number];
    super({ base: args.base, name: args.name ?? `lora_${args.base.name}`, inFeatures: V, outFeatures: d });
  }

  /** Rows of the table (V) and their width (d). */
  get numEmbeddings(): number {
    return this.inFeatures;
  }
  get embeddingDim(): number {
    return this.outFeatures;
  }

  /** Eᵀ [d, V]: the table in the branch's [out, in] orientation. */
  baseWeight(): tf.Tensor2D {
    return tf.tidy(() => table(this.base).read().transpose() as tf.Tensor2D);
  }

  protected checkConfig(c: LoraConfig): void {
    const what = `'${this.name}' (${this.base.getClassName()})`;
    if (c.use_dora) {
      throw new Error(
        `DoRA is not implemented for an embedding layer ${what}: set use_dora = false or leave it out of ` +
        `target_modules`,
      );
    }
    if (c.init_lora_weights === 'pissa') {
      throw new Error(
        `PiSSA is not implemented for an embedding layer ${what}: use init_lora_weights = true or leave it out of ` +
        `target_modules`,
      );
    }
  }

  protected createAdapter(name: string, c: LoraConfig, seed: number): LoraAdapter {
    const branch = this.newBranch(name, c, seed, 'embedding');
    return adapterOf(branch, null);
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor {
    return tf.tidy(() => {
      const ids = Array.isArray(inputs) ? inputs[0]! : inputs; // [..., T]
      const y = this.base.apply(ids, kwargs) as tf.Tensor; // [..., T, d]; the frozen table gets no gradient
      const a = this.liveAdapter();
      if (a === undefined) return y;
      const lora = a.branch.lookup(ids.reshape([-1]).toInt() as tf.Tensor1D); // [N, d]
      return y.add(lora.reshape(y.shape));
    });
  }

  override computeMask(inputs: tf.Tensor | tf.Tensor[], mask?: tf.Tensor | tf.Tensor[]): tf.Tensor | tf.Tensor[] {
    return this.base.computeMask(inputs, mask);
  }

  /** E ← E + ΔWᵀ, ΔWᵀ = scaling·Aᵀ·Bᵀ [V, d]: lookups then cost what the base costs. */
  protected mergeInto(a: LoraAdapter): tf.Tensor | null {
    const t = table(this.base);
    tf.tidy(() => {
      t.write(t.read().add(a.branch.deltaKernel()));
    });
    return null;
  }

  /** E ← E − ΔWᵀ. */
  protected unmergeFrom(a: LoraAdapter): void {
    const t = table(this.base);
    tf.tidy(() => {
      t.write(t.read().sub(a.branch.deltaKernel()));
    });
  }

  static buildBase(base: tf.layers.Layer): void {
    tf.tidy(() => {
      base.apply(tf.zeros([1, 1], 'int32'));
    });
  }
}
tf.serialization.registerClass(LoraEmbedding);
