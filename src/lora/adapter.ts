// Adapter files in PEFT's layout (PeftModel.save_pretrained): a folder with adapter_config.json and
// adapter_model.safetensors whose keys are base_model.model.<module path>.<suffix>: lora_A.weight [r, in] and
// lora_B.weight [out, r] (linear layers), lora_embedding_A [r, V] and lora_embedding_B [d, r] (embeddings),
// lora_magnitude_vector [out] (DoRA), biases per bias mode; float32, {"format":"pt"}; "all-linear" is written as the
// module paths it selected, as PEFT writes it. Every LoRA layer kind saves
// through the LoraLayer interface. An adapter trained over a quantised base also records how the base was quantised
// (`base_quantization`, a field PEFT ignores), so loading re-quantises the full-precision model the same way.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { isAllLinear, type LayerTree } from '../models/module.js';
import { isLinearKind } from '../models/linear.js';
import { decodeSafetensors, encodeSafetensors, f32Tensor, toFloat32, type SafeTensor } from '../io/safetensors.js';
import { readDir, replaceDirAtomic } from '../io/files.js';
import { isQuantized, quantizeBase, type QuantizedBase } from '../quant/base.js';
import type { QuantScheme } from '../quant/weight.js';
import { fromPeftJson, toPeftJson, type LoraConfig } from './config.js';
import { loraDims } from './dispatch.js';
import { isLoraLayer, type LoraLayer } from './lora-layer.js';
import { asLayerTree, injectLora, isBiasWeight, LoraModel } from './model.js';
import { resolveTargets } from './targets.js';

export const CONFIG_FILE = 'adapter_config.json';
export const WEIGHTS_FILE = 'adapter_model.safetensors';
/** PEFT's prefix: PeftModel.base_model (LoraModel).model (the wrapped model). */
export const KEY_PREFIX = 'base_model.model.';

type Part = 'lora_A' | 'lora_B' | 'lora_magnitude_vector' | 'bias';
/** PEFT's key suffixes, longest match first ('.base_layer.bias' before '.bias'). */
const SUFFIXES: readonly { suffix: string; part: Part; embedding?: boolean }[] = [
  { suffix: '.lora_A.weight', part: 'lora_A', embedding: false },
  { suffix: '.lora_B.weight', part: 'lora_B', embedding: false },
  { suffix: '.lora_embedding_A', part: 'lora_A', embedding: true },
  { suffix: '.lora_embedding_B', part: 'lora_B', embedding: true },
  { suffix: '.lora_magnitude_vector', part: 'lora_magnitude_vector' },
  { suffix: '.base_layer.bias', part: 'bias' }, // bias of a wrapped layer (PEFT keeps the base under .base_layer)
  { suffix: '.bias', part: 'bias' }, // bias of a layer without LoRA (bias "all")
];

interface Entry {
  shape: number[];
  values: Float32Array;
  key: string;
}

/** One module's tensors from an adapter file (float32 values, PEFT orientation). */
export interface AdapterModule {
  lora_A?: Entry;
  lora_B?: Entry;
  lora_magnitude_vector?: Entry;
  bias?: Entry;
  /** True for lora_embedding_A/B keys (an embedding layer), false for lora_A/B.weight. */
  embedding?: boolean;
}

/** How the base of an adapter trained with QLoRA was quantised (quantizeBase's options and layers). */
export interface BaseQuantization {
  bits: QuantScheme;
  block_size: number;
  double_quant: boolean;
  /** Module paths that were quantised. */
  modules: string[];
}

