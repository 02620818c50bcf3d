// loadPretrained(dir): a local Hugging Face model folder (config.json; model.safetensors or shards listed in
// model.safetensors.index.json; tokenizer.json + tokenizer_config.json; generation_config.json) into a LayerTree
// named as the checkpoint names its modules. Everything is checked before any weight is allocated — model type,
// every tensor present, none unexpected, every shape as config.json implies, shards whole, the backend's memory —
// and a failure while reading frees what was made, so an error never leaves half a model behind.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { SafetensorsFile } from '../../io/safetensors-file.js';
import { recoverDir } from '../../io/files.js';
import { parseHfConfig, type HfConfig } from './config.js';
import { GPT2_PREFIX, Gpt2LmHeadModel, gpt2LayerSpecs } from './gpt2.js';
import { LlamaForCausalLm, llamaLayerSpecs } from './llama.js';
import { HfTokenizer } from './tokenizer.js';
import { assertModelFits } from './fit.js';
import { buildLayers, tensorSpecs, type BuildProgress, type LayerSpec, type TensorSpec, type WeightSource } from './weights.js';

export type HfCausalLm = Gpt2LmHeadModel | LlamaForCausalLm;

export const HF_WEIGHTS_FILE = 'model.safetensors';
export const HF_WEIGHTS_INDEX_FILE = 'model.safetensors.index.json';

/** The layers of the model `config` describes, by checkpoint module path. */
export function layerSpecs(config: HfConfig): LayerSpec[] {
  return config.modelType === 'gpt2' ? gpt2LayerSpecs(config) : llamaLayerSpecs(config);
}

/** Builds the model of `config` with weights from `source` (e.g. randomWeights(seed) for a model in memory). */
export async function buildPretrained(
  config: HfConfig,
  source: WeightSource,
  onProgress?: (p: BuildProgress) => void,
): Promise<HfCausalLm> {
  const layers = await buildLayers(layerSpecs(config), source, onProgress);
  return config.modelType === 'gpt2' ? new Gpt2LmHeadModel(config, layers) : new LlamaForCausalLm(config, layers);
}

/**
 * The checkpoint key a file's tensor name stands for, or null for tensors transformers itself ignores on
 * load (GPT-2's attn.bias / attn.masked_bias mask buffers, Llama's rotary inv_freq buffers, a tied lm_head).
 */
function canonicalKey(name: string, config: HfConfig): string | null {
  let key = name;
  if (config.modelType === 'gpt2' && !key.startsWith(GPT2_PREFIX) && !key.startsWith('lm_head.')) key = GPT2_PREFIX + key;
  if (config.modelType === 'gpt2' && /^transformer\.h\.\d+\.attn\.(bias|masked_bias)$/.test(key)) return null;
  if (/\.rotary_emb\.inv_freq$/.test(key)) return null;
  if (config.tieWordEmbeddings && key === 'lm_head.weight') return null;
  return key;
}

/** What config.json says about the sizes, for shape errors. */
function sizeSummary(c: HfConfig): string {
  return c.modelType === 'gpt2'
    ? `vocab_size ${c.vocabSize}, n_positions ${c.contextLength}, n_embd ${c.hiddenSize}, n_layer ${c.numLayers}, ` +
        `n_inner ${c.intermediateSize}`
    : `vocab_size ${c.vocabSize}, hidden_size ${c.hiddenSize}, num_hidden_layers ${c.numLayers}, ` +
        `num_attention_heads ${c.numHeads}, num_key_value_heads ${c.numKeyValueHeads}, head_dim ${c.headDim}, ` +
        `intermediate_size ${c.intermediateSize}`;
}

