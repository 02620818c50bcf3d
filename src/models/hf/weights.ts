// A Hugging Face model as a list of layer specs (module path, kind, sizes), the checkpoint tensors each one
// holds (PyTorch names and shapes: Linear weight [out, in], Conv1D weight [in, out], Embedding [rows, d]), and
// building the TF.js layers from a source of values, one layer at a time, each weight created straight from
// its values (no initial random tensor to replace), so loading peaks near one float32 model.
import * as tf from '@tensorflow/tfjs';
import { Conv1D } from '../conv1d.js';
import { LayerNorm } from '../layer-norm.js';
import { RmsNorm } from '../rms-norm.js';
import { seededRandom, mixSeed } from '../../data/rng.js';
import { TiedLmHead } from './tied-head.js';

/** One layer of the model, addressed by its checkpoint module path. */
export type LayerSpec =
  | { kind: 'embedding'; path: string; rows: number; dim: number }
  | { kind: 'dense'; path: string; inFeatures: number; outFeatures: number; bias: boolean }
  | { kind: 'conv1d'; path: string; inFeatures: number; outFeatures: number; bias: boolean }
  | { kind: 'layer_norm'; path: string; dim: number; eps: number }
  | { kind: 'rms_norm'; path: string; dim: number; eps: number }
  | { kind: 'tied_head'; path: string; tiedTo: string };

/** One checkpoint tensor: its key (`<path>.weight`), PyTorch shape, and whether TF.js holds its transpose. */
export interface TensorSpec {
  key: string;
  /** Shape as stored in the checkpoint (PyTorch orientation). */
  shape: number[];
  /** The TF.js layer's module path. */
  path: string;
  /** Torch-side name: 'weight' or 'bias'. */
  name: 'weight' | 'bias';
  /** TF.js keeps it as [in, out] while the file has [out, in] (torch.nn.Linear). */
  transpose: boolean;
}

/** The checkpoint tensors of `layers`, in layer order. A tied head holds none. */
export function tensorSpecs(layers: readonly LayerSpec[]): TensorSpec[] {
  const out: TensorSpec[] = [];
  const add = (path: string, name: 'weight' | 'bias', shape: number[], transpose = false) =>
    out.push({ key: `${path}.${name}`, shape, path, name, transpose });
  for (const l of layers) {
    switch (l.kind) {
      case 'embedding': add(l.path, 'weight', [l.rows, l.dim]); break;
      case 'dense':
        add(l.path, 'weight', [l.outFeatures, l.inFeatures], true);
        if (l.bias) add(l.path, 'bias', [l.outFeatures]);
        break;
      case 'conv1d':
        add(l.path, 'weight', [l.inFeatures, l.outFeatures]);
        if (l.bias) add(l.path, 'bias', [l.outFeatures]);
        break;
      case 'layer_norm': add(l.path, 'weight', [l.dim]); add(l.path, 'bias', [l.dim]); break;
      case 'rms_norm': add(l.path, 'weight', [l.dim]); break;
      case 'tied_head': break;
    }
  }
  return out;
}

/** Number of parameters of `layers` (a tied head adds none). */
export function countParameters(layers: readonly LayerSpec[]): number {
  return tensorSpecs(layers).reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0);
}

/** Where weight values come from: a checkpoint on disk, or random values for a model built in memory. */
export interface WeightSource {
  /** The values of `t` in TF.js orientation (transposed to [in, out] when t.transpose), float32. */
  read(t: TensorSpec): Promise<Float32Array>;
}

/**
 * An initializer that hands over `values` as the weight, once. It lets go of them as it does: layers keep their
 * initializers, and one still holding its values would keep a second copy of the model alive in JS memory.
 */
function valuesInit(values: Float32Array, expected: number[]): ReturnType<typeof tf.initializers.zeros> {
  // An instance of TF.js's own Initializer class (its constructor accepts only those), with apply replaced.
  const init = tf.initializers.zeros();
  let held: Float32Array | null = values;
  init.apply = (shape: tf.Shape) => {
    if (shape.join(',') !== expected.join(',')) {
      throw new Error(`weight built as [${shape.join(', ')}] but its values are [${expected.join(', ')}]`);
    }
    if (held === null) throw new Error('a checkpoint initializer was applied twice: its values were already handed over');
    const t = tf.tensor(held, shape as number[], 'float32');
    held = null;
    return t;
  };
  return init;
}

export interface BuildProgress {
  /** Tensors created so far and in all. */
  done: number;
  total: number;
  /** The checkpoint key just created. */
  key: string;
}

/**
 * Creates every layer of `specs` with values from `source`, in order, each weight from its own values. On
 * any error every weight created so far is freed and the error rethrown (nothing half-built survives).
 */
