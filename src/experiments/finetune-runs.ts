// Settings × seeds for LoRA-versus-full-fine-tuning studies: every setting run at each seed on one base model, each
// run remembered by everything that can change its result, so studies that need the same run (the best learning
// rate of a sweep, reused by the forgetting and intruder studies) share it instead of training it twice. Runs use
// a constant learning rate, so one run's curve also gives every shorter run of the same setting.
import { runFineTune, type FineTuneMethod, type FineTuneOptions, type FineTuneRun } from './finetune-run.js';

/** One setting: what is trained and the options that differ from the runner's. */
export interface FineTuneSetting {
  spec: FineTuneMethod;
  lr: number;
  /** @default the runner's */
  steps?: number;
  /** @default the runner's */
  batchSize?: number;
}

export interface FineTuneRunsProgress {
  /** Runs finished so far in this call (reused ones included), of `total`. */
  done: number;
  total: number;
  /** Runs trained so far by this runner, and answered from an earlier identical run. */
  trained: number;
  reused: number;
  /** Wall time of the run (0 when reused). */
  ms: number;
}

type Base = Omit<FineTuneOptions, 'seed' | 'lr'>;

/** JSON with object keys sorted, so equal settings give equal keys whatever order they were written in. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b, 'en')))
      : v,
  );
}

/** Runs fine-tunes by setting and seed on one base model, remembering each run. */
export class FineTuneRuns {
  private readonly cache = new Map<string, Promise<FineTuneRun>>();
  private trainedRuns = 0;
  private reusedRuns = 0;

  /** `base`: model, tokenizer, task, steps and probes every run shares (a setting may change steps and batch). */
  constructor(readonly base: Base) {}

  /** Runs trained so far, and runs answered from an earlier identical one. */
  get counts(): { trained: number; reused: number } {
    return { trained: this.trainedRuns, reused: this.reusedRuns };
  }

  private key(s: FineTuneSetting, seed: number): string {
    const b = this.base;
    return canonical({
      spec: s.spec, lr: s.lr, seed, steps: s.steps ?? b.steps, batchSize: s.batchSize ?? b.batchSize ?? 16,
      task: b.task.name, warmup: b.warmupSteps ?? 0, evalSteps: b.evalSteps ?? [],
    });
  }

  /** One run at `seed`; an identical earlier run is returned instead of trained again. */
  async run(setting: FineTuneSetting, seed: number): Promise<{ run: FineTuneRun; reused: boolean }> {
    if (!Number.isInteger(seed) || seed < 0) throw new Error(`seed must be a non-negative integer, got ${seed}`);
    const key = this.key(setting, seed);
    const known = this.cache.get(key);
    if (known !== undefined) {
      this.reusedRuns++;
      return { run: await known, reused: true };
    }
    const pending = runFineTune(setting.spec, {
      ...this.base,
      lr: setting.lr,
      seed,
      steps: setting.steps ?? this.base.steps,
      ...(setting.batchSize !== undefined ? { batchSize: setting.batchSize } : {}),
    });
    this.cache.set(key, pending);
    try {
      const run = await pending;
      this.trainedRuns++;
      return { run, reused: false };
    } catch (e) {
      this.cache.delete(key); // a failed run is not remembered
      throw e;
    }
  }

  /**
   * Every point at every seed, point by point: `measure` turns each run into rows (one per curve step, say), each
   * given the point's fields and `seed`. An empty or repeated seed list is an error.
   */
  async rows<P extends Record<string, unknown>, M extends Record<string, unknown>>(
    points: readonly P[],
    seeds: readonly number[],
    setting: (point: P) => FineTuneSetting,
    measure: (run: FineTuneRun, point: P) => M | M[],
    options: { onProgress?: (p: FineTuneRunsProgress) => void } = {},
  ): Promise<(P & { seed: number } & M)[]> {
    if (seeds.length === 0) throw new Error('rows() needs at least one seed, e.g. [0, 1, 2]');
    if (new Set(seeds).size !== seeds.length) throw new Error(`seeds must differ, got ${JSON.stringify(seeds)}`);
    const out: (P & { seed: number } & M)[] = [];
    const total = points.length * seeds.length;
    let done = 0;
    for (const point of points) {
      const s = setting(point);
      for (const seed of seeds) {
        const t0 = performance.now();
        let r: { run: FineTuneRun; reused: boolean };
        try {
          r = await this.run(s, seed);
        } catch (e) {
          throw new Error(`run ${JSON.stringify(point)} at seed ${seed} failed: ${(e as Error).message}`);
        }
        const m = measure(r.run, point);
        for (const row of Array.isArray(m) ? m : [m]) out.push({ ...point, seed, ...row });
        done++;
        options.onProgress?.({
          done, total, ...this.counts, ms: r.reused ? 0 : performance.now() - t0,
        });
      }
    }
    return out;
  }
}