export interface AdapterContents {
  dir: string;
  config: LoraConfig;
  /** adapter_config.json's fan_in_fan_out (PEFT records true for GPT-2's Conv1D). */
  fanInFanOut: boolean;
  /** Set when the adapter was trained over a quantised base. */
  baseQuantization: BaseQuantization | null;
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

function splitKey(key: string, where: string): { module: string; part: Part; embedding?: boolean } {
  if (!key.startsWith(KEY_PREFIX)) {
    throw new Error(`${where}: unexpected key '${key}': adapter keys start with '${KEY_PREFIX}'`);
  }
  const rest = key.slice(KEY_PREFIX.length);
  for (const s of SUFFIXES) {
    if (rest.endsWith(s.suffix) && rest.length > s.suffix.length) return { module: rest.slice(0, -s.suffix.length), part: s.part, embedding: s.embedding };
  }
  throw new Error(
    `${where}: unexpected key '${key}': expected ${KEY_PREFIX}<module>${SUFFIXES.map((s) => s.suffix).join(' | ')}`,
  );
}

/** base_quantization from adapter_config.json, checked field by field. */
function parseBaseQuantization(v: unknown, where: string): BaseQuantization | null {
  if (v === undefined || v === null) return null;
  const q = v as Partial<BaseQuantization>;
  const ok = typeof v === 'object' && ['int8', 'int4', 'nf4'].includes(q.bits as string) && Number.isInteger(q.block_size) &&
    (q.block_size as number) > 0 && typeof q.double_quant === 'boolean' && Array.isArray(q.modules) && q.modules.length > 0 &&
    q.modules.every((m) => typeof m === 'string');
  if (!ok) {
    throw new Error(
      `${where}: base_quantization must be { bits: 'int8'|'int4'|'nf4', block_size, double_quant, modules: [...] ` +
      `}, got ${JSON.stringify(v)}`,
    );
  }
  return { bits: q.bits!, block_size: q.block_size!, double_quant: q.double_quant!, modules: [...q.modules!] };
}

async function readConfig(dir: string): Promise<{ config: LoraConfig; fanInFanOut: boolean; baseQuantization: BaseQuantization | null }> {
  const configPath = path.join(dir, CONFIG_FILE);
  let text: string;
  try {
    text = await fs.readFile(configPath, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`${configPath}: cannot read (${code ?? (e as Error).message}): '${dir}' is not an adapter folder`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`${configPath}: not valid JSON (${(e as Error).message})`);
  }
  const { base_quantization, ...peft } = (typeof json === 'object' && json !== null ? json : {}) as Record<string, unknown>;
  const config = fromPeftJson(typeof json === 'object' && json !== null && !Array.isArray(json) ? peft : json, configPath);
  return { config, fanInFanOut: peft['fan_in_fan_out'] === true, baseQuantization: parseBaseQuantization(base_quantization, configPath) };
}

/**
 * Reads and validates an adapter folder without a model: the config (PEFT fields), the safetensors structure,
 * every key's name, dtype and shape against the config (r, DoRA, bias mode) and that A/B come in pairs.
 */
export async function readAdapter(dir: string): Promise<AdapterContents> {
  return readDir(dir, () => readAdapterFolder(dir)); // one complete save, after a crash or during another save
}

async function readAdapterFolder(dir: string): Promise<AdapterContents> {
  const { config, fanInFanOut, baseQuantization } = await readConfig(dir);
  const weightsPath = path.join(dir, WEIGHTS_FILE);
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
    const { module, part, embedding } = splitKey(key, weightsPath);
    if (!['F32', 'F16', 'BF16', 'F64'].includes(t.dtype)) {
      throw new Error(
        `${weightsPath}: key '${key}' has dtype ${t.dtype}; adapter weights must be floating point (F32, F16, ` +
        `BF16, F64)`,
      );
    }
    const shape = t.shape;
    const expectRank = part === 'lora_A' || part === 'lora_B' ? 2 : 1;
    if (shape.length !== expectRank) {
      throw new Error(
        `${weightsPath}: key '${key}' has shape [${shape.join(', ')}]; expected a ${expectRank}-D tensor`,
      );
    }
    if (part === 'lora_A' && shape[0] !== config.r) {
      throw new Error(
        `${weightsPath}: key '${key}' has shape [${shape.join(', ')}]; expected [r=${config.r}, in] (r from ` +
        `${CONFIG_FILE})`,
      );
    }
    if (part === 'lora_B' && shape[1] !== config.r) {
      throw new Error(
        `${weightsPath}: key '${key}' has shape [${shape.join(', ')}]; expected [out, r=${config.r}] (r from ` +
        `${CONFIG_FILE})`,
      );
    }
    if (part === 'lora_magnitude_vector' && !config.use_dora) {
      throw new Error(`${weightsPath}: key '${key}' is a DoRA magnitude but ${CONFIG_FILE} has use_dora = false`);
    }
    if (part === 'bias' && config.bias === 'none') {
      throw new Error(`${weightsPath}: key '${key}' is a bias but ${CONFIG_FILE} has bias = "none"`);
    }
    const m = modules.get(module) ?? {};
    if (m[part]) {
      throw new Error(
        `${weightsPath}: module '${module}' has two ${part === 'bias' ? 'biases' : part} tensors ` +
        `('${m[part]!.key}' and '${key}')`,
      );
    }
    if (embedding !== undefined) {
      if (m.embedding !== undefined && m.embedding !== embedding) {
        throw new Error(
          `${weightsPath}: module '${module}' mixes lora_embedding_* and lora_A/lora_B.weight keys ('${key}')`,
        );
      }
      m.embedding = embedding;
    }
    const entry = { shape, values: toFloat32(t), key };
    m[part] = entry;
    modules.set(module, m);
    numParams += entry.values.length;
  }
  let loraModules = 0;
  for (const [module, m] of modules) {
    const key = (suffix: string) => `${KEY_PREFIX}${module}${suffix}`;
    const [sa, sb] = m.embedding ? ['.lora_embedding_A', '.lora_embedding_B'] : ['.lora_A.weight', '.lora_B.weight'];
    if (!m.lora_A && !m.lora_B) {
      if (m.lora_magnitude_vector) {
        throw new Error(
          `${weightsPath}: missing key '${key(sa)}' (module '${module}' has a DoRA magnitude but no LoRA weights)`,
        );
      }
      if (m.bias && config.bias === 'lora_only') {
        throw new Error(
          `${weightsPath}: key '${m.bias.key}' is the bias of a layer without LoRA, but bias = "lora_only"`,
        );
      }
      continue; // a bias-only module (bias "all")
    }
    if (!m.lora_A) throw new Error(`${weightsPath}: missing key '${key(sa)}' (its lora_B is present)`);
    if (!m.lora_B) throw new Error(`${weightsPath}: missing key '${key(sb)}' (its lora_A is present)`);
    const out = m.lora_B.shape[0]!;
    if (config.use_dora && !m.lora_magnitude_vector) {
      throw new Error(`${weightsPath}: missing key '${key('.lora_magnitude_vector')}' (use_dora = true)`);
    }
    if (m.embedding && m.lora_magnitude_vector) {
      throw new Error(
        `${weightsPath}: key '${m.lora_magnitude_vector.key}' is a DoRA magnitude on an embedding, which is not ` +
        `supported`,
      );
    }
    if (m.lora_magnitude_vector && m.lora_magnitude_vector.shape[0] !== out) {
      throw new Error(
        `${weightsPath}: key '${m.lora_magnitude_vector.key}' has shape ` +
        `[${m.lora_magnitude_vector.shape.join(', ')}]; expected [out=${out}] like its lora_B`,
      );
    }
    if (m.bias && m.bias.shape[0] !== out) {
      throw new Error(
        `${weightsPath}: key '${m.bias.key}' has shape [${m.bias.shape.join(', ')}]; expected [out=${out}] like ` +
        `its lora_B`,
      );
    }
    loraModules++;
  }
  if (loraModules === 0) throw new Error(`${weightsPath}: holds no LoRA weights (lora_A/lora_B or lora_embedding_A/B)`);
  return { dir, config, fanInFanOut, baseQuantization, tensors, metadata, modules, numParams };
}