export async function buildLayers(
  specs: readonly LayerSpec[],
  source: WeightSource,
  onProgress?: (p: BuildProgress) => void,
): Promise<Map<string, tf.layers.Layer>> {
  const tensors = tensorSpecs(specs);
  const byPath = new Map<string, TensorSpec[]>();
  for (const t of tensors) byPath.set(t.path, [...(byPath.get(t.path) ?? []), t]);
  const layers = new Map<string, tf.layers.Layer>();
  let done = 0;
  const read = async (t: TensorSpec | undefined): Promise<Float32Array> => {
    const v = await source.read(t!);
    const n = t!.shape.reduce((a, b) => a * b, 1);
    if (v.length !== n) throw new Error(`weight source gave ${v.length} values for '${t!.key}' [${t!.shape.join(', ')}]`);
    done++;
    onProgress?.({ done, total: tensors.length, key: t!.key });
    return v;
  };
  try {
    for (const spec of specs) {
      const [w, b] = byPath.get(spec.path) ?? [];
      const name = spec.path;
      let layer: tf.layers.Layer;
      switch (spec.kind) {
        case 'embedding': {
          const values = await read(w);
          layer = tf.layers.embedding({
            inputDim: spec.rows, outputDim: spec.dim, name, embeddingsInitializer: valuesInit(values, [spec.rows, spec.dim]),
          });
          layer.build([null, null]);
          break;
        }
        case 'dense': {
          const kernel = valuesInit(await read(w), [spec.inFeatures, spec.outFeatures]);
          const bias = spec.bias ? valuesInit(await read(b), [spec.outFeatures]) : undefined;
          layer = tf.layers.dense({
            units: spec.outFeatures, inputDim: spec.inFeatures, useBias: spec.bias, name,
            kernelInitializer: kernel, ...(bias === undefined ? {} : { biasInitializer: bias }),
          });
          layer.build([null, spec.inFeatures]);
          break;
        }
        case 'conv1d': {
          const kernel = valuesInit(await read(w), [spec.inFeatures, spec.outFeatures]);
          const bias = spec.bias ? valuesInit(await read(b), [spec.outFeatures]) : undefined;
          const conv = new Conv1D({
            inFeatures: spec.inFeatures, outFeatures: spec.outFeatures, useBias: spec.bias, name,
            kernelInitializer: kernel, ...(bias === undefined ? {} : { biasInitializer: bias }),
          });
          conv.build();
          layer = conv;
          break;
        }
        case 'layer_norm':
        case 'rms_norm': {
          const vals = spec.kind === 'layer_norm' ? [await read(w), await read(b)] : [await read(w)];
          const norm = spec.kind === 'layer_norm'
            ? new LayerNorm({ dim: spec.dim, epsilon: spec.eps, name })
            : new RmsNorm({ dim: spec.dim, epsilon: spec.eps, name });
          norm.build();
          // Small vectors: created as ones/zeros, then overwritten (setWeights frees the old values).
          const ts = vals.map((v) => tf.tensor1d(v));
          norm.setWeights(ts);
          tf.dispose(ts);
          layer = norm;
          break;
        }
        case 'tied_head': {
          const owner = layers.get(spec.tiedTo);
          if (owner === undefined || owner.weights.length !== 1) {
            throw new Error(`tied head '${spec.path}' needs the embedding layer '${spec.tiedTo}' built before it`);
          }
          layer = new TiedLmHead({ table: owner.weights[0]!, tiedTo: spec.tiedTo, name });
          break;
        }
      }
      layer.built = true;
      layers.set(spec.path, layer);
    }
  } catch (e) {
    for (const l of layers.values()) if (!(l instanceof TiedLmHead)) for (const v of l.weights) v.dispose();
    throw e;
  }
  return layers;
}

export interface RandomWeightsOptions {
  /** Standard deviation of matrices and tables (transformers' initializer_range). @default 0.02 */
  std?: number;
  /** Standard deviation of norm weights around 1 and of biases around 0 (0 = HF's init: ones and zeros). @default 0 */
  vectorStd?: number;
}

/** Seeded N(0, std²) matrices, norms at 1 and biases at 0 (or jittered), for a model built in memory. */
export function randomWeights(seed: number, options: RandomWeightsOptions = {}): WeightSource {
  const std = options.std ?? 0.02;
  const vstd = options.vectorStd ?? 0;
  let n = 0;
  return {
    read: async (t) => {
      const rng = seededRandom(mixSeed(seed, n++));
      const size = t.shape.reduce((a, b) => a * b, 1);
      const out = new Float32Array(size);
      const isVector = t.shape.length === 1;
      const isNormWeight = isVector && t.name === 'weight';
      const s = isVector ? vstd : std;
      for (let i = 0; i < size; i++) out[i] = (isNormWeight ? 1 : 0) + (s === 0 ? 0 : s * rng.normal());
      return out;
    },
  };
}
