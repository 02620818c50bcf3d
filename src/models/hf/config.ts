// config.json of a Hugging Face causal LM, read into one typed shape for the two families lora-lab runs:
// GPT-2 (transformers GPT2Config: n_embd, n_layer, n_head, n_positions, n_inner, activation_function) and
// Llama-style decoders (LlamaConfig / Qwen2Config: hidden_size, num_key_value_heads, head_dim, rope_theta,
// rope_scaling). Missing fields take transformers' defaults; a bad one is an error naming the file and the fix.

export type HfModelType = 'gpt2' | 'llama' | 'qwen2';
export const SUPPORTED_MODEL_TYPES: readonly HfModelType[] = ['gpt2', 'llama', 'qwen2'];

/** RoPE frequency scaling (transformers' rope_scaling / rope_parameters); 'default' is plain RoPE. */
export type RopeScaling =
  | { readonly ropeType: 'default' }
  | { readonly ropeType: 'linear'; readonly factor: number }
  | {
      readonly ropeType: 'llama3';
      readonly factor: number;
      readonly lowFreqFactor: number;
      readonly highFreqFactor: number;
      readonly originalMaxPositionEmbeddings: number;
    };

/** What every supported model shares; `contextLength` and `vocabSize` make it a CausalLm config. */
interface HfCommon {
  /** Number of token ids: rows of the token table and outputs of lm_head (config.vocab_size). */
  readonly vocabSize: number;
  /** Longest sequence: GPT-2's n_positions, Llama's max_position_embeddings. */
  readonly contextLength: number;
  /** Width d of the residual stream. */
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  /** Width of one attention head (d / h unless config.json says head_dim). */
  readonly headDim: number;
  /** Hidden width of the MLP. */
  readonly intermediateSize: number;
  /** Does lm_head reuse the token table (tie_word_embeddings)? */
  readonly tieWordEmbeddings: boolean;
  /** transformers' activation name (gelu_new, silu, ...). */
  readonly activation: string;
  readonly bosTokenId: number | null;
  /** eos id(s) from config.json (generation_config.json may add more). */
  readonly eosTokenIds: readonly number[];
  /** The parsed config.json as it was. */
  readonly raw: Readonly<Record<string, unknown>>;
}

export interface Gpt2Config extends HfCommon {
  readonly modelType: 'gpt2';
  readonly layerNormEpsilon: number;
  /** Divide attention scores by √d_h (scale_attn_weights). */
  readonly scaleAttnWeights: boolean;
  /** Also divide layer i's scores by i + 1 (scale_attn_by_inverse_layer_idx). */
  readonly scaleAttnByInverseLayerIdx: boolean;
}

export interface LlamaConfig extends HfCommon {
  readonly modelType: 'llama' | 'qwen2';
  /** Key/value heads (grouped-query attention): numHeads must divide by it. */
  readonly numKeyValueHeads: number;
  readonly rmsNormEps: number;
  readonly ropeTheta: number;
  readonly ropeScaling: RopeScaling;
  /** Biases on q_proj, k_proj, v_proj (Llama: attention_bias; Qwen2: always). */
  readonly qkvBias: boolean;
  /** Bias on o_proj (Llama: attention_bias; Qwen2: never). */
  readonly oBias: boolean;
  /** Biases on gate/up/down_proj (mlp_bias). */
  readonly mlpBias: boolean;
}

export type HfConfig = Gpt2Config | LlamaConfig;

type Raw = Record<string, unknown>;

class ConfigReader {
  constructor(private readonly raw: Raw, private readonly file: string) {}

  private fail(key: string, want: string): never {
    throw new Error(`${this.file}: '${key}' must be ${want}, got ${JSON.stringify(this.raw[key])}: fix config.json`);
  }

