// A tiny character-level GPT: pre-LayerNorm decoder blocks with causal self-attention and learned positions
// (Radford et al. 2019, GPT-2; Karpathy's nanoGPT), named like LLaMA/PEFT so LoRA targets read the same.
// Shapes: B = batch, T = tokens, d = dModel, h = nHeads, d_h = d/h, V = vocabSize. Dense kernels are [in, out].
import * as tf from '@tensorflow/tfjs';
import { getLayer, type LayerTree } from './module.js';
import { validateGptConfig, type GptConfig } from './config.js';
import { PositionEmbedding, TokenEmbedding } from './embedding.js';
import { LayerNorm } from './layer-norm.js';

export interface GptOptions {
  /** Seed for the initial weights (each layer draws from seed + its index). @default 0 */
  seed?: number;
}

export interface ForwardOptions {
  /** Training mode: dropout on (if config.dropout > 0) and passed to layers (LoRA's lora_dropout). @default false */
  training?: boolean;
  /** Seed for this call's dropout masks, so a training step is reproducible. @default 0 */
  seed?: number;
}

/** The module paths of one block, in the order they are created. */
export function blockPaths(i: number): string[] {
  const p = `layers.${i}`;
  return [
    `${p}.input_layernorm`,
    `${p}.self_attn.q_proj`,
    `${p}.self_attn.k_proj`,
    `${p}.self_attn.v_proj`,
    `${p}.self_attn.o_proj`,
    `${p}.post_attention_layernorm`,
    `${p}.mlp.up_proj`,
    `${p}.mlp.down_proj`,
  ];
}

const GELU_A = 0.044715;
const GELU_C = 2 * Math.sqrt(2 / Math.PI);

/**
 * GELU, tanh approximation (Hendrycks & Gimpel 2016), as GPT-2 uses: ½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
 * Computed as x·s with s = σ(z), z = 2·√(2/π)·x·(1 + 0.044715·x²): the same function, as ½·(1 + tanh(z/2)) = σ(z).
 * Why: on wasm, Sigmoid is XNNPACK's vectorised kernel and Tanh a scalar loop about 20× slower (a tenth of a
 * training step, bench/RESULTS.md). The gradient is written out, dy·(s + x·s·(1 − s)·dz/dx) with
 * dz/dx = 2·√(2/π)·(1 + 3·0.044715·x²), in 10 elementwise ops where autodiff through the formula takes 16.
 */
export const gelu: (x: tf.Tensor) => tf.Tensor = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
  const s = tf.tidy(() => tf.sigmoid(x.mul(x).mul(GELU_A).add(1).mul(x).mul(GELU_C))); // σ(z), as x
  save([x, s]);
  return {
    value: x.mul(s),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, ss] = saved as [tf.Tensor, tf.Tensor];
      const dz = xs.mul(xs).mul(3 * GELU_A * GELU_C).add(GELU_C); // dz/dx
      return dy.mul(ss.mul(ss.neg().add(1)).mul(dz).mul(xs).add(ss)); // dy·(s + s·(1 − s)·dz/dx·x)
    },
  };
});

/** Additive causal mask [T, T]: 0 where key position ≤ query position, −1e9 above the diagonal. */
export function causalMask(t: number): tf.Tensor2D {
  const m = new Float32Array(t * t);
  for (let i = 0; i < t; i++) for (let j = i + 1; j < t; j++) m[i * t + j] = -1e9;
  return tf.tensor2d(m, [t, t]);
}

/**
 * Decoder-only transformer whose every weight sits in a layer of `layers` (see module.ts). The forward pass
 * looks each layer up by path when it runs, so LoRA can swap q_proj for a wrapped layer without a rebuild.
 */
export class Gpt implements LayerTree {
  readonly kind = 'gpt' as const;
  readonly config: GptConfig;
  readonly layers = new Map<string, tf.layers.Layer>();

