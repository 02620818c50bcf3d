// A model's weights and trainable flags kept aside before an experiment changes them, and written back after, so
// the next experiment starts from the same base bit for bit (values cloned, so no later write can reach them).
import * as tf from '@tensorflow/tfjs';
import type { LayerTree } from '../models/module.js';

/** Copies every weight and trainable flag of `tree` now; the returned function writes them back once. */
export function snapshotModel(tree: LayerTree): () => void {
  const values = new Map<tf.LayerVariable, tf.Tensor>();
  for (const l of tree.layers.values()) for (const w of l.weights) values.set(w, w.read().clone());
  const flags = new Map<tf.LayerVariable, boolean>([...values.keys()].map((w) => [w, w.trainable]));
  const layerFlags = new Map<tf.layers.Layer, boolean>([...tree.layers.values()].map((l) => [l, l.trainable]));
  let restored = false;
  return () => {
    if (restored) return;
    restored = true;
    for (const [l, on] of layerFlags) l.trainable = on; // sets the weights' flags too: restore those after
    for (const [w, t] of values) {
      w.write(t);
      t.dispose();
      w.trainable = flags.get(w)!;
    }
  };
}
