// Which layers of a LayerTree a LoRA config wraps, by PEFT's matching rules (peft/tuners/tuners_utils.py
// check_target_module_exists and "all-linear"): exact name or "." + name suffix, or a full-match regex.
import { selectPaths, type LayerTree } from '../models/module.js';
import type { LoraConfig } from './config.js';
import { isLinearTarget, loraDims } from './dispatch.js';

/**
 * The module paths `config.target_modules` selects in `tree`, in the tree's order. Errors: a list entry that
 * matches no layer (naming it and listing the layers), a regex that matches nothing, a match whose kind has no
 * LoRA wrapper (naming the kind and the supported ones), "all-linear" on a tree with no linear layer but its head.
 */
export function resolveTargets(tree: LayerTree, config: Pick<LoraConfig, 'target_modules'>): string[] {
  const chosen = selectPaths(tree, config.target_modules, isLinearTarget, 'LoRA target');
  for (const p of chosen) loraDims(tree.layers.get(p)!, p); // throws for a kind without a wrapper or an unbuilt layer
  return chosen;
}
