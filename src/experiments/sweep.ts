// Sweep helpers for hyperparameter studies (the LoRA paper's Tables 5–6 and 18 at our scale): grids of settings,
// running them one after another with progress, the rank that spends a given parameter budget on a set of target
// modules (Table 5's "same number of trainable parameters"), and summaries of the results.
// Parameter counts follow PEFT: a LoRA on a Dense [in, out] adds r·(in + out) weights (lora_A [r, in], lora_B [out, r]).
import type { LayerTree } from '../models/module.js';
import { resolveTargets } from '../lora/targets.js';
import { loraDims } from '../lora/dispatch.js';
import type { LoraConfig } from '../lora/config.js';

/** Every combination of the axes' values, first axis slowest: grid({ r: [1, 2], lora_dropout: [0, 0.1] }) → 4 points. */
export function grid<T extends Record<string, readonly unknown[]>>(axes: T): { [K in keyof T]: T[K][number] }[] {
  const keys = Object.keys(axes) as (keyof T)[];
  for (const k of keys) {
    if (!Array.isArray(axes[k]) || axes[k].length === 0) {
      throw new Error(`grid axis '${String(k)}' must be a non-empty list of values, got ${JSON.stringify(axes[k])}`);
    }
  }
  let points: Record<string, unknown>[] = [{}];
  for (const k of keys) points = points.flatMap((p) => axes[k]!.map((v) => ({ ...p, [k]: v })));
  return points as { [K in keyof T]: T[K][number] }[];
}

export interface SweepProgress {
  /** 1-based index of the point that just finished. */
  done: number;
  total: number;
  /** The point's settings (untyped here, so a shared progress callback does not steer type inference). */
  point: Record<string, unknown>;
  /** Wall time of that point. */
  ms: number;
}

/**
 * Runs `run` on each point in order (one at a time: runs share the CPU and often the base model) and returns one
 * row per point: the point's fields, then the result's. A failing point stops the sweep with an error naming it.
 */
export async function runSweep<P extends Record<string, unknown>, R extends Record<string, unknown>>(
  points: readonly P[],
  run: (point: P, index: number) => Promise<R>,
  options: { onProgress?: (p: SweepProgress) => void } = {},
): Promise<(P & R)[]> {
  const rows: (P & R)[] = [];
  for (let i = 0; i < points.length; i++) {
    const point = points[i]!;
    const t0 = performance.now();
    let result: R;
    try {
      result = await run(point, i);
    } catch (e) {
      throw new Error(`sweep point ${i + 1}/${points.length} ${JSON.stringify(point)} failed: ${(e as Error).message}`);
    }
    rows.push({ ...point, ...result });
    options.onProgress?.({ done: i + 1, total: points.length, point, ms: performance.now() - t0 });
  }
  return rows;
}

/** Σ over the layers `target_modules` selects of (in + out): a LoRA of rank r there trains r times this. */
export function loraParamsPerRank(tree: LayerTree, target_modules: LoraConfig['target_modules']): number {
  return resolveTargets(tree, { target_modules }).reduce((s, p) => {
    const [dIn, dOut] = loraDims(tree.layers.get(p)!, p);
    return s + dIn + dOut;
  }, 0);
}

/**
 * The rank that spends `budget` trainable parameters on `target_modules` (Table 5 of the LoRA paper: q alone at
 * r = 8, q + v at r = 4, q + k + v + o at r = 2, all with 18M parameters). Throws if the budget is not an exact
 * multiple, so equal-budget comparisons are really equal.
 */
export function rankForBudget(tree: LayerTree, target_modules: LoraConfig['target_modules'], budget: number): number {
  const per = loraParamsPerRank(tree, target_modules);
  const r = budget / per;
  if (!Number.isInteger(r) || r < 1) {
    throw new Error(
      `a budget of ${budget} parameters is not a whole rank on ${JSON.stringify(target_modules)} (${per} per rank, ` +
        `so r = ${r.toFixed(3)}): choose a multiple of ${per}`,
    );
  }
  return r;
}

/** The row with the smallest (or largest) value of `key`. */
export function bestBy<T extends Record<string, unknown>>(rows: readonly T[], key: keyof T, mode: 'min' | 'max' = 'min'): T {
  if (rows.length === 0) throw new Error('bestBy needs at least one row');
  return rows.reduce((best, row) => {
    const a = row[key] as number, b = best[key] as number;
    return (mode === 'min' ? a < b : a > b) ? row : best;
  });
}

/**
 * How much of the possible improvement each row reaches: (baseline − value) / (baseline − best value), in [0, 1]
 * for rows between the baseline and the best (1 = as good as the best row). For losses (lower is better).
 */
export function shareOfBest<T extends Record<string, unknown>>(rows: readonly T[], key: keyof T, baseline: number): number[] {
  const best = Math.min(...rows.map((r) => r[key] as number));
  const span = baseline - best;
  if (!(span > 0)) throw new Error(`no row improves on the baseline ${baseline} (best ${best}): nothing to compare`);
  return rows.map((r) => (baseline - (r[key] as number)) / span);
}
