// Llama-family decoders as transformers' LlamaForCausalLM computes them (modeling_llama.py; Touvron et al.
// 2023), which also covers SmolLM/SmolLM2, TinyLlama, Llama 3.x and (with q/k/v biases) Qwen2: RMSNorm
// pre-norm blocks, rotary q/k (rope.ts), grouped-query attention (h query heads share h_kv key/value heads:
// query head j reads kv head ⌊j / (h / h_kv)⌋, transformers' repeat_kv), SwiGLU MLP down(silu(gate(x)) ⊙ up(x)).
// Shapes: B batch, T new tokens, S = past + T keys, d hidden, d_h head width, V vocabulary. Dense kernels [in, out].
import * as tf from '@tensorflow/tfjs';
import type { LlamaConfig } from './config.js';
import { activation, type Activation } from './activations.js';
import type { KvCache } from './kv-cache.js';
import { CausalDecoder } from './decoder.js';
import { causalMaskWithPast } from './attention.js';
import { applyRope, ropeInverseFrequencies, ropeTables } from './rope.js';
import type { LayerSpec } from './weights.js';

/** The layers of LlamaForCausalLM by state_dict name: `model.layers.0.self_attn.q_proj`, ..., `lm_head`. */
export function llamaLayerSpecs(c: LlamaConfig): LayerSpec[] {
  const d = c.hiddenSize;
  const qDim = c.numHeads * c.headDim;
  const kvDim = c.numKeyValueHeads * c.headDim;
  const specs: LayerSpec[] = [{ kind: 'embedding', path: 'model.embed_tokens', rows: c.vocabSize, dim: d }];
  const dense = (path: string, inFeatures: number, outFeatures: number, bias: boolean): LayerSpec =>
    ({ kind: 'dense', path, inFeatures, outFeatures, bias });
  for (let i = 0; i < c.numLayers; i++) {
    const b = `model.layers.${i}`;
    specs.push(
      { kind: 'rms_norm', path: `${b}.input_layernorm`, dim: d, eps: c.rmsNormEps },
      dense(`${b}.self_attn.q_proj`, d, qDim, c.qkvBias),
      dense(`${b}.self_attn.k_proj`, d, kvDim, c.qkvBias),
      dense(`${b}.self_attn.v_proj`, d, kvDim, c.qkvBias),
      dense(`${b}.self_attn.o_proj`, qDim, d, c.oBias),
      { kind: 'rms_norm', path: `${b}.post_attention_layernorm`, dim: d, eps: c.rmsNormEps },
      dense(`${b}.mlp.gate_proj`, d, c.intermediateSize, c.mlpBias),
      dense(`${b}.mlp.up_proj`, d, c.intermediateSize, c.mlpBias),
      dense(`${b}.mlp.down_proj`, c.intermediateSize, d, c.mlpBias),
    );
  }
  specs.push({ kind: 'rms_norm', path: 'model.norm', dim: d, eps: c.rmsNormEps });
  specs.push(
    c.tieWordEmbeddings
      ? { kind: 'tied_head', path: 'lm_head', tiedTo: 'model.embed_tokens' }
      : dense('lm_head', d, c.vocabSize, false),
  );
  return specs;
}

/** LlamaForCausalLM over TF.js layers; build it with loadPretrained() or buildPretrained(). */
export class LlamaForCausalLm extends CausalDecoder<LlamaConfig> {
  readonly kind = 'llama' as const;
  protected readonly finalNorm = 'model.norm';
  protected readonly contextName = 'max_position_embeddings';
  private readonly act: Activation;
  private readonly invFreq: Float64Array;

  constructor(config: LlamaConfig, layers: Map<string, tf.layers.Layer>) {
    super(config, layers);
    this.act = activation(config.activation);
    this.invFreq = ropeInverseFrequencies(config.headDim, config.ropeTheta, config.ropeScaling);
  }

  protected blocks(tokens: tf.Tensor2D, past: number, cache: KvCache | undefined, training: boolean): tf.Tensor {
    const { hiddenSize: d, numHeads: h, numKeyValueHeads: hkv, headDim: dh, numLayers } = this.config;
    const rep = h / hkv; // query heads per key/value head
    const [B, T] = tokens.shape;
    let x = this.apply('model.embed_tokens', tokens, training).reshape([B * T, d]); // [B·T, d]
    const mask = causalMaskWithPast(T, past); // [T, S]
    const { cos, sin } = ropeTables(this.invFreq, past, T); // [T, d_h] each
    const split = (y: tf.Tensor, n: number) => y.reshape([B, T, n, dh]).transpose([0, 2, 1, 3]) as tf.Tensor4D; // [B, n, T, d_h]
    for (let i = 0; i < numLayers; i++) {
      const p = `model.layers.${i}`;
      const a = this.apply(`${p}.input_layernorm`, x, training); // [B·T, d]
      const q = applyRope(split(this.apply(`${p}.self_attn.q_proj`, a, training), h), cos, sin); // [B, h, T, d_h]
      const k0 = applyRope(split(this.apply(`${p}.self_attn.k_proj`, a, training), hkv), cos, sin); // [B, h_kv, T, d_h]
      const v0 = split(this.apply(`${p}.self_attn.v_proj`, a, training), hkv); // [B, h_kv, T, d_h]
      const [k, v] = cache === undefined ? [k0, v0] : cache.append(i, k0, v0); // [B, h_kv, S, d_h]
      const S = k.shape[2];
      // Grouped-query attention without copying k, v: the `rep` query heads of one kv head become rows.
      const qg = q.reshape([B, hkv, rep * T, dh]); // [B, h_kv, rep·T, d_h]
      const scores = tf.matMul(qg, k, false, true).mul(1 / Math.sqrt(dh)) // [B, h_kv, rep·T, S]
        .reshape([B, hkv, rep, T, S]).add(mask); // [B, h_kv, rep, T, S]
      const att = tf.softmax(scores).reshape([B, hkv, rep * T, S]); // rows sum to 1
      const y = tf.matMul(att, v).reshape([B, h, T, dh]).transpose([0, 2, 1, 3]).reshape([B * T, h * dh]); // [B·T, h·d_h]
      x = x.add(this.apply(`${p}.self_attn.o_proj`, y, training)); // [B·T, d]
      const m = this.apply(`${p}.post_attention_layernorm`, x, training); // [B·T, d]
      const gate = this.act(this.apply(`${p}.mlp.gate_proj`, m, training)); // [B·T, d_ff]
      const up = this.apply(`${p}.mlp.up_proj`, m, training); // [B·T, d_ff]
      x = x.add(this.apply(`${p}.mlp.down_proj`, gate.mul(up), training)); // [B·T, d]
    }
    return x;
  }
}
