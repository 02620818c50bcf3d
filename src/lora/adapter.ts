// Adapter files in PEFT's layout (PeftModel.save_pretrained): a folder with adapter_config.json and
// adapter_model.safetensors whose keys are base_model.model.<module path>.lora_A.weight [r, in],
// .lora_B.weight [out, r], .lora_magnitude_vector [out] (DoRA), and biases per bias mode; float32, {"format":"pt"}.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { LayerTree } from '../models/module.js';
import { decodeSafetensors, encodeSafetensors, f32Tensor, toFloat32, type SafeTensor } from '../io/safetensors.js';
import { readDir, replaceDirAtomic } from '../io/files.js';
import { fromPeftJson, toPeftJson, type LoraConfig } from './config.js';
import { linearDims, LoraDense } from './layer.js';
import { injectLora, isBiasWeight, LoraModel } from './model.js';
import { resolveTargets } from './targets.js';

export const CONFIG_FILE = 'adapter_config.json';
export const WEIGHTS_FILE = 'adapter_model.safetensors';
/** PEFT's prefix: PeftModel.base_model (LoraModel).model (the wrapped model). */
export const KEY_PREFIX = 'base_model.model.';

/** The kinds of tensor an adapter file holds per module, keyed by PEFT's suffix. */
const SUFFIXES = {
  lora_A: '.lora_A.weight',
  lora_B: '.lora_B.weight',
  lora_magnitude_vector: '.lora_magnitude_vector',
  base_bias: '.base_layer.bias', // bias of a wrapped layer (PEFT keeps the base under .base_layer)
  bias: '.bias', // bias of a layer without LoRA (bias "all")
} as const;
type Part = keyof typeof SUFFIXES;

/** One module's tensors from an adapter file (float32 values, PEFT orientation). */
export interface AdapterModule {
  lora_A?: { shape: number[]; values: Float32Array };
  lora_B?: { shape: number[]; values: Float32Array };
  lora_magnitude_vector?: { shape: number[]; values: Float32Array };
  bias?: { shape: number[]; values: Float32Array; key: string };
}

export interface AdapterContents {
  dir: string;
  config: LoraConfig;
  /** Every tensor in adapter_model.safetensors, by key, as stored. */
  tensors: Map<string, SafeTensor>;
  metadata: Record<string, string>;
  /** Module path → its tensors, validated against the config (shapes, pairs, DoRA, bias mode). */
  modules: Map<string, AdapterModule>;
  /** Number of values in the file. */
  numParams: number;
}

/** The folder PEFT uses for an adapter: `dir` for "default", `dir/<name>` otherwise. */
export function adapterDir(dir: string, adapterName: string): string {
  return adapterName === 'default' ? dir : path.join(dir, adapterName);
}

function splitKey(key: string, where: string): { module: string; part: Part } {
  if (!key.startsWith(KEY_PREFIX)) {
    throw new Error(`${where}: unexpected key '${key}': adapter keys start with '${KEY_PREFIX}'`);
  }
  const rest = key.slice(KEY_PREFIX.length);
  for (const part of Object.keys(SUFFIXES) as Part[]) {
    const suffix = SUFFIXES[part];
    if (rest.endsWith(suffix) && rest.length > suffix.length) return { module: rest.slice(0, -suffix.length), part };
  }
  throw new Error(
    `${where}: unexpected key '${key}': expected ${KEY_PREFIX}<module>${Object.values(SUFFIXES).join(' | ')}`,
  );
}

/**
 * Reads and validates an adapter folder without a model: the config (PEFT fields), the safetensors structure,
 * every key's name, dtype and shape against the config (r, DoRA, bias mode) and that A/B come in pairs.
 */
export async function readAdapter(dir: string): Promise<AdapterContents> {
  return readDir(dir, () => readAdapterFolder(dir)); // one complete save, after a crash or during another save
}

