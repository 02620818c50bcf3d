// What the optimizer updates: parameter groups (variables sharing a learning-rate scale; LoRA+ gives lora_B a larger
// one, Hayou et al. 2024), and every weight of a LayerTree for full fine-tuning.
import * as tf from '@tensorflow/tfjs';

/** Variables that share a learning-rate scale. LoraModel.paramGroups() returns these. */
export interface ParamGroup {
  /** e.g. PEFT's LoRA+ names "groupA" (lora_A) and "groupB" (lora_B and 1-D weights). */
  name: string;
  variables: tf.Variable[];
  /** Multiply the base learning rate by this for the group. */
  lrScale: number;
}

/** Turns a flat variable list into one group with lrScale 1. */
export function asParamGroups(params: tf.Variable[] | ParamGroup[]): ParamGroup[] {
  if (params.length === 0) throw new Error('nothing to train: the parameter list is empty');
  // By shape, not `instanceof tf.Variable`: the caller's tf may be another copy of the module.
  return 'variables' in params[0]!
    ? (params as ParamGroup[])
    : [{ name: 'params', variables: params as tf.Variable[], lrScale: 1 }];
}

/** Every weight of a LayerTree as the tf.Variables an optimizer updates (full training). */
export function allVariables(tree: { layers: Map<string, tf.layers.Layer> }): tf.Variable[] {
  return [...tree.layers.values()].flatMap((l) => l.weights.map((w) => w.read() as tf.Variable));
}
