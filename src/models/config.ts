// The GPT's typed configuration and its named presets (nanoGPT's GPTConfig, with LLaMA/PEFT module names).
// Sizes: d = dModel, h = nHeads, d_h = d / h (head width), d_ff = dFf (MLP hidden width), T ≤ contextLength.

/** Architecture of a decoder-only transformer (pre-LayerNorm, causal self-attention, learned positions). */
export interface GptConfig {
  /** Number of token ids: rows of embed_tokens and outputs of lm_head (the tokenizer's vocabSize). */
  readonly vocabSize: number;
  /** Longest sequence the model reads: rows of the learned position table (nanoGPT's block_size). */
  readonly contextLength: number;
  /** Width d of the residual stream and of q/k/v/o (nanoGPT's n_embd). */
  readonly dModel: number;
  /** Number of transformer blocks, `layers.{i}` (n_layer). */
  readonly nLayers: number;
  /** Attention heads per block; dModel must divide by it (n_head). */
  readonly nHeads: number;
  /** Hidden width of the MLP (up_proj's outputs); GPT-2 uses 4·dModel. */
  readonly dFf: number;
  /** Dropout on attention weights and on each residual branch while training (0 = off). */
  readonly dropout: number;
  /** Biases in the q/k/v/o and MLP projections (GPT-2: yes; LLaMA: no). lm_head never has one. */
  readonly bias: boolean;
  /** LayerNorm epsilon. */
  readonly layerNormEps: number;
}

/** The architecture without the vocabulary (that comes from the tokenizer). */
export type GptPreset = Omit<GptConfig, 'vocabSize'>;

/**
 * Named sizes. `nano` is for unit tests (seconds on the cpu backend); `tiny` is the tutorial and fine-tune
 * default (LoRA r = 8 on q_proj + v_proj is under 3 % of its parameters); `small` wants a GPU; `bench` is the
 * size the benchmark compares with PyTorch.
 */
export const GPT_PRESETS = {
  nano: { contextLength: 32, dModel: 32, nLayers: 2, nHeads: 2, dFf: 128, dropout: 0, bias: true, layerNormEps: 1e-5 },
  tiny: { contextLength: 32, dModel: 128, nLayers: 2, nHeads: 4, dFf: 512, dropout: 0, bias: true, layerNormEps: 1e-5 },
  small: { contextLength: 128, dModel: 384, nLayers: 6, nHeads: 6, dFf: 1536, dropout: 0.1, bias: true, layerNormEps: 1e-5 },
  bench: { contextLength: 64, dModel: 128, nLayers: 4, nHeads: 4, dFf: 512, dropout: 0, bias: true, layerNormEps: 1e-5 },
} as const satisfies Record<string, GptPreset>;

export type GptPresetName = keyof typeof GPT_PRESETS;

export interface GptConfigInput extends Partial<GptConfig> {
  /** Start from this preset, then apply the other fields. @default 'tiny' */
  preset?: GptPresetName;
  /** Required: the tokenizer's vocabulary size. */
  vocabSize: number;
}

function positiveInt(name: string, v: number, example: string): void {
  if (!Number.isInteger(v) || v < 1) {
    throw new Error(`${name} must be a positive integer, got ${v}: use ${name} >= 1 (e.g. ${example})`);
  }
}

/** A complete, validated GptConfig from a preset plus overrides. */
export function gptConfig(input: GptConfigInput): GptConfig {
  const presetName = input.preset ?? 'tiny';
  const preset: GptPreset | undefined = (GPT_PRESETS as Record<string, GptPreset>)[presetName];
  if (preset === undefined) {
    throw new Error(`unknown GPT preset '${presetName}'; presets are: ${Object.keys(GPT_PRESETS).join(', ')}`);
  }
  const { preset: _p, ...overrides } = input;
  const c: GptConfig = { ...preset, ...overrides };
  validateGptConfig(c);
  return c;
}

/** Throws naming the first bad field, its value and a fix. */
export function validateGptConfig(c: GptConfig): void {
  positiveInt('vocabSize', c.vocabSize, '31');
  positiveInt('contextLength', c.contextLength, '32');
  positiveInt('dModel', c.dModel, '128');
  positiveInt('nLayers', c.nLayers, '2');
  positiveInt('nHeads', c.nHeads, '4');
  positiveInt('dFf', c.dFf, '4 * dModel');
  if (c.dModel % c.nHeads !== 0) {
    throw new Error(`dModel (${c.dModel}) must be divisible by nHeads (${c.nHeads}): e.g. dModel 128 with nHeads 4`);
  }
  if (!(c.dropout >= 0 && c.dropout < 1)) {
    throw new Error(`dropout must be in [0, 1), got ${c.dropout}: use e.g. 0 or 0.1`);
  }
  if (typeof c.bias !== 'boolean') throw new Error(`bias must be true or false, got ${String(c.bias)}`);
  if (!(c.layerNormEps > 0)) throw new Error(`layerNormEps must be > 0, got ${c.layerNormEps}: use 1e-5`);
}
