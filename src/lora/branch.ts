// The LoRA branch every LoRA layer is built on (Hu et al. 2021, eq. 3; PEFT tuners/lora/layer.py LoraLayer):
// lora_A [r, in], lora_B [out, r], scaling = α/r (α/√r with use_rslora), dropout on the branch's input only, and
// the update h = scaling·(dropout(x)·Aᵀ)·Bᵀ [N, out], so ΔW = scaling·B·A [out, in] (PEFT orientation).
// The product is ONE op forward and backward (tf.customGrad with x, A and B as inputs, nothing trainable captured):
// backprop runs exactly dB = dyᵀ·(s·h), dA = (s·dy·B)ᵀ·x_d and dx = mask ⊙ (s·dy·B)·A, no per-op overhead.
import * as tf from '@tensorflow/tfjs';
import { loraScaling, type LoraConfig } from './config.js';

type LayerVariable = tf.LayerVariable;

/** How a branch's A and B start: PEFT's rules for a linear layer or for an embedding table. */
export type BranchKind = 'linear' | 'embedding';

export interface LoraBranchArgs {
  /** Variable names: `${prefix}/${names.A}/${adapter}` and `${prefix}/${names.B}/${adapter}`. */
  prefix: string;
  adapter: string;
  /** PEFT's parameter names: lora_A / lora_B, or lora_embedding_A / lora_embedding_B. */
  names: { A: string; B: string };
  inFeatures: number;
  outFeatures: number;
  config: LoraConfig;
  /** Seeds the initial values and the dropout masks. */
  seed: number;
  kind: BranchKind;
  /** Initial lora_A [r, in] and lora_B [out, r] (copied; the caller keeps ownership), e.g. PiSSA's. */
  init?: { lora_A: tf.Tensor2D; lora_B: tf.Tensor2D };
}

/** Kaiming-uniform with a = √5 (PyTorch's nn.Linear default): bound = gain·√(3/fan_in) = 1/√fan_in. */
function kaimingUniformA5(shape: [number, number], seed: number): tf.Tensor2D {
  const bound = 1 / Math.sqrt(shape[1]); // fan_in = columns of a [fan_out, fan_in] weight
  return tf.randomUniform(shape, -bound, bound, 'float32', seed) as tf.Tensor2D;
}

/**
 * PEFT's initial A and B (reset_lora_parameters). Linear: A Kaiming-uniform(a=√5) or N(0, 1/r²) ('gaussian'), B = 0.
 * Embedding: A = 0, B ~ N(0, 1), the other way round. init_lora_weights = false leaves both random (ΔW ≠ 0).
 */
export function initialFactors(
  kind: BranchKind,
  r: number,
  dIn: number,
  dOut: number,
  init: LoraConfig['init_lora_weights'],
  seed: number,
): { lora_A: tf.Tensor2D; lora_B: tf.Tensor2D } {
  return tf.tidy(() => {
    if (kind === 'embedding') {
      const A = init === false ? tf.randomNormal([r, dIn], 0, 1, 'float32', seed + 1) : tf.zeros([r, dIn]);
      return { lora_A: A as tf.Tensor2D, lora_B: tf.randomNormal([dOut, r], 0, 1, 'float32', seed) as tf.Tensor2D };
    }
    const lora_A = init === 'gaussian'
      ? (tf.randomNormal([r, dIn], 0, 1 / r, 'float32', seed) as tf.Tensor2D) // PEFT: std = 1/r
      : kaimingUniformA5([r, dIn], seed);
    const lora_B = init === false ? kaimingUniformA5([dOut, r], seed + 1) : (tf.zeros([dOut, r]) as tf.Tensor2D);
    return { lora_A, lora_B };
  });
}

/** tf.dropout's multiplier ⌊u + keep⌋ / keep for u ~ U(0, 1): 0 or 1/keep per entry, the same mask for a seed. */
function dropoutMultiplier(shape: number[], p: number, seed: number): tf.Tensor {
  const keep = 1 - p;
  return tf.tidy(() => tf.floor(tf.randomUniform(shape, 0, 1, 'float32', seed).add(keep)).div(keep));
}

/** One adapter's A, B and scaling on one layer. */
export class LoraBranch {
  readonly config: LoraConfig;
  /** α/r, or α/√r with use_rslora. */
  readonly scaling: number;
  readonly lora_A: LayerVariable; // [r, in]
  readonly lora_B: LayerVariable; // [out, r]
  readonly inFeatures: number;
  readonly outFeatures: number;
  private readonly seed: number;
  private dropoutCalls = 0;

  constructor(args: LoraBranchArgs) {
    const { config: c, inFeatures: dIn, outFeatures: dOut } = args;
    this.config = c;
    this.scaling = loraScaling(c);
    this.inFeatures = dIn;
    this.outFeatures = dOut;
    this.seed = args.seed;
    const init = args.init ?? initialFactors(args.kind, c.r, dIn, dOut, c.init_lora_weights, args.seed);
    if (init.lora_A.shape.join() !== `${c.r},${dIn}` || init.lora_B.shape.join() !== `${dOut},${c.r}`) {
      throw new Error(
        `initial lora_A/lora_B are [${init.lora_A.shape}] / [${init.lora_B.shape}]; expected [${c.r}, ${dIn}] / ` +
        `[${dOut}, ${c.r}]`,
      );
    }
    this.lora_A = new tf.LayerVariable(init.lora_A, 'float32', `${args.prefix}/${args.names.A}/${args.adapter}`, true);
    this.lora_B = new tf.LayerVariable(init.lora_B, 'float32', `${args.prefix}/${args.names.B}/${args.adapter}`, true);
    if (args.init === undefined) tf.dispose([init.lora_A, init.lora_B]);
  }