async function readJsonFile(file: string, fix: string): Promise<unknown> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`${file} is missing: ${fix}`);
    throw e;
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${file} is not valid JSON (${(e as Error).message}): ${fix}`);
  }
}

/** The shard files and, per file, the tensor names the index assigns to it. */
async function weightFiles(dir: string): Promise<Map<string, Set<string> | null>> {
  const indexFile = path.join(dir, HF_WEIGHTS_INDEX_FILE);
  const single = path.join(dir, HF_WEIGHTS_FILE);
  const exists = async (f: string) => fs.stat(f).then(() => true, () => false);
  if (await exists(indexFile)) {
    const index = (await readJsonFile(indexFile, 'restore it from the model repository')) as { weight_map?: unknown };
    const map = index?.weight_map;
    if (typeof map !== 'object' || map === null || Array.isArray(map)) {
      throw new Error(`${indexFile}: "weight_map" must be an object {tensor name: shard file}: restore the file`);
    }
    const files = new Map<string, Set<string>>();
    for (const [name, file] of Object.entries(map as Record<string, unknown>)) {
      if (typeof file !== 'string' || file.includes('/') || file.includes('\\')) {
        throw new Error(`${indexFile}: tensor '${name}' maps to ${JSON.stringify(file)}, not a file name in ${dir}`);
      }
      const f = path.join(dir, file);
      files.set(f, (files.get(f) ?? new Set()).add(name));
    }
    for (const f of files.keys()) {
      if (!(await exists(f))) throw new Error(`${f} is missing (listed in ${HF_WEIGHTS_INDEX_FILE}): download every shard`);
    }
    return files;
  }
  if (await exists(single)) return new Map([[single, null]]);
  const present = await fs.readdir(dir).catch(() => [] as string[]);
  const hint = present.some((f) => /^pytorch_model.*\.bin$/.test(f))
    ? `it has PyTorch .bin weights: save them as safetensors (model.save_pretrained(dir, safe_serialization=True))`
    : `it has: ${present.join(', ') || 'nothing'}`;
  throw new Error(`${dir} has neither ${HF_WEIGHTS_FILE} nor ${HF_WEIGHTS_INDEX_FILE}; ${hint}`);
}

export interface LoadPretrainedOptions {
  /** Called after each tensor is created (for a progress bar). */
  onProgress?: (p: BuildProgress) => void;
  /** Working memory to keep free beside the weights when checking the backend's limit (see fit.ts). */
  headroomBytes?: number;
}

export interface Pretrained {
  model: HfCausalLm;
  tokenizer: HfTokenizer;
  config: HfConfig;
  /** generation_config.json, when the folder has one. */
  generationConfig: Record<string, unknown> | null;
}

/** Loads a Hugging Face model folder: see the file header for what is checked. */
export async function loadPretrained(dir: string, options: LoadPretrainedOptions = {}): Promise<Pretrained> {
  await recoverDir(dir); // a save killed between its two renames leaves the folder beside its path
  const stat = await fs.stat(dir).catch(() => null);
  if (stat === null || !stat.isDirectory()) throw new Error(`${dir} is not a directory: pass a Hugging Face model folder`);
  const configFile = path.join(dir, 'config.json');
  const rawConfig = await readJsonFile(configFile, 'a model folder needs the config.json it was saved with');
  const config = parseHfConfig(rawConfig, configFile);
  const genFile = path.join(dir, 'generation_config.json');
  const generationConfig = (await fs.stat(genFile).then(() => true, () => false))
    ? ((await readJsonFile(genFile, 'fix or delete it')) as Record<string, unknown>)
    : null;
  const tokenizer = await HfTokenizer.fromDir(dir);

  const specs = layerSpecs(config);
  const wanted = new Map(tensorSpecs(specs).map((t) => [t.key, t]));
  const files = await weightFiles(dir);
  const opened: SafetensorsFile[] = [];
  try {
    // Where each wanted tensor lives: file and its name there.
    const located = new Map<string, { file: SafetensorsFile; name: string }>();
    for (const [f, listed] of files) {
      const file = await SafetensorsFile.open(f);
      opened.push(file);
      for (const name of listed ?? []) {
        if (!file.entries.has(name)) {
          throw new Error(`${f}: has no tensor '${name}' though ${HF_WEIGHTS_INDEX_FILE} lists it there: the shard is incomplete; download it again`);
        }
      }
      for (const [name, entry] of file.entries) {
        if (listed !== null && !listed.has(name)) {
          throw new Error(`${f}: tensor '${name}' is not listed in ${HF_WEIGHTS_INDEX_FILE}: the index and shards disagree; download both again`);
        }
        const key = canonicalKey(name, config);
        if (key === null) continue;
        const spec = wanted.get(key);
        if (spec === undefined) {
          throw new Error(
            `${f}: unexpected tensor '${name}', not part of a ${config.modelType} model with this config.json (${sizeSummary(config)}): ` +
              `use the config.json that came with these weights`,
          );
        }
        const prev = located.get(key);
        if (prev !== undefined) {
          throw new Error(`${f}: tensor '${name}' duplicates '${prev.name}' in ${prev.file.path} (both are ${key}): keep one copy`);
        }
        if (entry.shape.join(',') !== spec.shape.join(',')) {
          throw new Error(
            `${f}: tensor '${name}' is [${entry.shape.join(', ')}] but config.json (${sizeSummary(config)}) implies ` +
              `[${spec.shape.join(', ')}]: config.json and the weights are from different models`,
          );
        }
        if (!['F32', 'F16', 'BF16', 'F64'].includes(entry.dtype)) {
          throw new Error(`${f}: tensor '${name}' is ${entry.dtype}; weights must be F32, F16 or BF16 (quantised checkpoints do not load here)`);
        }
        located.set(key, { file, name });
      }
    }
    const missing = [...wanted.keys()].filter((k) => !located.has(k));
    if (missing.length > 0) {
      const where = [...files.keys()].map((f) => path.basename(f)).join(', ');
      throw new Error(
        `${dir}: tensor '${missing[0]}'${missing.length > 1 ? ` (and ${missing.length - 1} more)` : ''} is missing from ${where} ` +
          `(config.json: ${sizeSummary(config)}): the weights are incomplete or from a different model`,
      );
    }

    const bytes = (t: TensorSpec) => 4 * t.shape.reduce((a, b) => a * b, 1);
    const all = [...wanted.values()];
    assertModelFits({
      what: `${dir} (${config.modelType}, ${(all.reduce((n, t) => n + bytes(t), 0) / 4).toLocaleString('en-US')} parameters)`,
      weightBytes: all.reduce((n, t) => n + bytes(t), 0),
      largestTensorBytes: Math.max(...all.map(bytes)),
      ...(options.headroomBytes === undefined ? {} : { headroomBytes: options.headroomBytes }),
    });

    const source: WeightSource = {
      read: (t) => {
        const at = located.get(t.key)!;
        return at.file.readFloat32(at.name, { transpose: t.transpose });
      },
    };
    const model = await buildPretrained(config, source, options.onProgress);
    model.nameOrPath = dir;
    return { model, tokenizer, config, generationConfig };
  } finally {
    await Promise.all(opened.map((f) => f.close()));
  }
}
