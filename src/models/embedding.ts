// Token and position embedding tables as TF.js layers, so every weight of the GPT lives in a layer.
// Token lookup is one-hot × table (a matMul) rather than tf.gather: the wasm backend has no gradient kernel
// for gather (UnsortedSegmentSum), and with a character vocabulary of ~30 the one-hot product is cheap.
import * as tf from '@tensorflow/tfjs';

export interface EmbeddingArgs {
  /** Rows of the table: vocabulary size (tokens) or context length (positions). */
  numEmbeddings: number;
  /** Columns of the table: the model width d_model. */
  embeddingDim: number;
  /** Initial values N(0, initStd²) (GPT-2 uses 0.02). @default 0.02 */
  initStd?: number;
  /** Seed for the initial values. */
  seed?: number;
  name?: string;
  trainable?: boolean;
}

/** Shared body: one [numEmbeddings, embeddingDim] weight called `embeddings` (PyTorch: `weight`, same shape). */
abstract class TableLayer extends tf.layers.Layer {
  readonly numEmbeddings: number;
  readonly embeddingDim: number;
  readonly initStd: number;
  readonly seed: number | undefined;
  protected table: tf.LayerVariable | null = null;

  constructor(args: EmbeddingArgs) {
    super({ name: args.name, trainable: args.trainable ?? true });
    if (!Number.isInteger(args.numEmbeddings) || args.numEmbeddings < 1) {
      throw new Error(`numEmbeddings must be a positive integer, got ${args.numEmbeddings}`);
    }
    if (!Number.isInteger(args.embeddingDim) || args.embeddingDim < 1) {
      throw new Error(`embeddingDim must be a positive integer, got ${args.embeddingDim}`);
    }
    this.numEmbeddings = args.numEmbeddings;
    this.embeddingDim = args.embeddingDim;
    this.initStd = args.initStd ?? 0.02;
    this.seed = args.seed;
  }

  override build(): void {
    if (this.table !== null) return;
    this.table = this.addWeight(
      'embeddings',
      [this.numEmbeddings, this.embeddingDim],
      'float32',
      tf.initializers.randomNormal({ mean: 0, stddev: this.initStd, seed: this.seed }),
      undefined,
      true,
    );
    this.built = true;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      numEmbeddings: this.numEmbeddings,
      embeddingDim: this.embeddingDim,
      initStd: this.initStd,
      seed: this.seed ?? null,
    };
  }

  protected tableTensor(): tf.Tensor2D {
    if (this.table === null) this.build();
    return this.table!.read() as tf.Tensor2D;
  }
}

function single(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
  return Array.isArray(inputs) ? inputs[0]! : inputs;
}

/** Token ids [batch, T] (int32) → vectors [batch, T, d]: row `id` of the table for each token. */
export class TokenEmbedding extends TableLayer {
  static className = 'LoraLabTokenEmbedding';

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const s = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    return [...s, this.embeddingDim];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const ids = single(inputs); // [batch, T] int32
      const [b, t] = ids.shape as [number, number];
      const oneHot = tf.oneHot(ids.reshape([b * t]).toInt(), this.numEmbeddings); // [batch·T, V]
      const x = tf.matMul(oneHot.toFloat(), this.tableTensor()); // [batch·T, d]
      return x.reshape([b, t, this.embeddingDim]); // [batch, T, d]
    });
  }
}
tf.serialization.registerClass(TokenEmbedding);

/** Learned absolute positions: for input [batch, T] returns the first T rows of the table, [T, d]. */
export class PositionEmbedding extends TableLayer {
  static className = 'LoraLabPositionEmbedding';

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const s = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    return [s[1] ?? null, this.embeddingDim];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const t = single(inputs).shape[1]!;
      if (t > this.numEmbeddings) {
        throw new Error(
          `sequence of ${t} tokens is longer than the context length ${this.numEmbeddings}: ` +
            `shorten it or use a config with contextLength >= ${t}`,
        );
      }
      return this.tableTensor().slice([0, 0], [t, this.embeddingDim]); // [T, d]
    });
  }
}
tf.serialization.registerClass(PositionEmbedding);
