// Matrix-product FLOPs of one training step of lora-lab's GPT (models/gpt.ts), from the shapes alone, split into
// the forward pass, backprop through activations (dx) and the gradients of trained weights (dW): the count behind
// the LoRA paper's §4.2 speed argument (Hu et al. 2021, https://arxiv.org/abs/2106.09685). One product of an
// [m, k] by a [k, n] matrix costs 2·m·k·n FLOPs. N = B·T token positions, d = dModel, d_ff = dFf, V = vocabSize.
import * as tf from '@tensorflow/tfjs';
import type { GptConfig } from '../models/config.js';

/** A step's matrix-product FLOPs, in three parts. */
export interface StepFlops {
  /** The forward pass: every projection, attention's q·kᵀ and att·v, the one-hot token lookup, lm_head. */
  forward: number;
  /** Backprop through activations (dx = dy·Wᵀ, and attention's inputs): needed wherever something below trains. */
  inputGrads: number;
  /** Gradients of the trained weights (dW = xᵀ·dy): every kernel and table in full fine-tuning, A and B in LoRA. */
  weightGrads: number;
  /** forward + inputGrads + weightGrads. */
  total: number;
}

export interface StepShape {
  /** Records per step (B). */
  batchSize: number;
  /** Positions per record (T). */
  length: number;
  /**
   * Plain LoRA (no DoRA) of rank r on these module paths (e.g. `layers.0.self_attn.q_proj`, `lm_head`), everything
   * else frozen. Absent: full fine-tuning, every weight trained.
   */
  lora?: { r: number; modules: readonly string[] };
}

const LINEAR = /^(layers\.(\d+)\.(self_attn\.(q|k|v|o)_proj|mlp\.(up|down)_proj)|lm_head)$/;

/**
 * FLOPs of one training step (loss → gradients), matrix products only, as TF.js's tape runs them: a product's
 * gradient is taken only for inputs that depend on something trained, a frozen weight gets none, and a LoRA
 * branch (one fused op) always computes its four backward products. Elementwise work (LayerNorm, GELU, softmax,
 * Adam) is not counted: it is what this count leaves out, and why small models gain less than it suggests.
 */
export function gptStepFlops(config: GptConfig, shape: StepShape): StepFlops {
  const { batchSize: B, length: T } = shape;
  for (const [name, v] of [['batchSize', B], ['length', T]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`gptStepFlops: ${name} must be a positive integer, got ${v}`);
  }
  const { dModel: d, dFf, vocabSize: V, nLayers } = config;
  const lora = shape.lora;
  const full = lora === undefined;
  const wrapped = new Set(lora?.modules ?? []);
  if (lora !== undefined) {
    if (!Number.isInteger(lora.r) || lora.r < 1) {
      throw new Error(`gptStepFlops: r must be a positive integer, got ${lora.r}`);
    }
    for (const m of wrapped) {
      const hit = LINEAR.exec(m);
      if (hit === null || (hit[2] !== undefined && Number(hit[2]) >= nLayers)) {
        throw new Error(
          `gptStepFlops: '${m}' is not a linear layer of this ${nLayers}-block GPT: use paths like ` +
            `'layers.0.self_attn.q_proj', 'layers.${nLayers - 1}.mlp.down_proj' or 'lm_head'`,
        );
      }
    }
  }
  const N = B * T;
  const f = { forward: 0, inputGrads: 0, weightGrads: 0 };
  const product = (m: number, k: number, n: number) => 2 * m * k * n;

  /** y = x·K (+ LoRA): adds its FLOPs; returns whether y depends on something trained. */
  const linear = (path: string, dIn: number, dOut: number, xDep: boolean): boolean => {
    f.forward += product(N, dIn, dOut);
    if (xDep) f.inputGrads += product(N, dOut, dIn); // dx = dy·Kᵀ
    if (full) f.weightGrads += product(dIn, N, dOut); // dK = xᵀ·dy
    if (!wrapped.has(path)) return xDep || full;
    const r = lora!.r;
    f.forward += product(N, dIn, r) + product(N, r, dOut); // h = x·Aᵀ, then h·Bᵀ
    f.inputGrads += product(N, dOut, r) + product(N, r, dIn); // dh = dy·B, dx = dh·A (the fused op returns it)
    f.weightGrads += product(dOut, N, r) + product(r, N, dIn); // dB = dyᵀ·h, dA = dhᵀ·x
    return true;
  };
  /** One attention product per head, [T, a]·[a, b] for B·h heads: h·a = d in both of attention's products. */
  const attention = (aDep: boolean, bDep: boolean): boolean => {
    const flops = 2 * B * T * T * d; // q·kᵀ: B·h·(2·T·d_h·T); att·v: B·h·(2·T·T·d_h)
    f.forward += flops;
    f.inputGrads += (aDep ? flops : 0) + (bDep ? flops : 0);
    return aDep || bDep;
  };

  f.forward += product(N, V, d); // token lookup: one-hot [N, V] · table [V, d]
  if (full) f.weightGrads += product(V, N, d); // d(table) = one-hotᵀ·dx
  let x = full; // does the residual stream depend on something trained?
  for (let i = 0; i < nLayers; i++) {
    const p = `layers.${i}`;
    const a = x || full; // input_layernorm (trainable in full fine-tuning)
    const q = linear(`${p}.self_attn.q_proj`, d, d, a);
    const k = linear(`${p}.self_attn.k_proj`, d, d, a);
    const v = linear(`${p}.self_attn.v_proj`, d, d, a);
    const att = attention(q, k); // scores = q·kᵀ
    const y = attention(att, v); // att·v
    x = linear(`${p}.self_attn.o_proj`, d, d, y) || x;
    const m = x || full; // post_attention_layernorm
    const u = linear(`${p}.mlp.up_proj`, d, dFf, m);
    x = linear(`${p}.mlp.down_proj`, dFf, d, u) || x;
  }
  linear('lm_head', d, V, x || full);
  return { ...f, total: f.forward + f.inputGrads + f.weightGrads };
}

/** One matrix-product kernel that ran: its name, batch, m × k times k × n, and its FLOPs. */
export interface MatMulKernel {
  name: string;
  batch: number;
  m: number;
  k: number;
  n: number;
  flops: number;
}

/** TF.js's matrix-product kernels (tf.matMul runs BatchMatMul, tf.fused.matMul and Dense run _FusedMatMul). */
const MATMUL_KERNELS = new Set(['BatchMatMul', '_FusedMatMul']);

/**
 * The matrix products `fn` actually runs, read from `tf.profile` (kernel names and shapes), with their FLOPs:
 * the measured counterpart of gptStepFlops. For an output [..., m, n] and a first input whose last two dimensions
 * hold m·k numbers (transposed or not), the product costs 2·batch·m·k·n.
 */
export async function profiledMatMuls(
  fn: () => void | Promise<void>,
): Promise<{ flops: number; kernels: MatMulKernel[] }> {
  const info = await tf.profile(async () => {
    await fn();
  });
  const kernels: MatMulKernel[] = [];
  for (const kern of info.kernels) {
    if (!MATMUL_KERNELS.has(kern.name)) continue;
    const a = kern.inputShapes[0]!;
    const out = kern.outputShapes[0]!;
    const [m, n] = out.slice(-2) as [number, number];
    const batch = out.slice(0, -2).reduce((s, v) => s * v, 1);
    const k = (a.at(-1)! * a.at(-2)!) / m;
    kernels.push({ name: kern.name, batch, m, k, n, flops: 2 * batch * m * k * n });
  }
  return { flops: kernels.reduce((s, kk) => s + kk.flops, 0), kernels };
}