/** The layer whose own weights hold `layer`'s base weights (the LoRA layer's base, or the layer itself). */
function baseOf(layer: tf.layers.Layer): tf.layers.Layer {
  return isLoraLayer(layer) ? layer.base : layer;
}

/**
 * Checks an adapter against a model: its modules must be exactly the layers target_modules selects there, of a
 * kind matching the keys (embedding or linear), with matching [in, out]; a quantised-base adapter's modules must be
 * full-precision linear layers (or already quantised the same way). Throws the first mismatch; changes nothing.
 */
export function validateAgainstModel(ad: AdapterContents, tree: LayerTree): void {
  const where = path.join(ad.dir, WEIGHTS_FILE);
  const targets = new Set(resolveTargets(tree, ad.config));
  const listed = () => [...tree.layers.keys()].join(', ');
  for (const [module, m] of ad.modules) {
    const layer = tree.layers.get(module);
    if (layer === undefined) {
      throw new Error(`${where}: has weights for '${module}' but the model has no such layer; layers are: ${listed()}`);
    }
    if (!m.lora_A) {
      // Bias-only module (bias "all"): the layer must have a bias of that size.
      const biases = baseOf(layer).weights.filter(isBiasWeight);
      if (biases.length !== 1 || biases[0]!.shape[0] !== m.bias!.shape[0]) {
        throw new Error(
          `${where}: key '${m.bias!.key}' has shape [${m.bias!.shape.join(', ')}] but layer '${module}' has ` +
          `${biases.length === 1 ? `a bias of shape [${biases[0]!.shape.join(', ')}]` : 'no single bias'}`,
        );
      }
      continue;
    }
    if (!targets.has(module)) {
      throw new Error(
        `${where}: has LoRA weights for '${module}', which target_modules ` +
        `${JSON.stringify(ad.config.target_modules)} does not select in this model`,
      );
    }
    const base = baseOf(layer);
    const isEmbedding = ['Embedding', 'LoraLabTokenEmbedding'].includes(base.getClassName());
    if (m.embedding !== isEmbedding) {
      throw new Error(
        `${where}: '${module}' holds ` +
        `${m.embedding ? 'lora_embedding_A/B (an embedding adapter)' : 'lora_A/lora_B.weight (a linear adapter)'} ` +
        `but the layer is a ${base.getClassName()}`,
      );
    }
    const [dIn, dOut] = loraDims(layer, module);
    if (m.lora_A.shape[1] !== dIn) {
      throw new Error(
        `${where}: key '${m.lora_A.key}' has shape [${m.lora_A.shape.join(', ')}] but layer '${module}' has in = ` +
        `${dIn}: expected [${ad.config.r}, ${dIn}]`,
      );
    }
    if (m.lora_B!.shape[0] !== dOut) {
      throw new Error(
        `${where}: key '${m.lora_B!.key}' has shape [${m.lora_B!.shape.join(', ')}] but layer '${module}' has out ` +
        `= ${dOut}: expected [${dOut}, ${ad.config.r}]`,
      );
    }
    if (m.bias && !base.weights.some(isBiasWeight)) {
      throw new Error(`${where}: key '${m.bias.key}' is a bias but layer '${module}' has none (useBias false)`);
    }
  }
  for (const t of targets) {
    if (!ad.modules.get(t)?.lora_A) {
      const emb = ['Embedding', 'LoraLabTokenEmbedding'].includes(baseOf(tree.layers.get(t)!).getClassName());
      throw new Error(
        `${where}: missing key '${KEY_PREFIX}${t}${emb ? '.lora_embedding_A' : '.lora_A.weight'}' for layer ` +
        `'${t}', which target_modules selects`,
      );
    }
  }
  const q = ad.baseQuantization;
  if (q !== null) {
    for (const module of q.modules) {
      const layer = tree.layers.get(module);
      const base = layer === undefined ? undefined : baseOf(layer);
      if (base === undefined) {
        throw new Error(
          `${path.join(ad.dir, CONFIG_FILE)}: base_quantization names '${module}', which the model lacks; layers ` +
          `are: ${listed()}`,
        );
      }
      if (isQuantized(base)) {
        const o = base.options;
        if (o.bits !== q.bits || (o.blockSize ?? 64) !== q.block_size || (o.doubleQuant ?? false) !== q.double_quant) {
          throw new Error(
            `'${module}' is quantised as ${o.bits} (block ${o.blockSize ?? 64}) but the adapter was trained on ` +
            `${q.bits} (block ${q.block_size}): pass the full-precision model`,
          );
        }
      } else if (!isLinearKind(base)) {
        throw new Error(
          `${path.join(ad.dir, CONFIG_FILE)}: base_quantization names '${module}', a ${base.getClassName()}, which ` +
          `cannot be quantised`,
        );
      }
    }
  }
}

