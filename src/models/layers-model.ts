// Any TF.js LayersModel (tf.model's functional graph, a tf.sequential, or one read with tf.loadLayersModel) seen as a
// LayerTree: its layers keyed by their names. TF.js has no clone_model, so `model` rebuilds the graph node by node from
// the original, with the tree's current layers substituted: weights are shared, and a layer used twice stays one layer.
import * as tf from '@tensorflow/tfjs';
import type { LayerTree } from './module.js';

type SymbolicTensor = tf.SymbolicTensor;

/** Class names of TF.js models (by name: the user's tf may be another module copy than ours). */
const MODEL_CLASS_NAMES = ['Model', 'Functional', 'Sequential'];

/** True for a tf.LayersModel (functional or Sequential). */
export function isLayersModel(x: unknown): x is tf.LayersModel {
  if (typeof x !== 'object' || x === null) return false;
  const m = x as { getClassName?: () => string; layers?: unknown; inputs?: unknown; outputs?: unknown };
  return typeof m.getClassName === 'function' && MODEL_CLASS_NAMES.includes(m.getClassName()) &&
    Array.isArray(m.layers) && Array.isArray(m.inputs) && Array.isArray(m.outputs);
}

/** A LayersModel as a LayerTree. Run it (fit, predict, save) through `model`. */
export class LayersModelTree implements LayerTree {
  readonly layers = new Map<string, tf.layers.Layer>();
  /** The model this tree was made from. */
  readonly source: tf.LayersModel;
  private readonly original: tf.layers.Layer[];
  private cache: { layers: tf.layers.Layer[]; model: tf.LayersModel } | null = null;

  constructor(model: tf.LayersModel) {
    if (!isLayersModel(model)) {
      throw new Error('LayersModelTree needs a tf.LayersModel (tf.model, tf.sequential or tf.loadLayersModel)');
    }
    if (model.inputs.length === 0) {
      throw new Error(`model '${model.name}' is not built: give its first layer an inputShape`);
    }
    this.source = model;
    for (const layer of model.layers) {
      if (layer.getClassName() === 'InputLayer') continue;
      if (this.layers.has(layer.name)) {
        throw new Error(`model '${model.name}' has two layers named '${layer.name}': give them distinct names`);
      }
      this.layers.set(layer.name, layer);
    }
    this.original = [...this.layers.values()];
  }

  /**
   * The graph with the current layers: the source model while every layer is its own, else a LayersModel rebuilt with
   * the replacements (cached until the map changes). Get it again after layers are replaced (LoRA added or removed).
   */
  get model(): tf.LayersModel {
    const now = [...this.layers.values()];
    const same = (xs: tf.layers.Layer[]) => xs.length === now.length && xs.every((l, i) => l === now[i]);
    if (same(this.original)) return this.source;
    if (this.cache !== null && same(this.cache.layers)) return this.cache.model;
    this.cache = { layers: now, model: this.rebuild() };
    return this.cache.model;
  }

  /** The model's output for `x` (training passes on to the layers: LoRA dropout). */
  apply(x: tf.Tensor | tf.Tensor[], options: { training?: boolean } = {}): tf.Tensor | tf.Tensor[] {
    return this.model.apply(x, { training: options.training ?? false }) as tf.Tensor | tf.Tensor[];
  }

  private rebuild(): tf.LayersModel {
    const replaced = new Map<tf.layers.Layer, tf.layers.Layer>();
    this.original.forEach((l, i) => replaced.set(l, [...this.layers.values()][i]!));
    const memo = new Map<SymbolicTensor, SymbolicTensor>();
    for (const t of this.source.inputs) memo.set(t, t); // the same Input tensors feed the new graph
    const visit = (t: SymbolicTensor): SymbolicTensor => {
      const hit = memo.get(t);
      if (hit !== undefined) return hit;
      const node = t.sourceLayer.inboundNodes[t.nodeIndex]!;
      const inputs = node.inputTensors.map(visit);
      const layer = replaced.get(t.sourceLayer) ?? t.sourceLayer;
      const args = inputs.length === 1 ? inputs[0]! : inputs;
      const out = layer.apply(args, node.callArgs ?? {}) as SymbolicTensor | SymbolicTensor[];
      const outs = Array.isArray(out) ? out : [out];
      node.outputTensors.forEach((o, i) => memo.set(o, outs[i]!));
      return memo.get(t)!;
    };
    const outputs = this.source.outputs.map(visit);
    return tf.model({ inputs: this.source.inputs, outputs, name: this.source.name });
  }
}