  get weights(): LayerVariable[] {
    return [this.lora_A, this.lora_B];
  }

  set trainable(on: boolean) {
    this.lora_A.trainable = on;
    this.lora_B.trainable = on;
  }

  /** The next dropout mask's seed: masks differ call by call and repeat run by run. */
  private nextSeed(): number {
    return (this.seed * 7919 + this.dropoutCalls++) % 2147483647;
  }

  /** dropout(x) on the branch's input (PEFT's lora_dropout), or x itself outside training or with p = 0. */
  dropout(x: tf.Tensor2D, training: boolean): tf.Tensor2D {
    const p = this.config.lora_dropout;
    if (!training || p === 0) return x;
    return tf.tidy(() => x.mul(dropoutMultiplier(x.shape, p, this.nextSeed()))) as tf.Tensor2D;
  }

  /** scaling·(dropout(x)·Aᵀ)·Bᵀ for x [N, in] → [N, out], one fused op (dropout included). */
  forward(x: tf.Tensor2D, training: boolean): tf.Tensor2D {
    const p = this.config.lora_dropout;
    const mask = training && p > 0 ? dropoutMultiplier(x.shape, p, this.nextSeed()) : null; // [N, in]
    const y = fusedBranch(this.scaling, mask)(x, this.lora_A.read(), this.lora_B.read()) as tf.Tensor2D;
    mask?.dispose();
    return y;
  }

  /** The branch on token ids [N] of a table [in = V rows]: scaling·A[:, ids]ᵀ·Bᵀ → [N, out], one fused op. */
  lookup(ids: tf.Tensor1D): tf.Tensor2D {
    return fusedLookup(this.scaling, ids, this.inFeatures)(this.lora_A.read(), this.lora_B.read()) as tf.Tensor2D;
  }

  /** ΔW = scaling·B·A [out, in], PEFT's get_delta_weight before any transpose. Caller disposes. */
  deltaWeight(): tf.Tensor2D {
    return tf.tidy(() => tf.matMul(this.lora_B.read(), this.lora_A.read()).mul(this.scaling) as tf.Tensor2D);
  }

  /** ΔWᵀ = scaling·Aᵀ·Bᵀ [in, out]: the change to a TF.js kernel or an embedding table [V, d]. Caller disposes. */
  deltaKernel(): tf.Tensor2D {
    return tf.tidy(() => tf.matMul(this.lora_A.read(), this.lora_B.read(), true, true).mul(this.scaling) as tf.Tensor2D);
  }

  dispose(): void {
    this.lora_A.dispose();
    this.lora_B.dispose();
  }
}

/**
 * y = (s·(x ⊙ mask)·Aᵀ)·Bᵀ with its gradient written out: the tape sees one node, and backprop computes only the
 * four products the math needs. `mask` (tf.dropout's multiplier) is captured: it is a constant, not trained.
 */
function fusedBranch(s: number, mask: tf.Tensor | null) {
  return tf.customGrad((...args: unknown[]) => {
    const [x, A, B, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
    const xd = mask === null ? x : x.mul(mask); // [N, in]
    const hs = tf.matMul(xd, A, false, true).mul(s); // [N, r]: A compresses, scaled once here
    const y = tf.matMul(hs, B, false, true); // [N, out]: B restores
    save(mask === null ? [xd, hs, A, B] : [xd, hs, A, B, mask]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          type T2 = tf.Tensor2D;
          const [sx, shs, sA, sB, smask] = saved as [T2, T2, T2, T2, tf.Tensor | undefined];
          const dh = tf.matMul(dy as tf.Tensor2D, sB).mul(s) as tf.Tensor2D; // [N, r] = ∂L/∂(x_d·Aᵀ)
          const dB = tf.matMul(dy as tf.Tensor2D, shs, true, false); // [out, r]
          const dA = tf.matMul(dh, sx, true, false); // [r, in]
          const dxd = tf.matMul(dh, sA); // [N, in]
          return [smask === undefined ? dxd : dxd.mul(smask), dA, dB];
        }),
    };
  });
}

/**
 * The embedding branch y = s·A[:, ids]ᵀ·Bᵀ as one op. Backward scatters s·dy·B into the columns of A the ids name
 * (summing repeats), so it needs no gradient of gather: the wasm backend has none (UnsortedSegmentSum).
 */
function fusedLookup(s: number, ids: tf.Tensor1D, rows: number) {
  return tf.customGrad((...args: unknown[]) => {
    const [A, B, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
    const hs = tf.gather(A, ids, 1).mul(s) as tf.Tensor2D; // [r, N]: column `id` of A per token, scaled
    const y = tf.matMul(hs, B, true, true); // [N, out]
    save([hs, B, ids]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const [shs, sB, sids] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D];
          const dB = tf.matMul(dy as tf.Tensor2D, shs, true, true); // [out, r]
          const dh = tf.matMul(dy as tf.Tensor2D, sB).mul(s) as tf.Tensor2D; // [N, r]
          const r = sB.shape[1];
          const dAt = tf.scatterND(sids.expandDims(1), dh, [rows, r]); // [V, r], repeated ids summed
          return [dAt.transpose(), dB];
        }),
    };
  });
}
