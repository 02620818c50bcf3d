// A small MLP classifier for the "pretrained on one task, adapted to a related one" story (cats, dogs, ...):
// x → relu(layers.0) → relu(layers.1) → … → classifier → class logits. Every weight is in a Dense layer of
// `layers` (PyTorch nn.Linear names), so LoRA can target `layers.0` like any linear layer. Kernels are [in, out].
import * as tf from '@tensorflow/tfjs';
import { getLayer, type LayerTree } from './module.js';

export interface ClassifierConfig {
  /** Features per example. */
  readonly inputDim: number;
  /** Width of every hidden layer. */
  readonly hiddenDim: number;
  /** Hidden layers `layers.0` .. `layers.{n−1}`, each Dense + ReLU. */
  readonly nLayers: number;
  /** Outputs of `classifier` (one logit per class). */
  readonly numClasses: number;
}

/** `tiny` fits the bundled animal data (16 features, 4 classes). */
export const CLASSIFIER_PRESETS = {
  tiny: { inputDim: 16, hiddenDim: 64, nLayers: 2, numClasses: 4 },
} as const satisfies Record<string, ClassifierConfig>;

export function validateClassifierConfig(c: ClassifierConfig): void {
  for (const k of ['inputDim', 'hiddenDim', 'nLayers', 'numClasses'] as const) {
    const v = c[k];
    if (!Number.isInteger(v) || v < 1) throw new Error(`${k} must be a positive integer, got ${v}: e.g. ${CLASSIFIER_PRESETS.tiny[k]}`);
  }
}

export class MlpClassifier implements LayerTree {
  readonly kind = 'mlp_classifier' as const;
  readonly config: ClassifierConfig;
  readonly layers = new Map<string, tf.layers.Layer>();

  /** Fresh weights: Glorot-uniform kernels (TF.js's default, seeded), zero biases. */
  constructor(config: ClassifierConfig = CLASSIFIER_PRESETS.tiny, options: { seed?: number } = {}) {
    validateClassifierConfig(config);
    this.config = { ...config };
    const seed = options.seed ?? 0;
    const dense = (units: number, i: number) =>
      tf.layers.dense({ units, kernelInitializer: tf.initializers.glorotUniform({ seed: seed * 1009 + i }) });
    for (let i = 0; i < config.nLayers; i++) this.layers.set(`layers.${i}`, dense(config.hiddenDim, i));
    this.layers.set('classifier', dense(config.numClasses, config.nLayers));
    tf.tidy(() => {
      this.logits(tf.zeros([1, config.inputDim])); // builds every layer's weights now
    });
  }

  /** Class logits: x [N, inputDim] → [N, numClasses]. */
  logits(x: tf.Tensor2D, options: { training?: boolean } = {}): tf.Tensor2D {
    const training = options.training ?? false;
    return tf.tidy(() => getLayer(this, 'classifier').apply(this.features(x, { training }), { training }) as tf.Tensor2D);
  }

  /** The last hidden layer's activations, what `classifier` reads: x [N, inputDim] → [N, hiddenDim]. */
  features(x: tf.Tensor2D, options: { training?: boolean } = {}): tf.Tensor2D {
    const training = options.training ?? false;
    if (x.shape[1] !== this.config.inputDim) {
      throw new Error(`classifier expects [N, ${this.config.inputDim}] features, got [${x.shape.join(', ')}]`);
    }
    return tf.tidy(() => {
      let h: tf.Tensor = x; // [N, in]
      for (let i = 0; i < this.config.nLayers; i++) {
        h = tf.relu(getLayer(this, `layers.${i}`).apply(h, { training }) as tf.Tensor); // [N, hidden]
      }
      return h as tf.Tensor2D;
    });
  }

  dispose(): void {
    for (const layer of this.layers.values()) for (const w of layer.weights) w.dispose();
  }
}
