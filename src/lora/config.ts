// The LoRA configuration, with huggingface/peft's names and meanings (peft/tuners/lora/config.py):
// r = rank, lora_alpha = α, scaling = α/r (α/√r with use_rslora, Kalajdzievski 2023), target_modules
// matched PEFT-style (models/module.ts), plus toPeftJson/fromPeftJson for adapter_config.json.
import { isAllLinear, matchesTarget, OUTPUT_HEAD_NAMES } from '../models/module.js';

export { isAllLinear, matchesTarget, OUTPUT_HEAD_NAMES };

/** How `lora_A` (and `lora_B`) start. true: A Kaiming-uniform(a=√5), B = 0 (PEFT default). */
export type InitLoraWeights = boolean | 'gaussian' | 'pissa';
export type LoraBias = 'none' | 'all' | 'lora_only';

/** A validated LoRA configuration (every field present). Build one with `loraConfig(input)`. */
export interface LoraConfig {
  /** Rank r of ΔW = B·A: lora_A is [r, in], lora_B is [out, r]. */
  readonly r: number;
  /** α: the update is scaled by scaling = α/r (or α/√r with use_rslora). */
  readonly lora_alpha: number;
  /** Dropout probability on the LoRA branch's input, applied only in training. */
  readonly lora_dropout: number;
  /**
   * Which layers get LoRA (Dense, Conv1D, Embedding, a quantised Dense). A list: a path matches if it equals an entry
   * or ends with "." + entry ("q_proj" matches "layers.0.self_attn.q_proj"). A string: a regular expression
   * full-matched against the path, except "all-linear" = every linear layer but the output head (lm_head / classifier
   * / score). Omitted on a Hugging Face model (loadPretrained): PEFT's default for its model_type (gpt2 → c_attn,
   * llama / qwen2 → q_proj, v_proj).
   */
  readonly target_modules: readonly string[] | string;
  /** Which biases train: none, all biases in the model, or those of LoRA-wrapped layers. */
  readonly bias: LoraBias;
  /** Rank-stabilised scaling α/√r instead of α/r (Kalajdzievski 2023). */
  readonly use_rslora: boolean;
  /** DoRA (Liu et al. 2024): a trainable magnitude per output row on top of LoRA's direction update. */
  readonly use_dora: boolean;
  /** true (Kaiming-uniform A, zero B), 'gaussian' (A ~ N(0, (1/r)²), zero B), 'pissa' (top-r SVD of W), false (B random too). */
  readonly init_lora_weights: InitLoraWeights;
  /** LoRA+ (Hayou et al. 2024): learning rate of B = ratio × that of A. Undefined means 1 (plain LoRA). */
  readonly loraplus_lr_ratio: number | undefined;
  /** Seed for the random initialisation, so two runs start from the same A (and B). */
  readonly seed: number;
  /** PEFT's task_type (e.g. "CAUSAL_LM"), kept for adapter_config.json. */
  readonly task_type: string | null;
  /** The base model the adapter belongs to, kept for adapter_config.json. */
  readonly base_model_name_or_path: string | null;
  /** PEFT's inference_mode flag, kept for adapter_config.json. */
  readonly inference_mode: boolean;
}

/** What `loraConfig` accepts: any subset of the fields; target_modules is required. */
export type LoraConfigInput = {
  -readonly [K in keyof LoraConfig]?: K extends 'target_modules' ? string[] | readonly string[] | string : LoraConfig[K];
};

/** PEFT's defaults (r = 8, lora_alpha = 8, lora_dropout = 0, bias "none", init true). */
export const LORA_DEFAULTS = {
  r: 8,
  lora_alpha: 8,
  lora_dropout: 0,
  bias: 'none',
  use_rslora: false,
  use_dora: false,
  init_lora_weights: true,
  loraplus_lr_ratio: undefined,
  seed: 0,
  task_type: null,
  base_model_name_or_path: null,
  inference_mode: false,
} as const;

/** Every field of LoraConfig: the defaults' keys plus target_modules (no default), listed after lora_dropout. */
const KEYS = Object.keys(LORA_DEFAULTS).flatMap((k) => (k === 'lora_dropout' ? [k, 'target_modules'] : [k])) as readonly (keyof LoraConfig)[];

function isBool(v: unknown): v is boolean {
  return typeof v === 'boolean';
}

