// A tf.Sequential seen as a LayerTree (layers keyed by their names, run in order, looked up at call time),
// so injectLora/loadAdapter work on it unchanged; toSequential() rebuilds a tf.Sequential from the current
// layers (LoRA wrappers included), sharing their weights.
import * as tf from '@tensorflow/tfjs';
import { getLayer, type LayerTree } from './module.js';

export class SequentialTree implements LayerTree {
  readonly layers = new Map<string, tf.layers.Layer>();
  private readonly order: string[];
  private readonly inputShape: (number | null)[];

  /** `model` must be built (created with an inputShape, or called once). */
  constructor(model: tf.Sequential) {
    const shape = model.inputs[0]?.shape;
    if (shape === undefined) throw new Error('the Sequential model is not built: give its first layer an inputShape');
    this.inputShape = shape;
    for (const layer of model.layers) {
      if (this.layers.has(layer.name)) throw new Error(`two layers are named '${layer.name}': give them distinct names`);
      this.layers.set(layer.name, layer);
    }
    this.order = [...this.layers.keys()];
  }

  /** Runs the layers in order, each looked up by name now (so wrapped layers are used). */
  apply(x: tf.Tensor, options: { training?: boolean } = {}): tf.Tensor {
    return tf.tidy(() => this.order.reduce((h, p) => getLayer(this, p).apply(h, { training: options.training ?? false }) as tf.Tensor, x));
  }

  /** A new tf.Sequential over the current layers (weights shared, not copied). */
  toSequential(): tf.Sequential {
    const model = tf.sequential();
    model.add(tf.layers.inputLayer({ batchInputShape: this.inputShape }));
    for (const p of this.order) model.add(getLayer(this, p));
    return model;
  }
}
