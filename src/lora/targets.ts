// Which layers of a LayerTree a LoRA config wraps, by PEFT's matching rules (peft/tuners/tuners_utils.py
// check_target_module_exists and "all-linear"): exact name or "." + name suffix, or a full-match regex.
import type * as tf from '@tensorflow/tfjs';
import type { LayerTree } from '../models/module.js';
import { isAllLinear, matchesTarget, OUTPUT_HEAD_NAMES, type LoraConfig } from './config.js';
import { isDense, LoraDense } from './layer.js';

/** A Dense layer, or one already wrapped by LoRA (a later adapter can target it too). */
export function isLinearLayer(layer: tf.layers.Layer): boolean {
  return layer instanceof LoraDense || isDense(layer);
}

function listPaths(tree: LayerTree): string {
  return [...tree.layers.keys()].join(', ');
}

/**
 * The module paths `config.target_modules` selects in `tree`, in the tree's order. Errors: a list entry that
 * matches no layer (naming it and listing the layers), a regex that matches nothing, a match that is not a
 * Dense layer, "all-linear" on a tree with no Dense layer but its head.
 */
export function resolveTargets(tree: LayerTree, config: Pick<LoraConfig, 'target_modules'>): string[] {
  const paths = [...tree.layers.keys()];
  const t = config.target_modules;
  let chosen: string[];
  if (isAllLinear(t)) {
    // PEFT: every linear layer except the output layer (its output embedding or a classifier head).
    chosen = paths.filter((p) => {
      const last = p.slice(p.lastIndexOf('.') + 1);
      return isLinearLayer(tree.layers.get(p)!) && !OUTPUT_HEAD_NAMES.includes(last);
    });
    if (chosen.length === 0) {
      throw new Error(`LoRA target 'all-linear' found no Dense layer besides an output head; layers are: ${listPaths(tree)}`);
    }
  } else if (typeof t === 'string') {
    chosen = paths.filter((p) => matchesTarget(p, t));
    if (chosen.length === 0) {
      throw new Error(`LoRA target regex '${t}' matched no layer (it must match a whole path); layers are: ${listPaths(tree)}`);
    }
  } else {
    for (const entry of t) {
      if (!paths.some((p) => matchesTarget(p, [entry]))) {
        throw new Error(`LoRA target '${entry}' matched no layer; layers are: ${listPaths(tree)}`);
      }
    }
    chosen = paths.filter((p) => matchesTarget(p, t));
  }
  for (const p of chosen) {
    const layer = tree.layers.get(p)!;
    if (!isLinearLayer(layer)) {
      throw new Error(`LoRA target matched '${p}', a ${layer.getClassName()} layer; LoRA wraps Dense layers only: narrow target_modules`);
    }
  }
  return chosen;
}