async function readAdapterFolder(dir: string): Promise<AdapterContents> {
  const configPath = path.join(dir, CONFIG_FILE);
  const weightsPath = path.join(dir, WEIGHTS_FILE);
  let configText: string;
  try {
    configText = await fs.readFile(configPath, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`${configPath}: cannot read (${code ?? (e as Error).message}): '${dir}' is not an adapter folder`);
  }
  let json: unknown;
  try {
    json = JSON.parse(configText);
  } catch (e) {
    throw new Error(`${configPath}: not valid JSON (${(e as Error).message})`);
  }
  const config = fromPeftJson(json, configPath);
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await fs.readFile(weightsPath));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const bin = await fs.stat(path.join(dir, 'adapter_model.bin')).then(() => true, () => false);
    throw new Error(
      `${weightsPath}: cannot read (${code ?? (e as Error).message})` +
        (bin ? '; only adapter_model.bin (pickle) is there: save it with safe_serialization=True' : ''),
    );
  }
  const { tensors, metadata } = decodeSafetensors(bytes, weightsPath);

  const modules = new Map<string, AdapterModule>();
  let numParams = 0;
  for (const [key, t] of tensors) {
    const { module, part } = splitKey(key, weightsPath);
    if (!['F32', 'F16', 'BF16', 'F64'].includes(t.dtype)) {
      throw new Error(`${weightsPath}: key '${key}' has dtype ${t.dtype}; adapter weights must be floating point (F32, F16, BF16, F64)`);
    }
    const shape = t.shape;
    const expectRank = part === 'lora_A' || part === 'lora_B' ? 2 : 1;
    if (shape.length !== expectRank) {
      throw new Error(`${weightsPath}: key '${key}' has shape [${shape.join(', ')}]; expected a ${expectRank}-D tensor`);
    }
    if (part === 'lora_A' && shape[0] !== config.r) {
      throw new Error(`${weightsPath}: key '${key}' has shape [${shape.join(', ')}]; expected [r=${config.r}, in] (r from ${CONFIG_FILE})`);
    }
    if (part === 'lora_B' && shape[1] !== config.r) {
      throw new Error(`${weightsPath}: key '${key}' has shape [${shape.join(', ')}]; expected [out, r=${config.r}] (r from ${CONFIG_FILE})`);
    }
    if (part === 'lora_magnitude_vector' && !config.use_dora) {
      throw new Error(`${weightsPath}: key '${key}' is a DoRA magnitude but ${CONFIG_FILE} has use_dora = false`);
    }
    if ((part === 'bias' || part === 'base_bias') && config.bias === 'none') {
      throw new Error(`${weightsPath}: key '${key}' is a bias but ${CONFIG_FILE} has bias = "none"`);
    }
    const m = modules.get(module) ?? {};
    const entry = { shape, values: toFloat32(t) };
    if (part === 'bias' || part === 'base_bias') {
      if (m.bias) throw new Error(`${weightsPath}: module '${module}' has two biases ('${m.bias.key}' and '${key}')`);
      m.bias = { ...entry, key };
    } else {
      m[part] = entry;
    }
    modules.set(module, m);
    numParams += entry.values.length;
  }
  let loraModules = 0;
  for (const [module, m] of modules) {
    const key = (p: Part) => `${KEY_PREFIX}${module}${SUFFIXES[p]}`;
    if (!m.lora_A && !m.lora_B) {
      if (m.lora_magnitude_vector) throw new Error(`${weightsPath}: missing key '${key('lora_A')}' (module '${module}' has a DoRA magnitude but no LoRA weights)`);
      if (m.bias && config.bias === 'lora_only') {
        throw new Error(`${weightsPath}: key '${m.bias.key}' is the bias of a layer without LoRA, but bias = "lora_only"`);
      }
      continue; // a bias-only module (bias "all")
    }
    if (!m.lora_A) throw new Error(`${weightsPath}: missing key '${key('lora_A')}' (its lora_B is present)`);
    if (!m.lora_B) throw new Error(`${weightsPath}: missing key '${key('lora_B')}' (its lora_A is present)`);
    const out = m.lora_B.shape[0]!;
    if (config.use_dora && !m.lora_magnitude_vector) {
      throw new Error(`${weightsPath}: missing key '${key('lora_magnitude_vector')}' (use_dora = true)`);
    }
    if (m.lora_magnitude_vector && m.lora_magnitude_vector.shape[0] !== out) {
      throw new Error(`${weightsPath}: key '${key('lora_magnitude_vector')}' has shape [${m.lora_magnitude_vector.shape.join(', ')}]; expected [out=${out}] like its lora_B`);
    }
    if (m.bias && m.bias.shape[0] !== out) {
      throw new Error(`${weightsPath}: key '${m.bias.key}' has shape [${m.bias.shape.join(', ')}]; expected [out=${out}] like its lora_B`);
    }
    loraModules++;
  }
  if (loraModules === 0) throw new Error(`${weightsPath}: holds no lora_A/lora_B weights`);
  return { dir, config, tensors, metadata, modules, numParams };
}

