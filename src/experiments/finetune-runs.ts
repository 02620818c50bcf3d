// Settings × seeds for LoRA-versus-full-fine-tuning studies: every setting run at each seed on one base model, each
// run remembered by everything that can change its result, so studies that need the same run (the best learning
// rate of a sweep, reused by the forgetting and intruder studies) share it instead of training it twice. Runs use
// a constant learning rate, so one run's curve also gives every shorter run of the same setting.
import { runFineTune, type FineTuneMethod, type FineTuneOptions, type FineTuneRun } from './finetune-run.js';
import { canonical, RunMemo, seedRows } from './seed-rows.js';

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


/** Runs fine-tunes by setting and seed on one base model, remembering each run. */
export class FineTuneRuns {
  private readonly memo = new RunMemo<FineTuneRun>();

  /** `base`: model, tokenizer, task, steps and probes every run shares (a setting may change steps and batch). */
  constructor(readonly base: Base) {}

  /** Runs trained so far, and runs answered from an earlier identical one. */
  get counts(): { trained: number; reused: number } {
    return this.memo.counts;
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
    const { result, reused } = await this.memo.get(this.key(setting, seed), () =>
      runFineTune(setting.spec, {
        ...this.base,
        lr: setting.lr,
        seed,
        steps: setting.steps ?? this.base.steps,
        ...(setting.batchSize !== undefined ? { batchSize: setting.batchSize } : {}),
      }));
    return { run: result, reused };
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
    return seedRows(
      points,
      seeds,
      async (point, seed) => {
        const { run, reused } = await this.run(setting(point), seed);
        return { result: run, reused };
      },
      measure,
      (step) => options.onProgress?.({ done: step.done, total: step.total, ...this.counts, ms: step.ms }),
    );
  }
}
