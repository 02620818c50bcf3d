// Floating-point operations of one forward call of a linear layer, read from the layer itself (Hu et al. 2021,
// §4.1: a merged LoRA layer costs what its base costs). A product [N, in]·[in, out] is N·in·out multiply-adds =
// 2·N·in·out FLOPs; bias adds and activations are left out. LoRA's branch, (x·Aᵀ)·Bᵀ with A [r, in], B [out, r],
// adds 2·N·r·(in + out) while it runs, i.e. while its adapter is active, enabled and not merged into the base.
import type * as tf from '@tensorflow/tfjs';
import { isLoraLayer } from '../lora/lora-layer.js';
import { linearParts } from '../models/linear.js';

/** FLOPs (2 per multiply-add) of one forward call of a Dense/Conv1D layer, or of a LoRA layer over one, on `batch` rows. */
export function linearForwardFlops(layer: tf.layers.Layer, batch: number): number {
  if (!Number.isInteger(batch) || batch < 1) {
    throw new Error(`batch must be a positive integer (rows per call), got ${String(batch)}: e.g. 64`);
  }
  if (!isLoraLayer(layer)) {
    const { inFeatures, outFeatures } = linearParts(layer); // throws naming the layer for other kinds
    return 2 * batch * inFeatures * outFeatures;
  }
  if (layer.kind !== 'dense' && layer.kind !== 'conv1d') {
    throw new Error(`linearForwardFlops counts linear layers; '${layer.name}' is a LoRA layer of kind '${layer.kind}'`);
  }
  const base = linearForwardFlops(layer.base, batch);
  const active = layer.activeAdapter;
  const live = active !== null && !layer.disabled && layer.adapterNames.includes(active) &&
    !layer.mergedAdapters.includes(active);
  if (!live) return base;
  const config = layer.adapter(active).config;
  if (config.use_dora) {
    throw new Error(`linearForwardFlops does not count DoRA's row norms ('${layer.name}'): merge the adapter first`);
  }
  return base + 2 * batch * config.r * (layer.inFeatures + layer.outFeatures);
}
