// Which LoRA layer wraps which base layer, by the base's class name (PEFT's dispatchers in tuners/lora/model.py).
// Class names, not `instanceof`: a user's own `@tensorflow/tfjs` import may be another copy of the module.
// A new base-layer kind is one wrapper file and one entry here.
import type * as tf from '@tensorflow/tfjs';
import { linearParts } from '../models/linear.js';
import { isQuantized } from '../quant/base.js';
import { LoraDense } from './layer.js';
import { LoraEmbedding } from './embedding.js';
import { LoraQuantizedDense } from './quantized.js';
import { isLoraLayer, type LoraLayerBase } from './lora-layer.js';

interface WrapperKind {
  /** Base classes this wrapper takes. */
  readonly classNames: readonly string[];
  /** Part of PEFT's "all-linear" selection. */
  readonly linear: boolean;
  create(base: tf.layers.Layer, name: string): LoraLayerBase;
}

const KINDS: readonly WrapperKind[] = [
  { classNames: ['Dense', 'LoraLabConv1D'], linear: true, create: (base, name) => new LoraDense({ base, name }) },
  {
    classNames: ['Embedding', 'LoraLabTokenEmbedding'], linear: false,
    create: (base, name) => new LoraEmbedding({ base, name }),
  },
  { classNames: ['LoraLabQuantizedDense'], linear: true, create: (base, name) => new LoraQuantizedDense({ base, name }) },
];

/** Every base class a LoRA wrapper exists for. */
export const SUPPORTED_BASE_CLASSES: readonly string[] = KINDS.flatMap((k) => k.classNames);

function kindOf(layer: tf.layers.Layer): WrapperKind | undefined {
  const cls = layer.getClassName();
  return KINDS.find((k) => k.classNames.includes(cls));
}

/** A layer LoRA can wrap, or one already wrapped (a later adapter can target it too). */
export function canWrap(layer: tf.layers.Layer): boolean {
  return isLoraLayer(layer) || kindOf(layer) !== undefined;
}

/** A linear layer for "all-linear": Dense, Conv1D or a quantised one, wrapped or not. */
export function isLinearTarget(layer: tf.layers.Layer): boolean {
  const base = isLoraLayer(layer) ? layer.base : layer;
  return kindOf(base)?.linear === true;
}

function unsupported(layer: tf.layers.Layer, path: string): Error {
  return new Error(
    `LoRA target '${path}' is a ${layer.getClassName()} layer, which has no LoRA wrapper; supported kinds: ` +
      `${SUPPORTED_BASE_CLASSES.join(', ')}: narrow target_modules`,
  );
}

/** The LoRA wrapper for `base`, named `name`; an unsupported kind is an error naming it and the supported ones. */
export function wrapLayer(base: tf.layers.Layer, name: string, path = base.name): LoraLayerBase {
  const kind = kindOf(base);
  if (kind === undefined) throw unsupported(base, path);
  return kind.create(base, name);
}

/**
 * [in, out] of the branch LoRA gives `layer` (lora_A [r, in], lora_B [out, r]): a linear layer's features, a table's
 * [V, d], or a LoRA layer's own. Errors name a kind without a wrapper or a layer not built yet.
 */
export function loraDims(layer: tf.layers.Layer, path = layer.name): [number, number] {
  if (isLoraLayer(layer)) return [layer.inFeatures, layer.outFeatures];
  if (isQuantized(layer)) return [layer.inFeatures, layer.outFeatures];
  const kind = kindOf(layer);
  if (kind === undefined) throw unsupported(layer, path);
  if (kind.linear) {
    const p = linearParts(layer);
    return [p.inFeatures, p.outFeatures];
  }
  if (!layer.built || layer.weights.length !== 1) {
    throw new Error(`embedding layer '${layer.name}' is not built yet: call it once first`);
  }
  return layer.weights[0]!.shape as [number, number];
}
