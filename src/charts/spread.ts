// Results across seeds as one chart: each seed a faint point, the mean a line (or a tick for categories), and
// the min–max range a band (or a rule), so a reader sees at a glance whether two settings' ranges overlap.
import { chartBase, type ChartOptions, type Row, type VegaLiteSpec } from './spec.js';

export interface SpreadOptions extends ChartOptions {
  /** The setting on the x axis (r, α, a variant's name). */
  x: string;
  /** The measured value, one row per seed. */
  y: string;
  /** Field that splits rows into coloured series (several settings on one x axis). */
  color?: string;
  xTitle?: string;
  yTitle?: string;
  /** 'quantitative' draws a band over a numeric x; 'nominal' a rule per category. @default 'quantitative' */
  xType?: 'quantitative' | 'nominal' | 'ordinal';
  logX?: boolean;
  /** For nominal x: order categories by mean value, ascending (best loss first). @default false */
  sortByMean?: boolean;
  /** For nominal x: the angle of the category labels (−30 lets long names sit side by side). @default 0 */
  labelAngle?: number;
}

/** One row per seed in, mean ± min–max range out. */
export function spreadChart(rows: Row[], o: SpreadOptions): VegaLiteSpec {
  const xType = o.xType ?? 'quantitative';
  const numeric = xType === 'quantitative';
  // Vega-Lite cannot sort a layered (unioned) domain by mean, so the order is computed here.
  const sort = !numeric && o.sortByMean ? categoriesByMean(rows, o.x, o.y) : undefined;
  const x = {
    field: o.x,
    type: xType,
    title: o.xTitle ?? o.x,
    ...(o.logX ? { scale: { type: 'log', nice: false }, axis: { values: distinct(rows, o.x) } } : {}),
    ...(sort ? { sort } : {}),
    ...(numeric ? {} : { axis: { labelAngle: o.labelAngle ?? 0 } }),
  };
  const yTitle = o.yTitle ?? o.y;
  const yScale = { scale: { zero: false } };
  const color = o.color !== undefined ? { color: { field: o.color, type: 'nominal', title: o.color } } : {};
  const range = {
    mark: numeric ? { type: 'area', opacity: 0.2 } : { type: 'rule', strokeWidth: 2 },
    encoding: {
      x,
      y: { aggregate: 'min', field: o.y, type: 'quantitative', title: yTitle, ...yScale },
      y2: { aggregate: 'max', field: o.y },
      ...color,
    },
  };
  const mean = {
    mark: numeric ? { type: 'line', point: true } : { type: 'tick', thickness: 3, size: 18 },
    encoding: { x, y: { aggregate: 'mean', field: o.y, type: 'quantitative', title: yTitle, ...yScale }, ...color },
  };
  const seeds = {
    mark: { type: 'point', opacity: 0.45, size: 24 },
    encoding: { x, y: { field: o.y, type: 'quantitative', title: yTitle, ...yScale }, ...color },
  };
  return { ...chartBase(o), data: { values: rows }, layer: [range, mean, seeds] };
}

/** Category values of `x` ordered by the mean of `y`, ascending. */
function categoriesByMean(rows: Row[], x: string, y: string): (string | number | boolean | null)[] {
  const sums = new Map<string | number | boolean | null, [number, number]>();
  for (const r of rows) {
    const k = r[x] ?? null;
    const v = Number(r[y]);
    const [s, n] = sums.get(k) ?? [0, 0];
    sums.set(k, [s + v, n + 1]);
  }
  return [...sums].sort((a, b) => a[1][0] / a[1][1] - b[1][0] / b[1][1]).map(([k]) => k);
}

/** The distinct values of a field, in first-seen order (axis ticks at exactly the settings that ran). */
function distinct(rows: Row[], field: string): (string | number | boolean | null)[] {
  return [...new Set(rows.map((r) => r[field] ?? null))];
}
