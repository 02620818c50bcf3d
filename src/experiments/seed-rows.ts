// The settings × seeds loop that SeedRuns and FineTuneRuns share: every point at every seed (point by point, seeds
// in order), each run turned into one or more rows carrying the point's fields and `seed`, with a report per run.
// The runners differ in what a run is and how identical runs are found; the loop, the memo of runs by key and the
// key itself are the same.

/** One finished run, as the loop reports it. */
export interface SeedRowsStep {
  /** Runs finished so far in this call (reused ones included), of `total`. */
  done: number;
  total: number;
  point: Record<string, unknown>;
  seed: number;
  /** Wall time of the run (0 when an earlier identical run was reused). */
  ms: number;
  reused: boolean;
}

/**
 * The rows of `points` × `seeds`. An empty or repeated seed list is an error; a failed run names its point and
 * seed.
 */
export async function seedRows<P extends Record<string, unknown>, R, M extends Record<string, unknown>>(
  points: readonly P[],
  seeds: readonly number[],
  run: (point: P, seed: number) => Promise<{ result: R; reused: boolean }>,
  measure: (result: R, point: P) => M | M[],
  onRun?: (step: SeedRowsStep) => void,
): Promise<(P & { seed: number } & M)[]> {
  if (seeds.length === 0) throw new Error('rows() needs at least one seed, e.g. [0, 1, 2]');
  if (new Set(seeds).size !== seeds.length) throw new Error(`seeds must differ, got ${JSON.stringify(seeds)}`);
  const out: (P & { seed: number } & M)[] = [];
  const total = points.length * seeds.length;
  let done = 0;
  for (const point of points) {
    for (const seed of seeds) {
      const t0 = performance.now();
      let r: { result: R; reused: boolean };
      try {
        r = await run(point, seed);
      } catch (e) {
        throw new Error(`run ${JSON.stringify(point)} at seed ${seed} failed: ${(e as Error).message}`);
      }
      const m = measure(r.result, point);
      for (const row of Array.isArray(m) ? m : [m]) out.push({ ...point, seed, ...row });
      done++;
      onRun?.({ done, total, point, seed, ms: r.reused ? 0 : performance.now() - t0, reused: r.reused });
    }
  }
  return out;
}

/**
 * Runs remembered by a key: an identical earlier run (same key, and `usable` when given) is answered without training
 * it again; runs in flight are shared too; a failed run is forgotten so it can be retried.
 */
export class RunMemo<R> {
  private readonly cache = new Map<string, Promise<R>>();
  private trained = 0;
  private reused = 0;

  /** Runs trained so far, and runs answered from an earlier identical one. */
  get counts(): { trained: number; reused: number } {
    return { trained: this.trained, reused: this.reused };
  }

  async get(
    key: string,
    make: () => Promise<R>,
    usable: (known: R) => boolean = () => true,
  ): Promise<{ result: R; reused: boolean }> {
    const known = this.cache.get(key);
    if (known !== undefined) {
      const result = await known;
      if (usable(result)) {
        this.reused++;
        return { result, reused: true };
      }
    }
    const pending = make();
    this.cache.set(key, pending);
    try {
      const result = await pending;
      this.trained++;
      return { result, reused: false };
    } catch (e) {
      this.cache.delete(key);
      throw e;
    }
  }
}

/** JSON with object keys sorted, so equal settings give equal keys whatever order they were written in. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
        Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
      )
      : v,
  );
}