/**
 * Loads adapter folder `dir` into `model` as adapter `adapterName`: a model without LoRA (a LayerTree or a
 * tf.LayersModel) gets LoRA injected, a LoraModel gets another adapter (not made active). Everything is validated
 * before the model is touched, so a bad file changes nothing. A PiSSA adapter recomputes the residual base from
 * `model`, which must be the original base; an adapter trained over a quantised base quantises `model`'s layers
 * as recorded (pass the full-precision model: the same weights give the same codes).
 */
export async function loadAdapter(model: LayerTree | tf.LayersModel | LoraModel, dir: string, adapterName = 'default'): Promise<LoraModel> {
  const ad = await readAdapter(dir);
  const lora = model instanceof LoraModel ? model : null;
  const tree = lora ? lora.base : asLayerTree(model as LayerTree | tf.LayersModel);
  if (lora) {
    if (lora.adapterNames.includes(adapterName)) {
      throw new Error(
        `adapter '${adapterName}' already exists: load under another name or deleteAdapter('${adapterName}') first`,
      );
    }
    if (lora.merged) throw new Error(`adapters are merged: unmerge() before loading '${adapterName}'`);
  } else {
    for (const [p, l] of tree.layers) {
      if (isLoraLayer(l)) {
        throw new Error(`layer '${p}' already has LoRA: pass its LoraModel to loadAdapter to add '${adapterName}'`);
      }
    }
  }
  validateAgainstModel(ad, tree);

  let quantized: QuantizedBase | null = null;
  const q = ad.baseQuantization;
  if (q !== null && q.modules.some((p) => !isQuantized(baseOf(tree.layers.get(p)!)))) {
    if (lora) {
      throw new Error(
        `adapter '${adapterName}' was trained over a quantised base: load it into the full-precision model, not a ` +
        `LoraModel`,
      );
    }
    quantized = await quantizeBase(tree, { bits: q.bits, blockSize: q.block_size, doubleQuant: q.double_quant, target_modules: q.modules });
  }
  let lm: LoraModel;
  try {
    if (lora) {
      lora.addAdapter(adapterName, ad.config);
      lm = lora;
    } else {
      lm = injectLora(tree, ad.config, adapterName);
    }
  } catch (e) {
    quantized?.restore();
    throw e;
  }
  const set = (v: tf.LayerVariable, e: Entry) => {
    tf.tidy(() => {
      v.write(tf.tensor(e.values, e.shape, 'float32'));
    });
  };
  for (const [module, m] of ad.modules) {
    const layer = tree.layers.get(module)!;
    if (isLoraLayer(layer) && m.lora_A) {
      for (const t of layer.peftTensors(adapterName)) {
        const e = m[t.role];
        if (e) set(t.variable, e);
      }
    }
    if (m.bias) set(baseOf(layer).weights.find(isBiasWeight)!, m.bias);
  }
  return lm;
}

