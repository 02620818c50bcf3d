// A tied output head (transformers' tie_word_embeddings): logits = x · Eᵀ where E [V, d] is the token table's
// own variable, read at call time — not a copy, so the head follows the table (and holds no weight of its own:
// parameter counts and checkpoints see E once, as in PyTorch where lm_head.weight is embed_tokens.weight).
import * as tf from '@tensorflow/tfjs';

export class TiedLmHead extends tf.layers.Layer {
  static className = 'LoraLabTiedLmHead';
  /** The embedding table [V, d] this head multiplies by (the Embedding layer's variable). */
  readonly table: tf.LayerVariable;
  /** Module path of the layer that owns the table (e.g. 'transformer.wte'). */
  readonly tiedTo: string;

  constructor(args: { table: tf.LayerVariable; tiedTo: string; name?: string }) {
    super({ name: args.name, trainable: false });
    if (args.table.shape.length !== 2) {
      throw new Error(`TiedLmHead needs a 2-D table [V, d], got [${args.table.shape.join(', ')}]`);
    }
    this.table = args.table;
    this.tiedTo = args.tiedTo;
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const s = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    return [...s.slice(0, -1), this.table.shape[0]!];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0]! : inputs; // [..., d]
      const [v, d] = this.table.shape as [number, number];
      const lead = x.shape.slice(0, -1);
      const y = tf.matMul(x.reshape([-1, d]) as tf.Tensor2D, this.table.read() as tf.Tensor2D, false, true); // [N, V]
      return y.reshape([...lead, v]); // [..., V]
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), tiedTo: this.tiedTo };
  }
}
