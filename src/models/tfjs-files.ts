// Saving and loading a tf.LayersModel as files in Node with plain @tensorflow/tfjs, which has no file:// handler (only
// tfjs-node registers one): TF.js's own layers-model format, model.json (modelTopology + weightsManifest) and
// weights.bin, written atomically and checked on read. While tfjs-node is not loaded, lora-lab also answers file://
// URLs, so `model.save('file://dir')` and `tf.loadLayersModel('file://dir/model.json')` work; plain TF.js in a process
// without lora-lab reads the same files with `tf.loadLayersModel(tf.io.fromMemory(...))`.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { readDir, replaceDirAtomic } from '../io/files.js';

export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';

/** Bytes per element of the dtypes a weights manifest can hold. */
const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, float16: 2 };

/** Writes `files` into `dir` atomically (the folder is swapped in whole), keeping whatever else it holds. */
async function replaceFiles(dir: string, files: Record<string, Uint8Array | string>): Promise<void> {
  await replaceDirAtomic(dir, async (tmp) => {
    const old = await fs.readdir(dir).catch(() => [] as string[]);
    for (const entry of old) {
      if (!(entry in files)) await fs.cp(path.join(dir, entry), path.join(tmp, entry), { recursive: true });
    }
    for (const [name, data] of Object.entries(files)) await fs.writeFile(path.join(tmp, name), data);
  });
}

/** An IOHandler that saves to / loads from folder `dir` (model.json + weights.bin). */
export function folderHandler(dir: string): tf.io.IOHandler {
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      if (artifacts.modelTopology instanceof ArrayBuffer) {
        throw new Error('saving a binary (GraphDef) topology is not supported: this handler saves LayersModels');
      }
      const data = artifacts.weightData;
      const weights = data === undefined ? new Uint8Array(0) : new Uint8Array(tf.io.CompositeArrayBuffer.join(data));
      const modelJson: tf.io.ModelJSON = {
        modelTopology: artifacts.modelTopology!,
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy ?? `TensorFlow.js tfjs-layers v${tf.version.tfjs}`,
        convertedBy: artifacts.convertedBy ?? null,
        weightsManifest: [{ paths: [`./${WEIGHTS_BIN}`], weights: artifacts.weightSpecs ?? [] }],
        ...(artifacts.trainingConfig ? { trainingConfig: artifacts.trainingConfig } : {}),
        ...(artifacts.userDefinedMetadata ? { userDefinedMetadata: artifacts.userDefinedMetadata } : {}),
      };
      await replaceFiles(dir, { [MODEL_JSON]: JSON.stringify(modelJson), [WEIGHTS_BIN]: weights });
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
    async load(): Promise<tf.io.ModelArtifacts> {
      return readModelArtifacts(dir);
    },
  };
}

/**
 * The artifacts of a saved LayersModel folder (or its model.json), checked: model.json parses and names its weight
 * files, which exist and hold exactly the bytes the manifest's shapes need. Pass them to `tf.io.fromMemory`.
 */
export async function readModelArtifacts(dirOrJson: string): Promise<tf.io.ModelArtifacts> {
  const jsonPath = dirOrJson.endsWith('.json') ? dirOrJson : path.join(dirOrJson, MODEL_JSON);
  // One complete save, after a crash or during another process's save (src/io/files.ts).
  return readDir(path.dirname(jsonPath), () => readArtifacts(jsonPath));
}

async function readArtifacts(jsonPath: string): Promise<tf.io.ModelArtifacts> {
  const dir = path.dirname(jsonPath);
  let json: tf.io.ModelJSON;
  try {
    json = JSON.parse(await fs.readFile(jsonPath, 'utf8')) as tf.io.ModelJSON;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(
      `${jsonPath}: ` +
      `${code === 'ENOENT' ? 'not found: no saved model there' : `not valid JSON (${(e as Error).message})`}`,
    );
  }
  if (typeof json !== 'object' || json === null || json.modelTopology == null || !Array.isArray(json.weightsManifest)) {
    throw new Error(`${jsonPath}: not a TF.js layers model (needs modelTopology and weightsManifest)`);
  }
  return tf.io.getModelArtifactsForJSON(json, async (manifest) => {
    const specs: tf.io.WeightsManifestEntry[] = [];
    const parts: ArrayBuffer[] = [];
    for (const group of manifest) {
      for (const p of group.paths) {
        const file = path.join(dir, p);
        const bytes = await fs.readFile(file).catch((e: NodeJS.ErrnoException) => {
          throw new Error(`${file}: cannot read (${e.code ?? e.message}), which ${jsonPath} lists`);
        });
        parts.push(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
      }
      specs.push(...group.weights);
    }
    const need = specs.reduce((n, s) => {
      const size = DTYPE_BYTES[s.quantization ? (s.quantization.dtype as string) : s.dtype];
      if (size === undefined) {
        throw new Error(`${jsonPath}: weight '${s.name}' has dtype ${s.dtype}, which this reader does not know`);
      }
      return n + size * s.shape.reduce((a, b) => a * b, 1);
    }, 0);
    const have = parts.reduce((n, b) => n + b.byteLength, 0);
    if (need !== have) {
      throw new Error(
        `${jsonPath}: the weights need ${need} bytes but the weight files hold ${have}: the save is incomplete`,
      );
    }
    return [specs, tf.io.CompositeArrayBuffer.join(parts)];
  });
}

/** Saves `model` to folder `dir` as model.json + weights.bin (atomically). */
export async function saveLayersModel(model: tf.LayersModel, dir: string): Promise<tf.io.SaveResult> {
  return model.save(folderHandler(dir));
}

/** Loads a LayersModel saved in folder `dir` (or at its model.json). Custom layer classes must be registered. */
export async function loadLayersModel(dirOrJson: string): Promise<tf.LayersModel> {
  return tf.loadLayersModel(tf.io.fromMemory(await readModelArtifacts(dirOrJson)));
}

/** The folder a file:// URL names (a model.json URL names its folder for saving). */
function fileUrlPath(url: string | string[]): string | null {
  const u = Array.isArray(url) ? url[0] : url;
  if (typeof u !== 'string' || !u.startsWith('file://')) return null;
  return u.slice('file://'.length);
}

let registered = false;

/**
 * Answers file:// URLs for model.save and tf.loadLayersModel, unless tfjs-node (which has its own) is loaded.
 * Called when lora-lab is imported; safe to call again.
 */
export function registerFileHandlers(): void {
  if (registered) return;
  registered = true;
  const tfjsNode = () => tf.findBackendFactory('tensorflow') != null;
  type Router = Parameters<typeof tf.io.registerSaveRouter>[0]; // a router returns null for URLs it does not take
  const save = (url: string | string[]) => {
    const p = fileUrlPath(url);
    if (p === null || tfjsNode()) return null;
    return folderHandler(p.endsWith('.json') ? path.dirname(p) : p);
  };
  const load = (url: string | string[]) => {
    const p = fileUrlPath(url);
    if (p === null || tfjsNode()) return null;
    return { load: () => readModelArtifacts(p) };
  };
  tf.io.registerSaveRouter(save as unknown as Router);
  tf.io.registerLoadRouter(load as unknown as Router);
}
registerFileHandlers();
