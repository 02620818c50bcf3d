// Which layers of a LayerTree a LoRA config wraps, by PEFT's matching rules (peft/tuners/tuners_utils.py
// check_target_module_exists and "all-linear"): exact name or "." + name suffix, or a full-match regex; and, for a
// model that stands for a transformers one, PEFT's defaults when target_modules is omitted
// (peft/tuners/lora/model.py _prepare_adapter_config: TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING).
import { selectPaths, type LayerTree } from '../models/module.js';
import { PEFT_DEFAULT_TARGETS } from '../models/hf/config.js';
import type { LoraConfig, LoraConfigInput } from './config.js';
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

/** PEFT's default target_modules for a model type (e.g. gpt2 → c_attn), or undefined where PEFT has none here. */
export function peftDefaultTargets(modelType: string): readonly string[] | undefined {
  return Object.prototype.hasOwnProperty.call(PEFT_DEFAULT_TARGETS, modelType)
    ? PEFT_DEFAULT_TARGETS[modelType as keyof typeof PEFT_DEFAULT_TARGETS]
    : undefined;
}

/**
 * `config` with what PEFT fills in from the model when the field is omitted (undefined): target_modules from the
 * model type's defaults, task_type, and base_model_name_or_path. Fields given (null included) are kept. A model
 * without PEFT info (lora-lab's own) gets nothing, so loraConfig still asks for target_modules.
 */
export function withModelDefaults(tree: LayerTree, config: LoraConfigInput | LoraConfig): LoraConfigInput | LoraConfig {
  const info = tree.peft;
  if (info === undefined || typeof config !== 'object' || config === null) return config;
  const out: LoraConfigInput = { ...(config as LoraConfigInput) };
  if (out.target_modules === undefined) {
    const targets = peftDefaultTargets(info.modelType);
    if (targets === undefined) {
      throw new Error(
        `target_modules is required: PEFT has no default LoRA targets for model_type '${info.modelType}'; ` +
          `name them, e.g. target_modules: ['q_proj', 'v_proj'] or 'all-linear'`,
      );
    }
    out.target_modules = [...targets];
  }
  if (out.task_type === undefined) out.task_type = info.taskType;
  if (out.base_model_name_or_path === undefined) out.base_model_name_or_path = info.nameOrPath;
  return out;
}
