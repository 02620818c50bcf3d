// Parameter counts of a dense layer and its LoRA update ΔW = B·A (Hu et al. 2021, §4.1), in PEFT's
// orientation: weight W [d_out, d_in], lora_A [r, d_in], lora_B [d_out, r].
import { assertPositiveInt } from './validate.js';

export interface ParamCounts {
  /** d_out·d_in: what full fine-tuning trains in this layer. */
  readonly full: number;
  /** r·d_in: lora_A, the input-side "down" projection. */
  readonly loraA: number;
  /** d_out·r: lora_B, the output-side "up" projection. */
  readonly loraB: number;
  /** loraA + loraB = r·(d_in + d_out). */
  readonly lora: number;
  /** lora / full, e.g. 0.03125 for 1024×1024 at r = 16. */
  readonly ratio: number;
}

export function paramCounts(dOut: number, dIn: number, r: number): ParamCounts {
  assertPositiveInt(dOut, 'dOut', 1024);
  assertPositiveInt(dIn, 'dIn', 1024);
  assertPositiveInt(r, 'r', 8);
  const full = dOut * dIn;
  const loraA = r * dIn;
  const loraB = dOut * r;
  const lora = loraA + loraB;
  return { full, loraA, loraB, lora, ratio: lora / full };
}