  int(key: string, fallback?: number): number {
    const v = this.raw[key] ?? fallback;
    if (v === undefined) throw new Error(`${this.file}: '${key}' is missing: config.json must give it (a positive integer)`);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) this.fail(key, 'a positive integer');
    return v;
  }

  optInt(key: string): number | undefined {
    return this.raw[key] === undefined || this.raw[key] === null ? undefined : this.int(key);
  }

  num(key: string, fallback: number): number {
    const v = this.raw[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) this.fail(key, 'a positive number');
    return v;
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.raw[key] ?? fallback;
    if (typeof v !== 'boolean') this.fail(key, 'true or false');
    return v;
  }

  str(key: string, fallback: string): string {
    const v = this.raw[key] ?? fallback;
    if (typeof v !== 'string') this.fail(key, 'a string');
    return v;
  }

  ids(key: string): number[] {
    const v = this.raw[key];
    if (v === undefined || v === null) return [];
    const list = Array.isArray(v) ? v : [v];
    if (!list.every((x) => Number.isInteger(x) && (x as number) >= 0)) this.fail(key, 'a token id or a list of them');
    return list as number[];
  }
}

const GPT2_ACTIVATIONS = ['gelu_new', 'gelu_pytorch_tanh', 'gelu', 'relu', 'silu', 'swish'];

function gpt2(raw: Raw, file: string): Gpt2Config {
  const r = new ConfigReader(raw, file);
  // GPT2Config's attribute_map: hidden_size → n_embd, num_hidden_layers → n_layer, ...
  const hiddenSize = r.int('n_embd', 768);
  const numHeads = r.int('n_head', 12);
  if (hiddenSize % numHeads !== 0) {
    throw new Error(`${file}: n_embd ${hiddenSize} must be divisible by n_head ${numHeads}: fix config.json`);
  }
  const activation = r.str('activation_function', 'gelu_new');
  if (!GPT2_ACTIVATIONS.includes(activation)) {
    throw new Error(`${file}: activation_function '${activation}' is not supported; use one of ${GPT2_ACTIVATIONS.join(', ')}`);
  }
  if (r.bool('add_cross_attention', false)) {
    throw new Error(`${file}: add_cross_attention is true (an encoder-decoder GPT-2); only decoder-only GPT-2 loads here`);
  }
  return {
    modelType: 'gpt2',
    vocabSize: r.int('vocab_size', 50257),
    contextLength: r.int('n_positions', 1024),
    hiddenSize,
    numLayers: r.int('n_layer', 12),
    numHeads,
    headDim: hiddenSize / numHeads,
    intermediateSize: r.optInt('n_inner') ?? 4 * hiddenSize,
    tieWordEmbeddings: r.bool('tie_word_embeddings', true),
    activation,
    bosTokenId: r.ids('bos_token_id')[0] ?? null,
    eosTokenIds: r.ids('eos_token_id'),
    layerNormEpsilon: r.num('layer_norm_epsilon', 1e-5),
    scaleAttnWeights: r.bool('scale_attn_weights', true),
    scaleAttnByInverseLayerIdx: r.bool('scale_attn_by_inverse_layer_idx', false),
    raw,
  };
}

/** rope_scaling (transformers ≤ 4.x) or rope_parameters (5.x), with rope_theta from either place. */
function rope(raw: Raw, file: string): { theta: number; scaling: RopeScaling } {
  const params = (raw['rope_parameters'] ?? raw['rope_scaling'] ?? null) as Raw | null;
  if (params !== null && (typeof params !== 'object' || Array.isArray(params))) {
    throw new Error(`${file}: rope_scaling must be an object or null, got ${JSON.stringify(params)}`);
  }
  const theta = (params?.['rope_theta'] ?? raw['rope_theta'] ?? 10000) as unknown;
  if (typeof theta !== 'number' || !(theta > 0)) throw new Error(`${file}: rope_theta must be a positive number, got ${JSON.stringify(theta)}`);
  const type = (params?.['rope_type'] ?? params?.['type'] ?? 'default') as unknown;
  const p = new ConfigReader(params ?? {}, `${file} rope_scaling`);
  if (type === 'default') return { theta, scaling: { ropeType: 'default' } };
  if (type === 'linear') return { theta, scaling: { ropeType: 'linear', factor: p.num('factor', Number.NaN) } };
  if (type === 'llama3') {
    const s = {
      ropeType: 'llama3' as const,
      factor: p.num('factor', Number.NaN),
      lowFreqFactor: p.num('low_freq_factor', Number.NaN),
      highFreqFactor: p.num('high_freq_factor', Number.NaN),
      originalMaxPositionEmbeddings: p.int('original_max_position_embeddings'),
    };
    if (!(s.highFreqFactor > s.lowFreqFactor)) {
      throw new Error(`${file}: rope_scaling high_freq_factor (${s.highFreqFactor}) must exceed low_freq_factor (${s.lowFreqFactor})`);
    }
    return { theta, scaling: s };
  }
  throw new Error(`${file}: rope type ${JSON.stringify(type)} is not supported; supported: default, linear, llama3`);
}

