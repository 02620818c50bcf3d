// What GPT-2 and Llama share as causal LMs over a LayerTree: layers looked up by path at call time, the KV
// cache bookkeeping of forward() (room left, positions past .. past + T, a cache freed if a pass fails half-way),
// the final norm, the optional last-position slice and the output head. Each model supplies only its blocks.
// Shapes: B batch, T new tokens, d hidden width, V vocabulary.
import * as tf from '@tensorflow/tfjs';
import { getLayer, type LayerTree, type PeftModelInfo } from '../module.js';
import type { HfConfig } from './config.js';
import { KvCache } from './kv-cache.js';
import type { HfForwardOptions } from './attention.js';

export abstract class CausalDecoder<C extends HfConfig> implements LayerTree {
  readonly config: C;
  readonly layers: Map<string, tf.layers.Layer>;
  /** The folder the model was loaded from (transformers' name_or_path); null for a model built in memory. */
  nameOrPath: string | null = null;
  /** Module path of the norm before the head (GPT-2: transformer.ln_f, Llama: model.norm). */
  protected abstract readonly finalNorm: string;
  /** config.json's name for the context length, for errors. */
  protected abstract readonly contextName: string;

  constructor(config: C, layers: Map<string, tf.layers.Layer>) {
    this.config = config;
    this.layers = layers;
  }

  /** PEFT's view of the model: its model_type picks the default LoRA targets; a causal LM; where it came from. */
  get peft(): PeftModelInfo {
    return { modelType: this.config.modelType, taskType: 'CAUSAL_LM', nameOrPath: this.nameOrPath };
  }

  /** Runs the layer at `path` on x (whatever layer the map holds there now). */
  protected apply(path: string, x: tf.Tensor, training: boolean): tf.Tensor {
    return getLayer(this, path).apply(x, { training }) as tf.Tensor;
  }

  /**
   * Embeddings and every block: tokens [B, T] at positions past .. past + T − 1 → [B·T, d] before the final norm.
   * Runs inside forward()'s tidy; keys and values go through cache.append so they outlive it.
   */
  protected abstract blocks(tokens: tf.Tensor2D, past: number, cache: KvCache | undefined, training: boolean): tf.Tensor;

  /** An empty cache for incremental decoding with forward(). */
  newCache(): KvCache {
    return new KvCache(this.config.numLayers, this.config.contextLength);
  }

  /** Next-token logits for every position: tokens [B, T] int32 → [B, T, V] (causal, no cache). */
  logits(tokens: tf.Tensor2D, options: { training?: boolean } = {}): tf.Tensor3D {
    return this.forward(tokens, { training: options.training });
  }

  /**
   * Logits for `tokens` [B, T] placed after the cache's positions (or at 0 without a cache): [B, T, V], or
   * [B, 1, V] for the last position only. With a cache, the new keys and values are appended to it.
   */
  forward(tokens: tf.Tensor2D, options: HfForwardOptions = {}): tf.Tensor3D {
    const training = options.training ?? false;
    const { hiddenSize: d, vocabSize: V, contextLength } = this.config;
    const [B, T] = tokens.shape;
    const cache = options.cache;
    if (cache !== undefined) cache.assertRoom(T, B);
    else if (T > contextLength) {
      throw new Error(`input has ${T} tokens but ${this.contextName} is ${contextLength}: pass at most ${contextLength} tokens`);
    }
    try {
      const out = tf.tidy(() => {
        let hidden = this.apply(this.finalNorm, this.blocks(tokens, cache?.length ?? 0, cache, training), training); // [B·T, d]
        let rows = T;
        if (options.lastOnly === true) {
          hidden = hidden.reshape([B, T, d]).slice([0, T - 1, 0], [B, 1, d]).reshape([B, d]); // [B, d]
          rows = 1;
        }
        return this.apply('lm_head', hidden, training).reshape([B, rows, V]) as tf.Tensor3D; // [B, T | 1, V]
      });
      cache?.advance(T);
      return out;
    } catch (e) {
      cache?.dispose(); // half-appended layers would misalign positions
      throw e;
    }
  }

  /** Frees every weight. The model is unusable afterwards. */
  dispose(): void {
    for (const layer of this.layers.values()) for (const w of layer.weights) w.dispose();
  }
}
