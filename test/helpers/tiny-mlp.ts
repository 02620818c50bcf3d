// A tiny model implementing LayerTree for LoRA tests: encoder.q_proj 16→12 (relu), encoder.v_proj 12→12,
// a LayerNorm, and lm_head 12→5 (no bias). Seeded, built on construction, run eagerly by path like the GPT.
import * as tf from '@tensorflow/tfjs';
import { getLayer, type LayerTree } from '../../src/models/module.js';

export class TinyMlp implements LayerTree {
  readonly layers = new Map<string, tf.layers.Layer>();

  constructor(seed = 1) {
    const init = (k: number) => tf.initializers.randomNormal({ mean: 0, stddev: 0.3, seed: seed * 100 + k });
    this.layers.set('encoder.q_proj', tf.layers.dense({ units: 12, activation: 'relu', kernelInitializer: init(1), biasInitializer: init(2) }));
    this.layers.set('encoder.v_proj', tf.layers.dense({ units: 12, kernelInitializer: init(3), biasInitializer: init(4) }));
    this.layers.set('norm', tf.layers.layerNormalization({ axis: -1 }));
    this.layers.set('lm_head', tf.layers.dense({ units: 5, useBias: false, kernelInitializer: init(5) }));
    tf.tidy(() => {
      this.forward(tf.zeros([1, 16]));
    });
  }

  /** x [N, 16] → logits [N, 5]. */
  forward(x: tf.Tensor, training = false): tf.Tensor {
    return tf.tidy(() => {
      const q = getLayer(this, 'encoder.q_proj').apply(x, { training }) as tf.Tensor; // [N, 12]
      const v = getLayer(this, 'encoder.v_proj').apply(q, { training }) as tf.Tensor; // [N, 12]
      const n = getLayer(this, 'norm').apply(v, { training }) as tf.Tensor; // [N, 12]
      return getLayer(this, 'lm_head').apply(n, { training }) as tf.Tensor; // [N, 5]
    });
  }

  dispose(): void {
    for (const l of this.layers.values()) for (const w of l.weights) w.dispose();
  }
}

/** A single built Dense [in → out] with seeded weights, for layer-level tests. */
export function denseLayer(dIn: number, dOut: number, opts: { seed?: number; activation?: 'relu' | 'linear'; useBias?: boolean } = {}): tf.layers.Layer {
  const seed = opts.seed ?? 7;
  const d = tf.layers.dense({
    units: dOut,
    activation: opts.activation ?? 'linear',
    useBias: opts.useBias ?? true,
    kernelInitializer: tf.initializers.randomNormal({ mean: 0, stddev: 0.5, seed }),
    biasInitializer: tf.initializers.randomNormal({ mean: 0, stddev: 0.5, seed: seed + 1 }),
  });
  tf.tidy(() => {
    d.apply(tf.zeros([1, dIn]));
  });
  return d;
}

/** Max |a − b| as a number (test-only sync read on the cpu backend). */
export function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}

/** Every weight value of every layer, by variable name (to prove something changed nothing). */
export function snapshot(tree: LayerTree): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const [p, l] of tree.layers) {
    for (const w of l.weights) out.set(`${p}:${w.name}`, w.read().dataSync() as Float32Array);
  }
  return out;
}