/** Validates `input` and fills in PEFT's defaults. Every error names the bad value and the fix. */
export function loraConfig(input: LoraConfigInput | LoraConfig): LoraConfig {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new Error(`LoRA config must be an object like { r: 8, target_modules: ['q_proj', 'v_proj'] }, got ${JSON.stringify(input)}`);
  }
  for (const key of Object.keys(input)) {
    if (!(KEYS as readonly string[]).includes(key)) {
      throw new Error(`unknown LoRA config key '${key}'; valid keys are: ${KEYS.join(', ')}`);
    }
  }
  const c = { ...LORA_DEFAULTS, ...(input as Record<string, unknown>) } as Record<string, unknown>;
  // An explicit `undefined` means "default" (spreading would otherwise keep the undefined).
  for (const k of KEYS) if (c[k] === undefined && k in LORA_DEFAULTS) c[k] = (LORA_DEFAULTS as Record<string, unknown>)[k];

  const r = c.r;
  if (typeof r !== 'number' || !Number.isInteger(r) || r < 1) {
    throw new Error(`r must be a positive integer, got ${JSON.stringify(r)}: use r >= 1 (e.g. 8)`);
  }
  const alpha = c.lora_alpha;
  if (typeof alpha !== 'number' || !Number.isFinite(alpha) || alpha <= 0) {
    throw new Error(`lora_alpha must be a number > 0, got ${JSON.stringify(alpha)}: e.g. lora_alpha = r or 2·r`);
  }
  const p = c.lora_dropout;
  if (typeof p !== 'number' || !(p >= 0 && p < 1)) {
    throw new Error(`lora_dropout must be in [0, 1), got ${JSON.stringify(p)}: e.g. 0 or 0.05`);
  }
  const target = c.target_modules;
  if (target === undefined || target === null) {
    throw new Error(
      `target_modules is required: e.g. ['q_proj', 'v_proj'], a regex string, or 'all-linear' (only a Hugging Face ` +
        `model takes PEFT's default for its model_type)`,
    );
  }
  let target_modules: readonly string[] | string;
  if (typeof target === 'string') {
    if (target.length === 0) throw new Error(`target_modules is an empty string: give layer names or a regex, e.g. ['q_proj', 'v_proj']`);
    if (target.toLowerCase() !== 'all-linear') {
      try {
        new RegExp(target);
      } catch (e) {
        throw new Error(`target_modules regex '${target}' is invalid (${(e as Error).message}): give a valid regex or a list of names`);
      }
    }
    target_modules = target;
  } else if (Array.isArray(target)) {
    if (target.length === 0) throw new Error(`target_modules is an empty list: name at least one layer, e.g. ['q_proj', 'v_proj']`);
    for (const t of target) {
      if (typeof t !== 'string' || t.length === 0) {
        throw new Error(`target_modules entries must be non-empty strings, got ${JSON.stringify(t)} in ${JSON.stringify(target)}`);
      }
    }
    target_modules = Object.freeze([...new Set(target as string[])]);
  } else {
    throw new Error(`target_modules must be a list of names or a string, got ${JSON.stringify(target)}: e.g. ['q_proj', 'v_proj']`);
  }
  const bias = c.bias;
  if (bias !== 'none' && bias !== 'all' && bias !== 'lora_only') {
    throw new Error(`bias must be 'none', 'all' or 'lora_only', got ${JSON.stringify(bias)}`);
  }
  for (const k of ['use_rslora', 'use_dora', 'inference_mode'] as const) {
    if (!isBool(c[k])) throw new Error(`${k} must be true or false, got ${JSON.stringify(c[k])}`);
  }
  const init = c.init_lora_weights;
  if (!isBool(init) && init !== 'gaussian' && init !== 'pissa') {
    throw new Error(`init_lora_weights must be true, false, 'gaussian' or 'pissa', got ${JSON.stringify(init)}`);
  }
  const ratio = c.loraplus_lr_ratio;
  if (ratio !== undefined && (typeof ratio !== 'number' || !Number.isFinite(ratio) || ratio <= 0)) {
    throw new Error(`loraplus_lr_ratio must be a number > 0 (LoRA+ suggests 16), got ${JSON.stringify(ratio)}; leave it out for plain LoRA`);
  }
  const seed = c.seed;
  if (typeof seed !== 'number' || !Number.isInteger(seed)) {
    throw new Error(`seed must be an integer, got ${JSON.stringify(seed)}`);
  }
  for (const k of ['task_type', 'base_model_name_or_path'] as const) {
    if (c[k] !== null && typeof c[k] !== 'string') throw new Error(`${k} must be a string or null, got ${JSON.stringify(c[k])}`);
  }
  return Object.freeze({
    r,
    lora_alpha: alpha,
    lora_dropout: p,
    target_modules,
    bias,
    use_rslora: c.use_rslora as boolean,
    use_dora: c.use_dora as boolean,
    init_lora_weights: init,
    loraplus_lr_ratio: ratio as number | undefined,
    seed,
    task_type: c.task_type as string | null,
    base_model_name_or_path: c.base_model_name_or_path as string | null,
    inference_mode: c.inference_mode as boolean,
  });
}

/** scaling = α/r, or α/√r with use_rslora (rsLoRA keeps the update's size stable as r grows). */
export function loraScaling(config: Pick<LoraConfig, 'r' | 'lora_alpha' | 'use_rslora'>): number {
  return config.use_rslora ? config.lora_alpha / Math.sqrt(config.r) : config.lora_alpha / config.r;
}

// ---- adapter_config.json --------------------------------------------------------------------------

/**
 * Fields of PEFT's LoraConfig that only describe where the adapter came from or how it was set up, or that
 * mean nothing here: fan_in_fan_out says how the PyTorch base stores W (GPT-2's Conv1D); lora_A/lora_B in
 * the file are [r, in] / [out, r] either way, and the layer's kind (Dense or Conv1D) decides it here, as in PEFT.
 */
