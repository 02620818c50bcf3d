// The one contract between models and LoRA: a model exposes its layers by dotted module path.
// Paths follow PyTorch/PEFT naming ("layers.0.self_attn.q_proj"), so LoRA targets and adapter-file keys
// (`base_model.model.<path>.lora_A.weight`) read the same here as in Python; paths are selected by PEFT's rules
// (peft/tuners/tuners_utils.py check_target_module_exists): exact name or "." + name suffix, or a full-match regex.
import type * as tf from '@tensorflow/tfjs';

/**
 * A model whose every weight lives in a layer of `layers`, addressed by module path.
 * The forward pass looks layers up by path at call time, so replacing an entry (LoRA injection,
 * merge-and-unload) changes the model without rebuilding it.
 */
export interface LayerTree {
  /** Every layer of the model, keyed by module path, in a stable order (insertion order). */
  readonly layers: Map<string, tf.layers.Layer>;
  /** Set by models that stand for a transformers model (see PeftModelInfo); absent for lora-lab's own models. */
  readonly peft?: PeftModelInfo;
}

/**
 * What PEFT reads off a transformers model besides its modules: config.model_type, which picks PEFT's default
 * LoRA targets when target_modules is omitted; the task type of the PeftModel class it belongs in; and
 * name_or_path, which adapter_config.json records as base_model_name_or_path.
 */
export interface PeftModelInfo {
  /** config.json's model_type, e.g. 'gpt2', 'llama'. */
  readonly modelType: string;
  /** PEFT's task_type, e.g. 'CAUSAL_LM'. */
  readonly taskType: string;
  /** The folder or hub id the model was loaded from, or null for a model built in memory. */
  readonly nameOrPath: string | null;
}

/** The layer at `path`, or an error that lists the paths that exist. */
export function getLayer(tree: LayerTree, path: string): tf.layers.Layer {
  const layer = tree.layers.get(path);
  if (layer === undefined) {
    throw new Error(`No layer at '${path}'; layers are: ${[...tree.layers.keys()].join(', ')}`);
  }
  return layer;
}

/** Output heads "all-linear" leaves alone, as PEFT does (its output embedding, or a classifier head). */
export const OUTPUT_HEAD_NAMES: readonly string[] = ['lm_head', 'classifier', 'score'];

/**
 * Whether module `path` is selected, PEFT's rule: a string is a regex full-matched against the path; a list
 * matches a path equal to an entry or ending in "." + entry. ("all-linear" is resolved by `selectPaths`.)
 */
export function matchesTarget(path: string, modules: readonly string[] | string): boolean {
  if (typeof modules === 'string') return new RegExp(`^(?:${modules})$`).test(path);
  return modules.some((t) => path === t || path.endsWith(`.${t}`));
}

/** True for PEFT's "all-linear" shorthand (case-insensitive, as PEFT compares it). */
export function isAllLinear(modules: readonly string[] | string): boolean {
  return typeof modules === 'string' && modules.toLowerCase() === 'all-linear';
}

/**
 * The paths of `tree` that `modules` selects, in the tree's order. "all-linear" takes every layer `isLinear`
 * accepts except an output head. Errors name `what` (e.g. "LoRA target") and list the layers: a list entry that
 * matches nothing, a regex that matches nothing, "all-linear" with nothing to take.
 */
export function selectPaths(
  tree: LayerTree,
  modules: readonly string[] | string,
  isLinear: (layer: tf.layers.Layer) => boolean,
  what: string,
): string[] {
  const paths = [...tree.layers.keys()];
  const listed = `layers are: ${paths.join(', ')}`;
  if (isAllLinear(modules)) {
    const isHead = (p: string) => OUTPUT_HEAD_NAMES.includes(p.slice(p.lastIndexOf('.') + 1));
    const chosen = paths.filter((p) => isLinear(tree.layers.get(p)!) && !isHead(p));
    if (chosen.length === 0) {
      throw new Error(`${what} 'all-linear' found no linear layer besides an output head; ${listed}`);
    }
    return chosen;
  }
  if (typeof modules === 'string') {
    const chosen = paths.filter((p) => matchesTarget(p, modules));
    if (chosen.length === 0) {
      throw new Error(`${what} regex '${modules}' matched no layer (it must match a whole path); ${listed}`);
    }
    return chosen;
  }
  for (const entry of modules) {
    if (!paths.some((p) => matchesTarget(p, [entry]))) {
      throw new Error(`${what} '${entry}' matched no layer; ${listed}`);
    }
  }
  return paths.filter((p) => matchesTarget(p, modules));
}
