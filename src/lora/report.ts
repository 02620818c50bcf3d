// The injection report: one row per wrapped module, as a reader checks where LoRA went (PEFT prints only the totals,
// print_trainable_parameters): the checkpoint's module path, the base kind, PEFT's fan_in_fan_out, the shapes of
// lora_A [r, in] and lora_B [out, r] in PEFT's orientation, and the r·(in + out) trainable numbers the module adds.
import type { LoraModel } from './model.js';

/** A plain record (a type, not an interface, so that table helpers taking Record<string, ...> accept it). */
export type InjectionRow = {
  module: string;
  kind: string;
  fan_in_fan_out: boolean;
  lora_A: string;
  lora_B: string;
  params: number;
};

/** One row per module holding adapter `name` (default: the active one), in the model's order. */
export function injectionReport(lora: LoraModel, name?: string): InjectionRow[] {
  const adapter = name ?? lora.activeAdapter;
  if (adapter === null) throw new Error('the model has no adapters: inject one first');
  const r = lora.config(adapter).r;
  const rows: InjectionRow[] = [];
  for (const [module, layer] of lora.loraLayers()) {
    if (!layer.adapterNames.includes(adapter)) continue;
    const [dIn, dOut] = [layer.inFeatures, layer.outFeatures];
    rows.push({
      module, kind: layer.kind, fan_in_fan_out: layer.fanInFanOut, lora_A: `[${r}, ${dIn}]`, lora_B: `[${dOut}, ${r}]`,
      params: r * (dIn + dOut),
    });
  }
  return rows;
}
