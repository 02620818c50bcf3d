// GPT-2 as transformers' GPT2LMHeadModel computes it (modeling_gpt2.py; Radford et al. 2019): token + learned
// position embeddings, pre-LayerNorm blocks x += c_proj(attn(ln_1(x))), x += mlp(ln_2(x)) with c_attn fusing
// q, k, v as one Conv1D [d, 3d] (weights [in, out]), gelu_new, ln_f, and lm_head tied to wte.
// Shapes: B batch, T new tokens, S = past + T keys, d = n_embd, h heads, d_h = d / h, V vocabulary.
import * as tf from '@tensorflow/tfjs';
import type { Gpt2Config } from './config.js';
import { activation, type Activation } from './activations.js';
import type { KvCache } from './kv-cache.js';
import { CausalDecoder } from './decoder.js';
import { causalMaskWithPast } from './attention.js';
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

/** GPT2LMHeadModel over TF.js layers; build it with loadPretrained() or buildPretrained(). */
export class Gpt2LmHeadModel extends CausalDecoder<Gpt2Config> {
  readonly kind = 'gpt2' as const;
  protected readonly finalNorm = `${GPT2_PREFIX}ln_f`;
  protected readonly contextName = 'n_positions';
  private readonly act: Activation;

  constructor(config: Gpt2Config, layers: Map<string, tf.layers.Layer>) {
    super(config, layers);
    this.act = activation(config.activation);
  }

  protected blocks(tokens: tf.Tensor2D, past: number, cache: KvCache | undefined, training: boolean): tf.Tensor {
    const { hiddenSize: d, numHeads: h, headDim: dh, numLayers } = this.config;
    const [B, T] = tokens.shape;
    const scale = this.config.scaleAttnWeights ? 1 / Math.sqrt(dh) : 1;
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
    return x;
  }
}
