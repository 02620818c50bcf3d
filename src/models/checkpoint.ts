// Base-model checkpoints: a directory with config.json (model kind, config, tokenizer, metadata) and
// model.safetensors (float32, PyTorch names and orientation: `<path>.weight` of a Dense is [out, in], the TF.js
// kernel [in, out] transposed on save and load). Written atomically; every key, shape and value checked on read.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { decodeSafetensors, encodeSafetensors, f32Tensor, readDir, replaceDirAtomic, toFloat32, type SafeTensor } from '../io/index.js';
import type { LayerTree } from './module.js';
import { Gpt } from './gpt.js';
import { validateGptConfig, type GptConfig } from './config.js';
import { MlpClassifier, validateClassifierConfig, type ClassifierConfig } from './classifier.js';
import { CharTokenizer } from '../data/tokenizer.js';

export const CHECKPOINT_CONFIG_FILE = 'config.json';
export const CHECKPOINT_WEIGHTS_FILE = 'model.safetensors';
const FORMAT = 'lora-lab-checkpoint';
const FORMAT_VERSION = 1;

export type BaseModel = Gpt | MlpClassifier;
export type Checkpoint =
  | { kind: 'gpt'; model: Gpt; tokenizer: CharTokenizer; metadata: Record<string, unknown> }
  | { kind: 'mlp_classifier'; model: MlpClassifier; tokenizer: null; metadata: Record<string, unknown> };

/** One weight as stored: its file key, the live variable, and whether the file holds its transpose. */
interface NamedWeight {
  key: string;
  variable: tf.LayerVariable;
  transpose: boolean;
}

/** TF.js weight name → PyTorch name, per layer class. Dense kernels are stored transposed ([out, in]). */
const TORCH_NAMES: Record<string, Record<string, { name: string; transpose: boolean }>> = {
  Dense: { kernel: { name: 'weight', transpose: true }, bias: { name: 'bias', transpose: false } },
  LoraLabLayerNorm: { gamma: { name: 'weight', transpose: false }, beta: { name: 'bias', transpose: false } },
  LoraLabTokenEmbedding: { embeddings: { name: 'weight', transpose: false } },
  LoraLabPositionEmbedding: { embeddings: { name: 'weight', transpose: false } },
};

/** Every weight of a plain (LoRA-free) LayerTree with its checkpoint key, in layer order. */
export function namedWeights(tree: LayerTree): NamedWeight[] {
  const out: NamedWeight[] = [];
  for (const [p, layer] of tree.layers) {
    const cls = layer.getClassName();
    const names = TORCH_NAMES[cls];
    if (names === undefined) {
      throw new Error(
        `layer '${p}' is a ${cls}, which a base checkpoint cannot hold` +
          (/lora/i.test(cls) ? ': call mergeAndUnload() first (or save the adapter alone with saveAdapter)' : ''),
      );
    }
    for (const w of layer.weights) {
      const short = (w.originalName ?? w.name).split('/').pop()!.replace(/_\d+$/, '');
      const t = names[short];
      if (t === undefined) throw new Error(`layer '${p}' (${cls}) has an unexpected weight '${w.name}'`);
      out.push({ key: `${p}.${t.name}`, variable: w, transpose: t.transpose });
    }
  }
  return out;
}

/** Shape in the file: PyTorch orientation. */
function fileShape(w: NamedWeight): number[] {
  const s = w.variable.shape as number[];
  return w.transpose ? [...s].reverse() : s;
}

/**
 * Writes `model` to `dir` (replaced as a whole, atomically): config.json + model.safetensors.
 * A GPT needs its tokenizer (saved in config.json). `metadata` (JSON) records how the weights were made.
 */
