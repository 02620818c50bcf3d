// Settings × seeds: every setting of a comparison run at each of several seeds, one row per run for spreadChart and
// compareSeeds. Seed s fixes the LoRA initialisation (lora_A) and the data order and dropout masks alike. Runs are
// remembered by their full settings, so sections of a notebook that need the same run (the r = 8 point of a rank
// sweep and of an α sweep) share it instead of training it twice. A learning curve (evalSteps) only observes a run,
// so it is not part of the settings: a run with a curve answers a later request without one.
import type { ExperimentOptions, ExperimentResult, ExperimentSpec } from './experiment.js';
import { runExperiment } from './experiment.js';
import { canonical, RunMemo, seedRows, type SeedRowsStep } from './seed-rows.js';

/** The options a setting may change; the model, tokenizer and seed stay the runner's. */
export type ExperimentOverrides = Partial<Omit<ExperimentOptions, 'model' | 'tokenizer' | 'seed' | 'onProgress'>>;

/** What one setting trains: a spec, and options that differ from the runner's. */
export interface SeedExperiment {
  spec: ExperimentSpec;
  options?: ExperimentOverrides;
}

/** One finished run: its point, seed, wall time (0 when reused) and the count so far. */
export type SeedProgress = SeedRowsStep;

/** The spec at one seed: the LoRA config's `seed` set (plain LoRA and QLoRA alike). */
function seeded(spec: ExperimentSpec, seed: number): ExperimentSpec {
  if (spec.lora) return { ...spec, lora: { ...spec.lora, seed } };
  if (spec.qlora) return { ...spec, qlora: { ...spec.qlora, config: { ...spec.qlora.config, seed } } };
  return spec; // runExperiment reports the missing lora/qlora
}


/** Runs experiments by setting and seed on one base model, remembering each run. */
export class SeedRuns {
  private readonly memo = new RunMemo<ExperimentResult>();

  /** `base`: the model, tokenizer, task and training options every run starts from (its `seed` is ignored). */
  constructor(readonly base: ExperimentOptions) {}

  /** Runs trained so far, and runs answered from an earlier identical one. */
  get counts(): { trained: number; reused: number } {
    return this.memo.counts;
  }

  /** The key a run is remembered by: everything that can change its training (not the curve that observes it). */
  private key(spec: ExperimentSpec, seed: number, options: ExperimentOverrides): string {
    const { model: _m, tokenizer: _t, onProgress: _p, evalSteps: _e, task, ...rest } = { ...this.base, ...options };
    return canonical({ spec: seeded(spec, seed), seed, task: task.name, ...rest });
  }

  /** True when `result` recorded every step of the curve these options ask for. */
  private hasCurve(result: ExperimentResult, options: ExperimentOverrides): boolean {
    const wanted = options.evalSteps ?? this.base.evalSteps ?? [];
    const have = new Set((result.curve ?? []).map((p) => p.step));
    return wanted.every((s) => have.has(s));
  }

  /** One run at `seed`; an identical earlier run (same spec, seed and options) is returned instead of retrained. */
  async run(spec: ExperimentSpec, seed: number, options: ExperimentOverrides = {}): Promise<{ result: ExperimentResult; reused: boolean }> {
    if (!Number.isInteger(seed) || seed < 0) throw new Error(`seed must be a non-negative integer, got ${seed}`);
    // a known run whose curve lacks steps now asked for is trained again, recording them
    return this.memo.get(
      this.key(spec, seed, options),
      () => runExperiment(seeded(spec, seed), { ...this.base, ...options, seed }),
      (known) => this.hasCurve(known, options),
    );
  }

  /**
   * Every point at every seed (point by point, seeds in order): one row per run with the point's fields, `seed`,
   * then what `measure` reads off the result. Fewer than 1 seed, or a repeated seed, is an error.
   */
  async rows<P extends Record<string, unknown>, M extends Record<string, unknown>>(
    points: readonly P[],
    seeds: readonly number[],
    experiment: (point: P) => SeedExperiment,
    measure: (result: ExperimentResult, point: P) => M,
    options: { onProgress?: (p: SeedProgress) => void } = {},
  ): Promise<(P & { seed: number } & M)[]> {
    return seedRows<P, ExperimentResult, M>(
      points,
      seeds,
      (point, seed) => {
        const { spec, options: overrides } = experiment(point);
        return this.run(spec, seed, overrides);
      },
      measure,
      options.onProgress,
    );
  }
}

/** The values of `field` in the rows whose fields equal `where`'s (e.g. one setting's seeds), in row order. */
export function seedValues<R extends Record<string, unknown>>(rows: readonly R[], where: Partial<R>, field: keyof R): number[] {
  const match = rows.filter((row) => Object.entries(where).every(([k, v]) => row[k] === v));
  if (match.length === 0) throw new Error(`no row has ${JSON.stringify(where)}`);
  return match.map((row) => {
    const v = row[field];
    if (typeof v !== 'number') throw new Error(`row field '${String(field)}' is ${JSON.stringify(v)}, not a number`);
    return v;
  });
}
