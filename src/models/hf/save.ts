// savePretrained(model, dir): a model folder in the layout transformers' save_pretrained writes and
// from_pretrained (and loadPretrained) reads: config.json (dtype float32), model.safetensors with the state_dict's
// names and PyTorch orientation (Linear weight [out, in] = the Dense kernel transposed; GPT-2's Conv1D [in, out]
// as is), a tied lm_head left out as transformers leaves it out, {"format": "pt"}; and the tokenizer files.
// Written tensor by tensor into a sibling folder that replaces `dir` whole (src/io), so a crash leaves the old one.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { replaceDirAtomic } from '../../io/files.js';
import { writeSafetensorsFile, type PendingTensor } from '../../io/safetensors-writer.js';
import { linearParts } from '../linear.js';
import type { HfCausalLm } from './loader.js';
import { HF_WEIGHTS_FILE, layerSpecs } from './loader.js';
import { tensorSpecs, type LayerSpec } from './weights.js';

/** Files of a Hugging Face tokenizer (fast and slow), copied beside the weights when present. */
export const TOKENIZER_FILES: readonly string[] = [
  'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'added_tokens.json', 'chat_template.jinja',
  'vocab.json', 'merges.txt', 'tokenizer.model',
];

export interface SavePretrainedOptions {
  /** Folder to copy the tokenizer files from. @default model.nameOrPath (the folder it was loaded from) */
  tokenizerDir?: string;
  /** generation_config.json to write (loadPretrained's `generationConfig`); none when null or absent. */
  generationConfig?: Record<string, unknown> | null;
}

/** The TF.js class each layer kind is built as (weights.ts); anything else (a LoRA wrapper, a quantised base) is refused. */
const CLASS_OF: Record<LayerSpec['kind'], string> = {
  embedding: 'Embedding', dense: 'Dense', conv1d: 'LoraLabConv1D', layer_norm: 'LoraLabLayerNorm',
  rms_norm: 'LoraLabRmsNorm', tied_head: 'LoraLabTiedLmHead',
};

function f32Bytes(values: Float32Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

/**
 * Writes `model` to `dir` as a Hugging Face model folder (see the file header). The model must hold plain layers:
 * merge an adapter first (`lora.mergeAndUnload()`); a layer that is still LoRA-wrapped or quantised is an error.
 * Values are read with `await data()`, so this works on every backend.
 */
export async function savePretrained(model: HfCausalLm, dir: string, options: SavePretrainedOptions = {}): Promise<void> {
  const specs = layerSpecs(model.config);
  for (const s of specs) {
    const layer = model.layers.get(s.path);
    const cls = layer?.getClassName();
    if (cls !== CLASS_OF[s.kind]) {
      throw new Error(
        `savePretrained: layer '${s.path}' is ${cls === undefined ? 'missing' : `a ${cls}`}, not the plain ` +
          `${CLASS_OF[s.kind]} a checkpoint holds: merge LoRA into the base first (loraModel.mergeAndUnload())`,
      );
    }
  }
  const tokenizerDir = options.tokenizerDir ?? model.nameOrPath;
  if (tokenizerDir === null) {
    throw new Error('savePretrained: the model was built in memory: pass tokenizerDir (a folder with tokenizer.json)');
  }
  const tokenizerFiles: string[] = [];
  for (const f of TOKENIZER_FILES) {
    if (await fs.stat(path.join(tokenizerDir, f)).then((s) => s.isFile(), () => false)) tokenizerFiles.push(f);
  }
  if (!tokenizerFiles.includes('tokenizer.json')) {
    throw new Error(`savePretrained: ${path.join(tokenizerDir, 'tokenizer.json')} is missing: pass tokenizerDir with the model's tokenizer`);
  }

  const kindOf = new Map(specs.map((s) => [s.path, s.kind]));
  const pending: PendingTensor[] = tensorSpecs(specs).map((t) => ({
    name: t.key,
    dtype: 'F32' as const,
    shape: t.shape,
    bytes: async () => {
      const layer = model.layers.get(t.path)!;
      const kind = kindOf.get(t.path);
      let v: tf.Tensor;
      if (kind === 'dense' || kind === 'conv1d') {
        const p = linearParts(layer);
        if (t.name === 'bias') v = p.bias!.read().clone(); // [out]
        else v = kind === 'dense' ? tf.transpose(p.kernel.read()) : p.kernel.read().clone(); // Linear [out, in]; Conv1D [in, out]
      } else {
        v = layer.weights[t.name === 'weight' ? 0 : 1]!.read().clone(); // table [rows, d]; norm weight / bias [d]
      }
      try {
        if (v.shape.join(',') !== t.shape.join(',')) {
          throw new Error(`savePretrained: '${t.key}' is [${v.shape.join(', ')}], expected [${t.shape.join(', ')}]`);
        }
        return f32Bytes((await v.data()) as Float32Array);
      } finally {
        v.dispose();
      }
    },
  }));
  const raw = { ...model.config.raw } as Record<string, unknown>;
  raw['torch_dtype'] = 'float32'; // the weights are written as float32 whatever the source stored
  if ('dtype' in raw) raw['dtype'] = 'float32';
  await replaceDirAtomic(dir, async (tmp) => {
    await fs.writeFile(path.join(tmp, 'config.json'), JSON.stringify(raw, null, 2) + '\n');
    await writeSafetensorsFile(path.join(tmp, HF_WEIGHTS_FILE), pending, { format: 'pt' });
    for (const f of tokenizerFiles) await fs.copyFile(path.join(tokenizerDir, f), path.join(tmp, f));
    if (options.generationConfig) {
      await fs.writeFile(path.join(tmp, 'generation_config.json'), JSON.stringify(options.generationConfig, null, 2) + '\n');
    }
  });
}