export async function saveCheckpoint(
  model: BaseModel,
  dir: string,
  options: { tokenizer?: CharTokenizer; metadata?: Record<string, unknown> } = {},
): Promise<void> {
  if (model.kind === 'gpt' && options.tokenizer === undefined) {
    throw new Error('saveCheckpoint: a GPT checkpoint needs its tokenizer: pass { tokenizer }');
  }
  if (model.kind === 'gpt' && options.tokenizer!.vocabSize !== model.config.vocabSize) {
    throw new Error(`saveCheckpoint: tokenizer has ${options.tokenizer!.vocabSize} ids but the model's vocabSize is ${model.config.vocabSize}`);
  }
  const tensors: Record<string, SafeTensor> = {};
  for (const w of namedWeights(model)) {
    const values = tf.tidy(() => (w.transpose ? w.variable.read().transpose() : w.variable.read().clone()));
    const data = (await values.data()) as Float32Array;
    values.dispose();
    tensors[w.key] = f32Tensor(fileShape(w), data);
  }
  const config = {
    format: FORMAT,
    format_version: FORMAT_VERSION,
    model_type: model.kind,
    config: model.config,
    tokenizer: model.kind === 'gpt' ? options.tokenizer!.toJSON() : null,
    weights: CHECKPOINT_WEIGHTS_FILE,
    weight_layout: 'float32; Dense weights [out, in] as in PyTorch (TF.js kernels are their transpose)',
    metadata: options.metadata ?? {},
  };
  const bytes = encodeSafetensors(tensors, { format: 'pt', model_type: model.kind });
  await replaceDirAtomic(dir, async (tmp) => {
    await fs.writeFile(path.join(tmp, CHECKPOINT_CONFIG_FILE), JSON.stringify(config, null, 2) + '\n');
    await fs.writeFile(path.join(tmp, CHECKPOINT_WEIGHTS_FILE), bytes);
  });
}