function llama(raw: Raw, file: string, modelType: 'llama' | 'qwen2'): LlamaConfig {
  const r = new ConfigReader(raw, file);
  const qwen = modelType === 'qwen2';
  const hiddenSize = r.int('hidden_size', 4096);
  const numHeads = r.int('num_attention_heads', 32);
  const numKeyValueHeads = r.optInt('num_key_value_heads') ?? numHeads;
  if (numHeads % numKeyValueHeads !== 0) {
    throw new Error(
      `${file}: num_attention_heads ${numHeads} must be divisible by num_key_value_heads ${numKeyValueHeads}: fix config.json`,
    );
  }
  const headDim = r.optInt('head_dim') ?? hiddenSize / numHeads;
  if (!Number.isInteger(headDim) || headDim % 2 !== 0) {
    throw new Error(`${file}: head width ${headDim} (hidden_size / num_attention_heads or head_dim) must be an even integer for RoPE`);
  }
  if (raw['partial_rotary_factor'] !== undefined && raw['partial_rotary_factor'] !== 1) {
    throw new Error(`${file}: partial_rotary_factor ${JSON.stringify(raw['partial_rotary_factor'])} is not supported (only 1)`);
  }
  if (qwen && r.bool('use_sliding_window', false)) {
    throw new Error(`${file}: use_sliding_window is true; sliding-window attention is not supported: set it to false`);
  }
  const activation = r.str('hidden_act', 'silu');
  if (activation !== 'silu' && activation !== 'swish') {
    throw new Error(`${file}: hidden_act '${activation}' is not supported for ${modelType}; use silu`);
  }
  const attentionBias = r.bool('attention_bias', false);
  const { theta, scaling } = rope(raw, file);
  return {
    modelType,
    vocabSize: r.int('vocab_size', qwen ? 151936 : 32000),
    contextLength: r.int('max_position_embeddings', qwen ? 32768 : 2048),
    hiddenSize,
    numLayers: r.int('num_hidden_layers', 32),
    numHeads,
    headDim,
    intermediateSize: r.int('intermediate_size', qwen ? 22016 : 11008),
    tieWordEmbeddings: r.bool('tie_word_embeddings', false),
    activation,
    bosTokenId: r.ids('bos_token_id')[0] ?? null,
    eosTokenIds: r.ids('eos_token_id'),
    numKeyValueHeads,
    rmsNormEps: r.num('rms_norm_eps', 1e-6),
    ropeTheta: theta,
    ropeScaling: scaling,
    qkvBias: qwen ? true : attentionBias,
    oBias: qwen ? false : attentionBias,
    mlpBias: r.bool('mlp_bias', false),
    raw,
  };
}

/** The typed config of a parsed config.json; `file` names it in errors. */
export function parseHfConfig(raw: unknown, file = 'config.json'): HfConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new Error(`${file} must hold a JSON object, got ${Array.isArray(raw) ? 'an array' : JSON.stringify(raw)}`);
  }
  const r = raw as Raw;
  const type = r['model_type'];
  if (type === 'gpt2') return gpt2(r, file);
  if (type === 'llama' || type === 'qwen2') return llama(r, file, type);
  throw new Error(
    `${file}: model_type ${JSON.stringify(type)} is not supported; supported: ${SUPPORTED_MODEL_TYPES.join(', ')} ` +
      `(SmolLM/SmolLM2, TinyLlama and Llama 3.x are 'llama')`,
  );
}

/**
 * PEFT's default LoRA targets per model type (peft.utils.constants
 * TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING), used when target_modules is omitted.
 */
export const PEFT_DEFAULT_TARGETS: Readonly<Record<HfModelType, readonly string[]>> = {
  gpt2: ['c_attn'],
  llama: ['q_proj', 'v_proj'],
  qwen2: ['q_proj', 'v_proj'],
};