  /** A freshly initialised model; `config` is complete (build one with gptConfig({ preset, vocabSize })). */
  constructor(config: GptConfig, options: GptOptions = {}) {
    validateGptConfig(config);
    this.config = { ...config };
    const { vocabSize: V, contextLength, dModel: d, nLayers, dFf, bias, layerNormEps } = this.config;
    const seed = options.seed ?? 0;
    let n = 0;
    const init = (std: number) => tf.initializers.randomNormal({ mean: 0, stddev: std, seed: seed * 1009 + n++ });
    // GPT-2 scales the init of projections that write into the residual stream by 1/sqrt(2·nLayers),
    // so the stream's variance does not grow with depth.
    const residualStd = 0.02 / Math.sqrt(2 * nLayers);
    const dense = (units: number, std: number, useBias = bias) =>
      tf.layers.dense({ units, useBias, kernelInitializer: init(std), biasInitializer: 'zeros' });
    const norm = () => new LayerNorm({ dim: d, epsilon: layerNormEps });

    this.layers.set('embed_tokens', new TokenEmbedding({ numEmbeddings: V, embeddingDim: d, seed: seed * 1009 + n++ }));
    this.layers.set('embed_positions', new PositionEmbedding({ numEmbeddings: contextLength, embeddingDim: d, seed: seed * 1009 + n++ }));
    for (let i = 0; i < nLayers; i++) {
      const [ln1, q, k, v, o, ln2, up, down] = blockPaths(i) as [string, string, string, string, string, string, string, string];
      this.layers.set(ln1, norm());
      this.layers.set(q, dense(d, 0.02));
      this.layers.set(k, dense(d, 0.02));
      this.layers.set(v, dense(d, 0.02));
      this.layers.set(o, dense(d, residualStd));
      this.layers.set(ln2, norm());
      this.layers.set(up, dense(dFf, 0.02));
      this.layers.set(down, dense(d, residualStd));
    }
    this.layers.set('norm', norm());
    this.layers.set('lm_head', dense(V, 0.02, false));
    this.build();
  }

  /** Creates every weight now (TF.js layers build lazily), so counts, checkpoints and LoRA see them all. */
  private build(): void {
    tf.tidy(() => {
      this.logits(tf.zeros([1, 1], 'int32') as tf.Tensor2D);
    });
  }

  private apply(path: string, x: tf.Tensor, training: boolean): tf.Tensor {
    return getLayer(this, path).apply(x, { training }) as tf.Tensor;
  }

  /**
   * Next-token logits for every position: tokens [B, T] int32 → [B, T, V].
   * Position t sees tokens 0..t only (causal mask), so logits[:, t] predicts token t + 1.
   */
  logits(tokens: tf.Tensor2D, options: ForwardOptions = {}): tf.Tensor3D {
    const training = options.training ?? false;
    const { dModel: d, nHeads: h, nLayers, dropout, vocabSize: V, contextLength } = this.config;
    const [B, T] = tokens.shape;
    if (T > contextLength) {
      throw new Error(`input has ${T} tokens but contextLength is ${contextLength}: pass at most ${contextLength} tokens`);
    }
    const dh = d / h;
    let dropSeed = (options.seed ?? 0) * 7919;
    const drop = (x: tf.Tensor): tf.Tensor =>
      training && dropout > 0 ? tf.dropout(x, dropout, undefined, dropSeed++) : x;

    return tf.tidy(() => {
      const tok = this.apply('embed_tokens', tokens, training); // [B, T, d]
      const pos = this.apply('embed_positions', tokens, training); // [T, d]
      let x = drop(tok.add(pos)).reshape([B * T, d]); // [B·T, d]; dense layers see 2-D input
      const mask = causalMask(T); // [T, T]
      const heads = (y: tf.Tensor) => y.reshape([B, T, h, dh]).transpose([0, 2, 1, 3]); // [B, h, T, d_h]

      for (let i = 0; i < nLayers; i++) {
        const p = `layers.${i}`;
        // Attention: softmax(q·kᵀ/√d_h + mask)·v, per head.
        const a = this.apply(`${p}.input_layernorm`, x, training); // [B·T, d]
        const q = heads(this.apply(`${p}.self_attn.q_proj`, a, training)); // [B, h, T, d_h]
        const k = heads(this.apply(`${p}.self_attn.k_proj`, a, training)); // [B, h, T, d_h]
        const v = heads(this.apply(`${p}.self_attn.v_proj`, a, training)); // [B, h, T, d_h]
        const scores = tf.matMul(q, k, false, true).mul(1 / Math.sqrt(dh)).add(mask); // [B, h, T, T]
        const att = drop(tf.softmax(scores)); // [B, h, T, T], rows sum to 1
        const y = tf.matMul(att, v).transpose([0, 2, 1, 3]).reshape([B * T, d]); // [B·T, d]
        x = x.add(drop(this.apply(`${p}.self_attn.o_proj`, y, training))); // [B·T, d]
        // MLP: down(gelu(up(x))).
        const m = this.apply(`${p}.post_attention_layernorm`, x, training); // [B·T, d]
        const u = gelu(this.apply(`${p}.mlp.up_proj`, m, training)); // [B·T, d_ff]
        x = x.add(drop(this.apply(`${p}.mlp.down_proj`, u, training))); // [B·T, d]
      }
      const out = this.apply('lm_head', this.apply('norm', x, training), training); // [B·T, V]
      return out.reshape([B, T, V]) as tf.Tensor3D; // [B, T, V]
    });
  }

  /** Frees every weight. The model is unusable afterwards. */
  dispose(): void {
    for (const layer of this.layers.values()) for (const w of layer.weights) w.dispose();
  }
}