async function readJson(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(`no checkpoint at '${path.dirname(file)}': ${path.basename(file)} not found (check the path, or run \`npm run pretrain\` for the bundled ones)`);
    }
    throw e;
  }
  try {
    const v = JSON.parse(text) as unknown;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not a JSON object');
    return v as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${file}: not a valid checkpoint config (${(e as Error).message})`);
  }
}

/** Reads and fully validates a checkpoint directory, then builds the model. */
export async function loadCheckpoint(dir: string): Promise<Checkpoint> {
  // One complete save, after a crash or during another save; a model built from a replaced folder is disposed.
  return readDir(dir, () => loadCheckpointFolder(dir), (c) => c.model.dispose());
}

async function loadCheckpointFolder(dir: string): Promise<Checkpoint> {
  const configFile = path.join(dir, CHECKPOINT_CONFIG_FILE);
  const json = await readJson(configFile);
  if (json['format'] !== FORMAT || json['format_version'] !== FORMAT_VERSION) {
    throw new Error(`${configFile}: expected format '${FORMAT}' version ${FORMAT_VERSION}, got '${String(json['format'])}' version ${String(json['format_version'])}`);
  }
  const kind = json['model_type'];
  const metadata = (json['metadata'] ?? {}) as Record<string, unknown>;
  let ckpt: Checkpoint;
  try {
    if (kind === 'gpt') {
      const config = json['config'] as GptConfig;
      validateGptConfig(config);
      const tokenizer = CharTokenizer.fromJSON(json['tokenizer'], 'tokenizer');
      if (tokenizer.vocabSize !== config.vocabSize) {
        throw new Error(`tokenizer has ${tokenizer.vocabSize} ids but config.vocabSize is ${config.vocabSize}`);
      }
      ckpt = { kind, model: new Gpt(config), tokenizer, metadata };
    } else if (kind === 'mlp_classifier') {
      const config = json['config'] as ClassifierConfig;
      validateClassifierConfig(config);
      ckpt = { kind, model: new MlpClassifier(config), tokenizer: null, metadata };
    } else {
      throw new Error(`unknown model_type '${String(kind)}': expected 'gpt' or 'mlp_classifier'`);
    }
  } catch (e) {
    throw new Error(`${configFile}: ${(e as Error).message}`);
  }
  try {
    await loadWeights(ckpt.model, path.join(dir, CHECKPOINT_WEIGHTS_FILE));
  } catch (e) {
    ckpt.model.dispose();
    throw e;
  }
  return ckpt;
}

/** Fills `model`'s weights from a model.safetensors after checking every key, dtype, shape and value. */
async function loadWeights(model: BaseModel, file: string): Promise<void> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await fs.readFile(file));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`${file} not found: the checkpoint is incomplete (re-save it)`);
    throw e;
  }
  const { tensors } = decodeSafetensors(bytes, file);
  const weights = namedWeights(model);
  const expected = new Set(weights.map((w) => w.key));
  const extra = [...tensors.keys()].filter((k) => !expected.has(k));
  if (extra.length > 0) {
    throw new Error(`${file}: unexpected tensor '${extra[0]}' (${extra.length} unexpected in all) for a ${model.kind} with this config.json`);
  }
  const values: Float32Array[] = [];
  for (const w of weights) {
    const t = tensors.get(w.key);
    const want = fileShape(w);
    if (t === undefined) throw new Error(`${file}: missing tensor '${w.key}' [${want.join(', ')}]`);
    if (!['F32', 'F16', 'BF16', 'F64'].includes(t.dtype)) {
      throw new Error(`${file}: tensor '${w.key}' is ${t.dtype}; expected a float type (F32)`);
    }
    if (t.shape.join(',') !== want.join(',')) {
      throw new Error(`${file}: tensor '${w.key}' has shape [${t.shape.join(', ')}] but config.json implies [${want.join(', ')}]`);
    }
    const v = toFloat32(t);
    const bad = v.findIndex((x) => !Number.isFinite(x));
    if (bad !== -1) throw new Error(`${file}: tensor '${w.key}' holds ${v[bad]} at flat index ${bad}: the checkpoint is corrupt`);
    values.push(v);
  }
  // Everything checked: now change the model.
  weights.forEach((w, i) => {
    tf.tidy(() => {
      const t = tf.tensor(values[i]!, fileShape(w), 'float32');
      w.variable.write(w.transpose ? t.transpose() : t);
    });
  });
}

/** A checkpoint that must be a GPT (with its tokenizer). */
export async function loadGpt(dir: string): Promise<{ model: Gpt; tokenizer: CharTokenizer; metadata: Record<string, unknown> }> {
  const c = await loadCheckpoint(dir);
  if (c.kind !== 'gpt') {
    c.model.dispose();
    throw new Error(`${path.join(dir, CHECKPOINT_CONFIG_FILE)}: model_type is '${c.kind}', expected 'gpt'`);
  }
  return c;
}

/** A checkpoint that must be an MLP classifier. */
export async function loadClassifier(dir: string): Promise<{ model: MlpClassifier; metadata: Record<string, unknown> }> {
  const c = await loadCheckpoint(dir);
  if (c.kind !== 'mlp_classifier') {
    c.model.dispose();
    throw new Error(`${path.join(dir, CHECKPOINT_CONFIG_FILE)}: model_type is '${c.kind}', expected 'mlp_classifier'`);
  }
  return c;
}

/** The bundled checkpoints in the package's data/ folder (written by `npm run pretrain`). */
export const BUNDLED_CHECKPOINTS = {
  /** Tiny GPT pretrained on the copy task. */
  gpt: 'checkpoints/gpt-tiny-copy',
  /** MLP classifier pretrained on day-camera animal features. */
  classifier: 'checkpoints/mlp-animals-day',
} as const;

/** Bundled LoRA adapters for the tiny GPT (PEFT layout), one per fine-tuning task. */
export const BUNDLED_ADAPTERS = {
  shift: 'adapters/shift',
  repeat: 'adapters/repeat',
} as const;

/** Absolute path of a file or folder in the package's data/ (works from src/ under tsx and from dist/). */
export function dataPath(relative: string): string {
  return path.join(fileURLToPath(new URL('../../data/', import.meta.url)), relative);
}

/** Absolute path of a bundled checkpoint. */
export function bundledCheckpoint(name: keyof typeof BUNDLED_CHECKPOINTS): string {
  return dataPath(BUNDLED_CHECKPOINTS[name]);
}

/** Absolute path of a bundled adapter folder (load it with loadAdapter). */
export function bundledAdapter(name: keyof typeof BUNDLED_ADAPTERS): string {
  return dataPath(BUNDLED_ADAPTERS[name]);
}
