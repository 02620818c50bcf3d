// GPT-2 as transformers' GPT2LMHeadModel computes it (modeling_gpt2.py; Radford et al. 2019): token + learned
// position embeddings, pre-LayerNorm blocks x += c_proj(attn(ln_1(x))), x += mlp(ln_2(x)) with c_attn fusing
// q, k, v as one Conv1D [d, 3d] (weights [in, out]), gelu_new, ln_f, and lm_head tied to wte.
// Shapes: B batch, T new tokens, S = past + T keys, d = n_embd, h heads, d_h = d / h, V vocabulary.
import * as tf from '@tensorflow/tfjs';
import { getLayer, type LayerTree } from '../module.js';
import type { Gpt2Config } from './config.js';
import { activation, type Activation } from './activations.js';
import { KvCache } from './kv-cache.js';
import { causalMaskWithPast, type HfForwardOptions } from './attention.js';
import type { LayerSpec } from './weights.js';

/** Module path prefix of the decoder inside GPT2LMHeadModel. */
export const GPT2_PREFIX = 'transformer.';

/** The layers of GPT2LMHeadModel, named as its state_dict names them (`transformer.h.0.attn.c_attn`, ...). */
export function gpt2LayerSpecs(c: Gpt2Config): LayerSpec[] {
  const d = c.hiddenSize;
  const p = GPT2_PREFIX;
  const specs: LayerSpec[] = [
    { kind: 'embedding', path: `${p}wte`, rows: c.vocabSize, dim: d },
    { kind: 'embedding', path: `${p}wpe`, rows: c.contextLength, dim: d },
  ];
  for (let i = 0; i < c.numLayers; i++) {
    const b = `${p}h.${i}`;
    specs.push(
      { kind: 'layer_norm', path: `${b}.ln_1`, dim: d, eps: c.layerNormEpsilon },
      { kind: 'conv1d', path: `${b}.attn.c_attn`, inFeatures: d, outFeatures: 3 * d, bias: true },
      { kind: 'conv1d', path: `${b}.attn.c_proj`, inFeatures: d, outFeatures: d, bias: true },
      { kind: 'layer_norm', path: `${b}.ln_2`, dim: d, eps: c.layerNormEpsilon },
      { kind: 'conv1d', path: `${b}.mlp.c_fc`, inFeatures: d, outFeatures: c.intermediateSize, bias: true },
      { kind: 'conv1d', path: `${b}.mlp.c_proj`, inFeatures: c.intermediateSize, outFeatures: d, bias: true },
    );
  }
  specs.push({ kind: 'layer_norm', path: `${p}ln_f`, dim: d, eps: c.layerNormEpsilon });
  specs.push(
    c.tieWordEmbeddings
      ? { kind: 'tied_head', path: 'lm_head', tiedTo: `${p}wte` }
      : { kind: 'dense', path: 'lm_head', inFeatures: d, outFeatures: c.vocabSize, bias: false },
  );
  return specs;
}

/** GPT2LMHeadModel over TF.js layers; build it with loadPretrained() or buildGpt2(). */
export class Gpt2LmHeadModel implements LayerTree {
  readonly kind = 'gpt2' as const;
  readonly config: Gpt2Config;
  readonly layers: Map<string, tf.layers.Layer>;
  private readonly act: Activation;

  constructor(config: Gpt2Config, layers: Map<string, tf.layers.Layer>) {
    this.config = config;
    this.layers = layers;
    this.act = activation(config.activation);
  }

  private apply(path: string, x: tf.Tensor, training: boolean): tf.Tensor {
    return getLayer(this, path).apply(x, { training }) as tf.Tensor;
  }

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
    const { hiddenSize: d, numHeads: h, headDim: dh, numLayers, vocabSize: V, contextLength } = this.config;
    const [B, T] = tokens.shape;
    const cache = options.cache;
    const past = cache?.length ?? 0;
    if (cache !== undefined) cache.assertRoom(T, B);
    else if (T > contextLength) {
      throw new Error(`input has ${T} tokens but n_positions is ${contextLength}: pass at most ${contextLength} tokens`);
    }
    const scale = this.config.scaleAttnWeights ? 1 / Math.sqrt(dh) : 1;
    try {
      const out = tf.tidy(() => {
        const positions = tf.range(past, past + T, 1, 'int32').reshape([1, T]); // [1, T]
        const tok = this.apply(`${GPT2_PREFIX}wte`, tokens, training); // [B, T, d]
        const pos = this.apply(`${GPT2_PREFIX}wpe`, positions, training); // [1, T, d]
        let x = tok.add(pos).reshape([B * T, d]); // [B·T, d]
        const mask = causalMaskWithPast(T, past); // [T, S]
        const heads = (y: tf.Tensor) => y.reshape([B, T, h, dh]).transpose([0, 2, 1, 3]) as tf.Tensor4D; // [B, h, T, d_h]
        for (let i = 0; i < numLayers; i++) {
          const p = `${GPT2_PREFIX}h.${i}`;
          const a = this.apply(`${p}.ln_1`, x, training); // [B·T, d]
          const qkv = this.apply(`${p}.attn.c_attn`, a, training); // [B·T, 3d]
          const [q, k0, v0] = tf.split(qkv, 3, 1).map(heads) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
          const [k, v] = cache === undefined ? [k0, v0] : cache.append(i, k0, v0); // [B, h, S, d_h]
          let layerScale = scale;
          if (this.config.scaleAttnByInverseLayerIdx) layerScale /= i + 1;
          const scores = tf.matMul(q, k, false, true).mul(layerScale).add(mask); // [B, h, T, S]
          const y = tf.matMul(tf.softmax(scores), v).transpose([0, 2, 1, 3]).reshape([B * T, d]); // [B·T, d]
          x = x.add(this.apply(`${p}.attn.c_proj`, y, training)); // [B·T, d]
          const m = this.apply(`${p}.ln_2`, x, training); // [B·T, d]
          const u = this.act(this.apply(`${p}.mlp.c_fc`, m, training)); // [B·T, d_ff]
          x = x.add(this.apply(`${p}.mlp.c_proj`, u, training)); // [B·T, d]
        }
        let hidden = this.apply(`${GPT2_PREFIX}ln_f`, x, training); // [B·T, d]
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