/**
 * Checks an adapter against a model: its modules must be exactly the layers target_modules selects there,
 * with matching [in, out]. Throws the first mismatch; changes nothing.
 */
export function validateAgainstModel(ad: AdapterContents, tree: LayerTree): void {
  const where = path.join(ad.dir, WEIGHTS_FILE);
  const targets = new Set(resolveTargets(tree, ad.config));
  for (const [module, m] of ad.modules) {
    const layer = tree.layers.get(module);
    if (layer === undefined) {
      throw new Error(`${where}: has weights for '${module}' but the model has no such layer; layers are: ${[...tree.layers.keys()].join(', ')}`);
    }
    if (!m.lora_A) {
      // Bias-only module (bias "all"): the layer must have a bias of that size.
      const biases = layer.weights.filter(isBiasWeight);
      if (biases.length !== 1 || biases[0]!.shape[0] !== m.bias!.shape[0]) {
        throw new Error(`${where}: key '${m.bias!.key}' has shape [${m.bias!.shape.join(', ')}] but layer '${module}' has ${biases.length === 1 ? `a bias of shape [${biases[0]!.shape.join(', ')}]` : 'no single bias'}`);
      }
      continue;
    }
    if (!targets.has(module)) {
      throw new Error(`${where}: has LoRA weights for '${module}', which target_modules ${JSON.stringify(ad.config.target_modules)} does not select in this model`);
    }
    const [dIn, dOut] = linearDims(layer);
    const key = (s: string) => `${KEY_PREFIX}${module}${s}`;
    if (m.lora_A.shape[1] !== dIn) {
      throw new Error(`${where}: key '${key(SUFFIXES.lora_A)}' has shape [${m.lora_A.shape.join(', ')}] but layer '${module}' has in = ${dIn}: expected [${ad.config.r}, ${dIn}]`);
    }
    if (m.lora_B!.shape[0] !== dOut) {
      throw new Error(`${where}: key '${key(SUFFIXES.lora_B)}' has shape [${m.lora_B!.shape.join(', ')}] but layer '${module}' has out = ${dOut}: expected [${dOut}, ${ad.config.r}]`);
    }
    if (m.bias) {
      const hasBias = (layer instanceof LoraDense ? layer.base : layer).weights.some(isBiasWeight);
      if (!hasBias) throw new Error(`${where}: key '${m.bias.key}' is a bias but layer '${module}' has none (useBias false)`);
    }
  }
  for (const t of targets) {
    if (!ad.modules.get(t)?.lora_A) {
      throw new Error(`${where}: missing key '${KEY_PREFIX}${t}${SUFFIXES.lora_A}' for layer '${t}', which target_modules selects`);
    }
  }
}

/**
 * Loads adapter folder `dir` into `model` as adapter `adapterName`: a LayerTree gets LoRA injected, a LoraModel
 * gets another adapter (not made active). Everything is validated before the model is touched, so a bad file
 * changes nothing. A PiSSA adapter recomputes the residual base from `model`, which must be the original base.
 */