const BENIGN_PEFT_KEYS = new Set([
  'auto_mapping', 'revision', 'peft_version', 'megatron_core', 'megatron_config', 'loftq_config', 'eva_config',
  'corda_config', 'lora_ga_config', 'runtime_config', 'layers_pattern', 'fan_in_fan_out', 'qalora_group_size',
  'ensure_weight_tying',
]);

/** Fields that change what the adapter computes: accepted only at their "off" value. */
const OFF_ONLY_PEFT_KEYS: Record<string, string> = {
  rank_pattern: 'per-layer ranks',
  alpha_pattern: 'per-layer alphas',
  layers_to_transform: 'restricting LoRA to some layer indices',
  modules_to_save: 'fully trained extra modules',
  exclude_modules: 'excluded modules',
  layer_replication: 'layer replication',
  lora_bias: 'a bias on lora_B',
  use_qalora: 'QA-LoRA',
  trainable_token_indices: 'trainable token embeddings',
  target_parameters: 'LoRA on raw parameters',
  use_bdlora: 'block-diagonal LoRA',
  arrow_config: 'Arrow routing',
  alora_invocation_tokens: 'activated LoRA',
};

/** null, false, 0-length list/object/string: what a PEFT field holds when its feature is off. */
function isOff(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === '') return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === 'object') return Object.keys(v as object).length === 0;
  return false;
}

/**
 * The adapter_config.json object PEFT writes for this config (PEFT's field names and defaults).
 * `loraplus_lr_ratio` and `seed` are training settings, not PEFT config fields, and are not written.
 * `fan_in_fan_out`: true when the targets store W as [in, out] (GPT-2's Conv1D), as PEFT records it.
 */
export function toPeftJson(config: LoraConfig, options: { fan_in_fan_out?: boolean } = {}): Record<string, unknown> {
  const out: Record<string, unknown> = {
    alpha_pattern: {},
    auto_mapping: null,
    base_model_name_or_path: config.base_model_name_or_path,
    bias: config.bias,
    exclude_modules: null,
    fan_in_fan_out: options.fan_in_fan_out ?? false,
    inference_mode: config.inference_mode,
    init_lora_weights: config.init_lora_weights,
    layer_replication: null,
    layers_pattern: null,
    layers_to_transform: null,
    loftq_config: {},
    lora_alpha: config.lora_alpha,
    lora_bias: false,
    lora_dropout: config.lora_dropout,
    megatron_config: null,
    megatron_core: 'megatron.core',
    modules_to_save: null,
    peft_type: 'LORA',
    r: config.r,
    rank_pattern: {},
    revision: null,
    target_modules: typeof config.target_modules === 'string' ? config.target_modules : [...config.target_modules],
    task_type: config.task_type,
    use_dora: config.use_dora,
    use_rslora: config.use_rslora,
  };
  return out;
}

/**
 * A LoraConfig from an adapter_config.json object (as PEFT writes it). Benign PEFT fields are ignored;
 * fields for features this library does not implement are accepted only when off (null/false/empty) and
 * otherwise rejected by name; an unknown field is likewise ignored when off and rejected when set, since it
 * may change what the adapter computes. `source` names the file in errors.
 */
export function fromPeftJson(obj: unknown, source = 'adapter_config.json'): LoraConfig {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    throw new Error(`${source}: must be a JSON object, got ${Array.isArray(obj) ? 'an array' : JSON.stringify(obj)}`);
  }
  const o = obj as Record<string, unknown>;
  if (o.peft_type !== 'LORA') {
    throw new Error(`${source}: peft_type must be "LORA", got ${JSON.stringify(o.peft_type)}; only LoRA adapters are supported`);
  }
  const input: Record<string, unknown> = {};
  const used = new Set(['peft_type']);
  const take = (k: keyof LoraConfig) => {
    used.add(k);
    if (o[k] !== undefined) input[k] = o[k];
  };
  for (const k of KEYS) take(k);
  if (typeof input.init_lora_weights === 'string' && !['gaussian', 'pissa'].includes(input.init_lora_weights)) {
    const v = input.init_lora_weights;
    throw new Error(
      `${source}: init_lora_weights ${JSON.stringify(v)} is not supported (supported: true, false, "gaussian", "pissa")` +
        (v.startsWith('pissa_niter_') ? '; a randomized-SVD PiSSA base cannot be rebuilt exactly: convert the adapter to plain LoRA in PEFT first' : ''),
    );
  }
  for (const [k, v] of Object.entries(o)) {
    if (used.has(k) || BENIGN_PEFT_KEYS.has(k)) continue;
    const feature = OFF_ONLY_PEFT_KEYS[k];
    if (isOff(v)) continue;
    if (feature !== undefined) {
      throw new Error(`${source}: ${k} = ${JSON.stringify(v)} (${feature}) is not supported; only ${k} = null/empty adapters can be loaded`);
    }
    throw new Error(`${source}: unknown field '${k}' = ${JSON.stringify(v)} may change what the adapter computes and is not supported`);
  }
  try {
    return loraConfig(input as LoraConfigInput);
  } catch (e) {
    throw new Error(`${source}: ${(e as Error).message}`);
  }
}
