// Quantising a model's frozen base in place: its linear layers (Dense, Conv1D) become QuantizedDense layers holding
// int8 / int4 / NF4 codes. QLoRA (Dettmers et al. 2023 §3) is this followed by `injectLora`, which wraps the
// quantised layers like any other base kind. The same options on the same float weights give the same codes, so an
// adapter trained over a quantised base can be re-applied by quantising the full-precision model again.
import type * as tf from '@tensorflow/tfjs';
import { isLinearKind } from '../models/linear.js';
import { selectPaths, type LayerTree } from '../models/module.js';
import { QuantizedDense, quantizeDense } from './dense.js';
import type { QuantizeOptions } from './weight.js';

export interface QuantizeBaseOptions extends QuantizeOptions {
  /**
   * Which layers to quantise, matched as PEFT matches target_modules (a list of names or a regex).
   * @default 'all-linear': every Dense and Conv1D layer but the output head (lm_head, classifier, score), as QLoRA
   */
  target_modules?: readonly string[] | string;
}

/** What `quantizeBase` did: the quantised paths and options, and how to put the float layers back. */
export interface QuantizedBase {
  readonly modules: readonly string[];
  readonly options: QuantizeOptions;
  /** Puts the original float layers back at `modules` and frees the quantised ones (their LoRA wrappers must be gone). */
  restore(): void;
}

/** The class name of QuantizedDense (layers are recognised by name across module copies). */
export const QUANTIZED_CLASS_NAME = 'LoraLabQuantizedDense';

/** True for a QuantizedDense. */
export function isQuantized(layer: tf.layers.Layer): layer is QuantizedDense {
  return layer.getClassName() === QUANTIZED_CLASS_NAME;
}

/** LoRA layers carry this brand (Symbol.for: the same symbol in every module copy). */
const LORA_BRAND = Symbol.for('lora-lab.LoraLayer');

/**
 * Quantises the linear layers of `tree` that `options.target_modules` selects, in place, and returns what it did.
 * Everything is built before the tree changes, so an error leaves it as it was. Call it before `injectLora`.
 */
export async function quantizeBase(tree: LayerTree, options: QuantizeBaseOptions): Promise<QuantizedBase> {
  for (const [p, l] of tree.layers) {
    if (LORA_BRAND in l) throw new Error(`layer '${p}' already has LoRA: quantise the base first, then injectLora`);
  }
  const { target_modules: modules = 'all-linear', ...quant } = options;
  const paths = selectPaths(tree, modules, isLinearKind, 'quantisation target');
  for (const p of paths) {
    const l = tree.layers.get(p)!;
    if (!isLinearKind(l)) {
      throw new Error(
        `quantisation target '${p}' is a ${l.getClassName()}; only Dense and Conv1D layers can be quantised`,
      );
    }
  }
  const built = new Map<string, QuantizedDense>();
  try {
    for (const p of paths) built.set(p, await quantizeDense(tree.layers.get(p)!, quant));
  } catch (e) {
    for (const q of built.values()) q.dispose();
    throw e;
  }
  const originals = new Map<string, tf.layers.Layer>();
  for (const [p, q] of built) {
    originals.set(p, tree.layers.get(p)!);
    tree.layers.set(p, q);
  }
  return {
    modules: paths,
    options: quant,
    restore() {
      for (const p of originals.keys()) {
        if (tree.layers.get(p) !== built.get(p)) {
          throw new Error(
            `layer '${p}' is no longer the quantised layer (a LoRA wrapper?): unload the LoRA model first`,
          );
        }
      }
      for (const [p, original] of originals) {
        built.get(p)!.dispose();
        tree.layers.set(p, original);
      }
      originals.clear();
    },
  };
}

/** Bytes of every weight in a tree as held now: a QuantizedDense (also under a LoRA wrapper) at its packed size. */
export function weightBytes(tree: LayerTree): number {
  let bytes = 0;
  for (const layer of tree.layers.values()) {
    const base = (layer as { base?: tf.layers.Layer }).base;
    const q = isQuantized(layer) ? layer : base !== undefined && isQuantized(base) ? base : undefined;
    if (q) bytes += q.deviceBytes();
    for (const w of layer.weights) bytes += 4 * w.shape.reduce((n: number, d) => n * (d ?? 1), 1);
  }
  return bytes;
}
