// The one contract between models and LoRA: a model exposes its layers by dotted module path.
// Paths follow PyTorch/PEFT naming ("layers.0.self_attn.q_proj"), so LoRA targets and adapter-file keys
// (`base_model.model.<path>.lora_A.weight`) read the same here as in Python.
import type * as tf from '@tensorflow/tfjs';

/**
 * A model whose every weight lives in a layer of `layers`, addressed by module path.
 * The forward pass looks layers up by path at call time, so replacing an entry (LoRA injection,
 * merge-and-unload) changes the model without rebuilding it.
 */
export interface LayerTree {
  /** Every layer of the model, keyed by module path, in a stable order (insertion order). */
  readonly layers: Map<string, tf.layers.Layer>;
}

/** The layer at `path`, or an error that lists the paths that exist. */
export function getLayer(tree: LayerTree, path: string): tf.layers.Layer {
  const layer = tree.layers.get(path);
  if (layer === undefined) {
    throw new Error(`No layer at '${path}'; layers are: ${[...tree.layers.keys()].join(', ')}`);
  }
  return layer;
}
