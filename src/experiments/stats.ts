// Results across seeds, and the rule the notebooks use before calling one setting better than another: with at
// least 3 seeds each, a setting "beats" another only when every seed of it did better than every seed of the
// other (the min–max ranges do not overlap); anything else is "no difference at this scale".
export interface Spread {
  readonly n: number;
  readonly mean: number;
  readonly min: number;
  readonly max: number;
  /** max − min. */
  readonly range: number;
  readonly values: readonly number[];
}

/** The fewest seeds a comparison may rest on. */
export const MIN_SEEDS = 3;

/** Mean, min and max of finite values; an empty or non-finite input is an error naming it. */
export function spread(values: readonly number[]): Spread {
  if (values.length === 0) throw new Error('spread of no values: run at least one seed');
  const bad = values.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new Error(`spread: value ${bad} is ${values[bad]}, not a finite number`);
  const min = Math.min(...values);
  const max = Math.max(...values);
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  return { n: values.length, mean, min, max, range: max - min, values: [...values] };
}

/** The median (the mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of no values');
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export interface Comparison {
  readonly a: Spread;
  readonly b: Spread;
  /** mean(a) − mean(b). */
  readonly diff: number;
  /** Every seed of one is better than every seed of the other. */
  readonly separated: boolean;
  /** 'a' or 'b' when separated, else null ("no difference at this scale"). */
  readonly better: 'a' | 'b' | null;
  /** How the comparison was judged: true for losses, false for accuracies. */
  readonly lowerIsBetter: boolean;
}

/**
 * Compares two settings' per-seed results. `lowerIsBetter` for losses, false for accuracies. Fewer than
 * MIN_SEEDS values on either side is an error: one or two seeds cannot tell an effect from noise.
 */
export function compareSeeds(a: readonly number[], b: readonly number[], options: { lowerIsBetter: boolean }): Comparison {
  for (const [name, v] of [['a', a], ['b', b]] as const) {
    if (v.length < MIN_SEEDS) {
      throw new Error(`compareSeeds: '${name}' has ${v.length} seed(s); a comparison needs at least ${MIN_SEEDS}: run more seeds`);
    }
  }
  const sa = spread(a);
  const sb = spread(b);
  const aWins = options.lowerIsBetter ? sa.max < sb.min : sa.min > sb.max;
  const bWins = options.lowerIsBetter ? sb.max < sa.min : sb.min > sa.max;
  return {
    a: sa,
    b: sb,
    diff: sa.mean - sb.mean,
    separated: aWins || bWins,
    better: aWins ? 'a' : bWins ? 'b' : null,
    lowerIsBetter: options.lowerIsBetter,
  };
}

/** Groups rows by `key` and summarises `value` per group, in first-seen order. */
export function spreadBy<R extends Record<string, unknown>, K extends keyof R>(rows: readonly R[], key: K, value: keyof R): Map<R[K], Spread> {
  const groups = new Map<R[K], number[]>();
  for (const row of rows) {
    const v = row[value];
    if (typeof v !== 'number') throw new Error(`spreadBy: row field '${String(value)}' is ${JSON.stringify(v)}, not a number`);
    const k = row[key];
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k)!.push(v);
  }
  return new Map([...groups].map(([k, vs]) => [k, spread(vs)]));
}

/**
 * One line saying what a comparison shows, means with their min–max ranges:
 * "r = 8 0.42 [0.26, 0.53] vs r = 2 2.45 [2.38, 2.51]: r = 8 lower, beyond the seeds' spread", or
 * "...: no difference at this scale (the ranges overlap)".
 */
export function describeComparison(c: Comparison, labels: readonly [string, string], options: { digits?: number } = {}): string {
  const d = options.digits ?? 2;
  const one = (label: string, s: Spread) => `${label} ${s.mean.toFixed(d)} [${s.min.toFixed(d)}, ${s.max.toFixed(d)}]`;
  const head = `${one(labels[0], c.a)} vs ${one(labels[1], c.b)}`;
  if (c.better === null) return `${head}: no difference at this scale (the ranges overlap)`;
  const winner = c.better === 'a' ? labels[0] : labels[1];
  return `${head}: ${winner} ${c.lowerIsBetter ? 'lower' : 'higher'}, beyond the seeds' spread`;
}

/**
 * One row per group of `rows` (the fields in `by`, first-seen order) with, for each of `fields`, the mean over the
 * group's seeds and its min–max range as text ("0.26–0.53"): a table of what a seed chart shows.
 */
export function seedSummary<R extends Record<string, unknown>>(
  rows: readonly R[],
  by: readonly (keyof R & string)[],
  fields: readonly (keyof R & string)[],
  options: { digits?: number } = {},
): Record<string, string | number | boolean | null>[] {
  const d = options.digits ?? 3;
  const groups = new Map<string, R[]>();
  for (const row of rows) {
    const k = JSON.stringify(by.map((f) => row[f]));
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k)!.push(row);
  }
  return [...groups.values()].map((group) => {
    const out: Record<string, string | number | boolean | null> = {};
    for (const f of by) out[f] = group[0]![f] as string | number | boolean | null;
    out['seeds'] = group.length;
    for (const f of fields) {
      const s = spread(group.map((row) => {
        const v = row[f];
        if (typeof v !== 'number') throw new Error(`seedSummary: field '${f}' is ${JSON.stringify(v)}, not a number`);
        return v;
      }));
      out[f] = Number(s.mean.toPrecision(d));
      out[`${f} range`] = `${Number(s.min.toPrecision(d))}–${Number(s.max.toPrecision(d))}`;
    }
    return out;
  });
}

/**
 * The settings (values of `key`) that no other setting in `rows` beat beyond the seeds' spread on `value`, in
 * first-seen order: the ones a notebook may call "among the best". Each needs at least MIN_SEEDS rows.
 */
export function unbeaten<R extends Record<string, unknown>, K extends keyof R>(
  rows: readonly R[],
  key: K,
  value: keyof R,
  options: { lowerIsBetter: boolean },
): R[K][] {
  const groups = spreadBy(rows, key, value);
  const values = new Map([...groups].map(([k, s]) => [k, s.values]));
  return [...values.keys()].filter((k) =>
    [...values.keys()].every((other) => other === k || compareSeeds(values.get(other)!, values.get(k)!, options).better !== 'a'),
  );
}