export async function loadAdapter(model: LayerTree | LoraModel, dir: string, adapterName = 'default'): Promise<LoraModel> {
  const ad = await readAdapter(dir);
  const tree = model instanceof LoraModel ? model.base : model;
  if (model instanceof LoraModel) {
    if (model.adapterNames.includes(adapterName)) {
      throw new Error(`adapter '${adapterName}' already exists: load under another name or deleteAdapter('${adapterName}') first`);
    }
    if (model.merged) throw new Error(`adapters are merged: unmerge() before loading '${adapterName}'`);
  } else {
    for (const [p, l] of tree.layers) {
      if (l instanceof LoraDense) throw new Error(`layer '${p}' already has LoRA: pass its LoraModel to loadAdapter to add '${adapterName}'`);
    }
  }
  validateAgainstModel(ad, tree);

  let lm: LoraModel;
  if (model instanceof LoraModel) {
    model.addAdapter(adapterName, ad.config);
    lm = model;
  } else {
    lm = injectLora(tree, ad.config, adapterName);
  }
  const set = (v: tf.LayerVariable, e: { shape: number[]; values: Float32Array }) => {
    tf.tidy(() => {
      v.write(tf.tensor(e.values, e.shape, 'float32'));
    });
  };
  for (const [module, m] of ad.modules) {
    const layer = tree.layers.get(module)!;
    if (layer instanceof LoraDense && m.lora_A) {
      const w = layer.adapter(adapterName);
      set(w.lora_A, m.lora_A);
      set(w.lora_B, m.lora_B!);
      if (m.lora_magnitude_vector && w.lora_magnitude_vector) set(w.lora_magnitude_vector, m.lora_magnitude_vector);
    }
    if (m.bias) {
      const owner = layer instanceof LoraDense ? layer.base : layer;
      set(owner.weights.find(isBiasWeight)!, m.bias);
    }
  }
  return lm;
}

/**
 * Saves adapter `adapterName` (default: the active one) of `model` in PEFT's layout: into `dir` for "default",
 * `dir/<name>` otherwise. The folder is replaced atomically; other files already in it (e.g. other adapters'
 * subfolders) are kept. Weights are read with `await data()`, so this works on every backend.
 */
export async function saveAdapter(model: LoraModel, dir: string, adapterName?: string): Promise<void> {
  const name = adapterName ?? model.activeAdapter;
  if (name === null) throw new Error('the model has no adapters to save');
  const config = model.config(name);
  const tensors: Record<string, SafeTensor> = {};
  const put = async (key: string, v: tf.LayerVariable) => {
    const values = (await v.read().data()) as Float32Array;
    tensors[key] = f32Tensor(v.shape as number[], values);
  };
  for (const [p, layer] of model.base.layers) {
    if (layer instanceof LoraDense) {
      if (!layer.adapterNames.includes(name)) {
        if (config.bias === 'all') for (const w of layer.base.weights.filter(isBiasWeight)) await put(`${KEY_PREFIX}${p}.bias`, w);
        continue;
      }
      if (layer.mergedAdapters.includes(name)) {
        throw new Error(`adapter '${name}' is merged into '${p}': unmerge() before saving so the base weights stay the original ones`);
      }
      const w = layer.adapter(name);
      await put(`${KEY_PREFIX}${p}${SUFFIXES.lora_A}`, w.lora_A);
      await put(`${KEY_PREFIX}${p}${SUFFIXES.lora_B}`, w.lora_B);
      if (w.lora_magnitude_vector) await put(`${KEY_PREFIX}${p}${SUFFIXES.lora_magnitude_vector}`, w.lora_magnitude_vector);
      if (config.bias !== 'none') {
        for (const b of layer.base.weights.filter(isBiasWeight)) await put(`${KEY_PREFIX}${p}${SUFFIXES.base_bias}`, b);
      }
    } else if (config.bias === 'all') {
      for (const b of layer.weights.filter(isBiasWeight)) await put(`${KEY_PREFIX}${p}.bias`, b);
    }
  }
  const bytes = encodeSafetensors(tensors, { format: 'pt' });
  // PEFT's save_pretrained records inference_mode = true in the saved config, whatever the training setting.
  const json = JSON.stringify(toPeftJson({ ...config, inference_mode: true }), null, 2) + '\n';
  const target = adapterDir(dir, name);
  await replaceDirAtomic(target, async (tmp) => {
    // Keep what else lives in the folder (other adapters' subfolders, a README).
    const old = await fs.readdir(target).catch(() => [] as string[]);
    for (const entry of old) {
      if (entry === CONFIG_FILE || entry === WEIGHTS_FILE) continue;
      await fs.cp(path.join(target, entry), path.join(tmp, entry), { recursive: true });
    }
    await fs.writeFile(path.join(tmp, CONFIG_FILE), json);
    await fs.writeFile(path.join(tmp, WEIGHTS_FILE), bytes);
  });
}
