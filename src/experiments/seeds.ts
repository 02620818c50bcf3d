// Settings × seeds: every setting of a comparison run at each of several seeds, one row per run for spreadChart and
// compareSeeds. Seed s fixes the LoRA initialisation (lora_A) and the data order and dropout masks alike. Runs are
// remembered by their full settings, so sections of a notebook that need the same run (the r = 8 point of a rank
// sweep and of an α sweep) share it instead of training it twice. A learning curve (evalSteps) only observes a run,
// so it is not part of the settings: a run with a curve answers a later request without one.
import type { ExperimentOptions, ExperimentResult, ExperimentSpec } from './experiment.js';
import { runExperiment } from './experiment.js';

/** The options a setting may change; the model, tokenizer and seed stay the runner's. */
export type ExperimentOverrides = Partial<Omit<ExperimentOptions, 'model' | 'tokenizer' | 'seed' | 'onProgress'>>;

/** What one setting trains: a spec, and options that differ from the runner's. */
export interface SeedExperiment {
  spec: ExperimentSpec;
  options?: ExperimentOverrides;
}

export interface SeedProgress {
  /** Runs finished in this call (reused ones included), of `total`. */
  done: number;
  total: number;
  /** The point's fields and the seed. */
  point: Record<string, unknown>;
  seed: number;
  /** Wall time of the run (0 when it was reused). */
  ms: number;
  /** True when an earlier identical run was reused. */
  reused: boolean;
}

/** The spec at one seed: the LoRA config's `seed` set (plain LoRA and QLoRA alike). */
function seeded(spec: ExperimentSpec, seed: number): ExperimentSpec {
  if (spec.lora) return { ...spec, lora: { ...spec.lora, seed } };
  if (spec.qlora) return { ...spec, qlora: { ...spec.qlora, config: { ...spec.qlora.config, seed } } };
  return spec; // runExperiment reports the missing lora/qlora
}

/** JSON with object keys sorted, so equal settings give equal keys whatever order they were written in. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

/** Runs experiments by setting and seed on one base model, remembering each run. */
export class SeedRuns {
  private readonly cache = new Map<string, Promise<ExperimentResult>>();
  private trained = 0;
  private reusedRuns = 0;

  /** `base`: the model, tokenizer, task and training options every run starts from (its `seed` is ignored). */
  constructor(readonly base: ExperimentOptions) {}

  /** Runs trained so far, and runs answered from an earlier identical one. */
  get counts(): { trained: number; reused: number } {
    return { trained: this.trained, reused: this.reusedRuns };
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
    const key = this.key(spec, seed, options);
    const known = this.cache.get(key);
    if (known !== undefined) {
      const result = await known;
      if (this.hasCurve(result, options)) {
        this.reusedRuns++;
        return { result, reused: true };
      }
      // the same run, but its curve lacks steps now asked for: train it again, recording them
    }
    const pending = runExperiment(seeded(spec, seed), { ...this.base, ...options, seed });
    this.cache.set(key, pending);
    try {
      const result = await pending;
      this.trained++;
      return { result, reused: false };
    } catch (e) {
      this.cache.delete(key); // a failed run is not remembered
      throw e;
    }
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
    if (seeds.length === 0) throw new Error('rows() needs at least one seed, e.g. [0, 1, 2]');
    if (new Set(seeds).size !== seeds.length) throw new Error(`seeds must differ, got ${JSON.stringify(seeds)}`);
    const out: (P & { seed: number } & M)[] = [];
    const total = points.length * seeds.length;
    for (const point of points) {
      const { spec, options: overrides } = experiment(point);
      for (const seed of seeds) {
        const t0 = performance.now();
        let run: { result: ExperimentResult; reused: boolean };
        try {
          run = await this.run(spec, seed, overrides);
        } catch (e) {
          throw new Error(`run ${JSON.stringify(point)} at seed ${seed} failed: ${(e as Error).message}`);
        }
        out.push({ ...point, seed, ...measure(run.result, point) });
        options.onProgress?.({
          done: out.length,
          total,
          point,
          seed,
          ms: run.reused ? 0 : performance.now() - t0,
          reused: run.reused,
        });
      }
    }
    return out;
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