/** How the model's quantised layers were made, or null without any; all must share one set of options. */
function baseQuantizationOf(tree: LayerTree): BaseQuantization | null {
  let rec: BaseQuantization | null = null;
  for (const [p, l] of tree.layers) {
    const base = baseOf(l);
    if (!isQuantized(base)) continue;
    const o = { bits: base.options.bits, block_size: base.options.blockSize ?? 64, double_quant: base.options.doubleQuant ?? false };
    if (rec === null) rec = { ...o, modules: [] };
    else if (rec.bits !== o.bits || rec.block_size !== o.block_size || rec.double_quant !== o.double_quant) {
      throw new Error(
        `layer '${p}' is quantised differently from '${rec.modules[0]}': an adapter file records one quantisation ` +
        `for the base`,
      );
    }
    rec.modules.push(p);
  }
  return rec;
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
    tensors[key] = f32Tensor(v.shape as number[], (await v.read().data()) as Float32Array);
  };
  const holders: LoraLayer[] = [];
  const holderPaths: string[] = [];
  for (const [p, layer] of model.base.layers) {
    const holds = isLoraLayer(layer) && layer.adapterNames.includes(name);
    if (isLoraLayer(layer) && holds) {
      holderPaths.push(p);
      if (layer.mergedAdapters.includes(name)) {
        throw new Error(
          `adapter '${name}' is merged into '${p}': unmerge() before saving so the base weights stay the original ` +
          `ones`,
        );
      }
      holders.push(layer);
      for (const t of layer.peftTensors(name)) await put(`${KEY_PREFIX}${p}.${t.suffix}`, t.variable);
      const bias = layer.baseBias();
      if (config.bias !== 'none' && bias) await put(`${KEY_PREFIX}${p}.base_layer.bias`, bias);
    } else if (config.bias === 'all') {
      for (const b of baseOf(layer).weights.filter(isBiasWeight)) await put(`${KEY_PREFIX}${p}.bias`, b);
    }
  }
  const quant = baseQuantizationOf(model.base);
  const bytes = encodeSafetensors(tensors, { format: 'pt' });
  // PEFT's save_pretrained records inference_mode = true in the saved config, whatever the training setting.
  // PEFT stores "all-linear" as the module paths it expanded to (tuners_utils _maybe_include_all_linear_layers).
  const targets = isAllLinear(config.target_modules) ? holderPaths : config.target_modules;
  const peft = toPeftJson(
    { ...config, target_modules: targets, inference_mode: true },
    { fan_in_fan_out: holders.some((l) => l.fanInFanOut) },
  );
  const json = JSON.stringify(quant ? { ...peft, base_quantization: quant } : peft, null, 2) + '\n';
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
