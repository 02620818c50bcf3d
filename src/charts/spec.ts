// Vega-Lite specs as plain JSON: small builders for the charts the notebooks and the CLI draw.
// A spec is data only (no functions), so it can be tested as JSON, saved beside results and rendered anywhere.

/** A Vega-Lite v5 spec: plain JSON. */
export type VegaLiteSpec = Record<string, unknown>;
export type Row = Record<string, string | number | boolean | null>;

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v5.json';

export interface ChartOptions {
  /** Chart title. */
  title?: string;
  /** Plot width in px. @default 420 */
  width?: number;
  /** Plot height in px. @default 260 */
  height?: number;
}

export interface XYOptions extends ChartOptions {
  /** Field for the x axis. */
  x: string;
  /** Field (or fields, drawn as one series each) for the y axis. */
  y: string | string[];
  /** Field that splits rows into coloured series (ignored when y lists several fields). */
  color?: string;
  /** Axis titles; default to the field names. */
  xTitle?: string;
  yTitle?: string;
  /** Log-scaled axes. */
  logX?: boolean;
  logY?: boolean;
  /** Draw points on the line. @default false */
  points?: boolean;
}

function base(options: ChartOptions): VegaLiteSpec {
  const spec: VegaLiteSpec = {
    $schema: SCHEMA,
    width: options.width ?? 420,
    height: options.height ?? 260,
    background: 'white',
    config: { font: 'DejaVu Sans', view: { stroke: null } },
  };
  if (options.title !== undefined) spec['title'] = options.title;
  return spec;
}

function xyEncoding(o: XYOptions, xType: 'quantitative' | 'nominal' | 'ordinal'): Record<string, unknown> {
  const multi = Array.isArray(o.y);
  const enc: Record<string, unknown> = {
    x: { field: o.x, type: xType, title: o.xTitle ?? o.x, ...(o.logX ? { scale: { type: 'log' } } : {}) },
    y: {
      field: multi ? 'value' : o.y,
      type: 'quantitative',
      title: o.yTitle ?? (multi ? 'value' : o.y),
      ...(o.logY ? { scale: { type: 'log' } } : {}),
    },
  };
  if (multi) enc['color'] = { field: 'series', type: 'nominal', title: null };
  else if (o.color !== undefined) enc['color'] = { field: o.color, type: 'nominal' };
  return enc;
}

/** Several y fields become one long table (series, value), the shape Vega-Lite colours by. */
function melt(rows: Row[], o: XYOptions): { values: Row[]; transform?: unknown[] } {
  if (!Array.isArray(o.y)) return { values: rows };
  return { values: rows, transform: [{ fold: o.y, as: ['series', 'value'] }] };
}

/** A line chart (loss curves, metric vs rank, ...). */
export function lineChart(rows: Row[], o: XYOptions): VegaLiteSpec {
  const { values, transform } = melt(rows, o);
  return {
    ...base(o),
    data: { values },
    ...(transform ? { transform } : {}),
    mark: { type: 'line', point: o.points ?? false },
    encoding: xyEncoding(o, 'quantitative'),
  };
}

/** A scatter plot. */
export function scatterChart(rows: Row[], o: XYOptions): VegaLiteSpec {
  const { values, transform } = melt(rows, o);
  return {
    ...base(o),
    data: { values },
    ...(transform ? { transform } : {}),
    mark: { type: 'point', filled: true },
    encoding: xyEncoding(o, 'quantitative'),
  };
}

/** A bar chart; x is treated as ordered categories (singular value index, rank, ...). */
export function barChart(rows: Row[], o: XYOptions): VegaLiteSpec {
  const { values, transform } = melt(rows, o);
  const enc = xyEncoding(o, 'ordinal');
  if (Array.isArray(o.y) || o.color !== undefined) enc['xOffset'] = { field: Array.isArray(o.y) ? 'series' : o.color };
  return { ...base(o), data: { values }, ...(transform ? { transform } : {}), mark: 'bar', encoding: enc };
}

export interface HeatmapOptions extends ChartOptions {
  /** Colour scheme name from Vega. @default 'viridis' */
  scheme?: string;
  /** Fixed colour domain [min, max]; default: the data's range. */
  domain?: [number, number];
  /** Titles for the axes and the colour legend. */
  xTitle?: string;
  yTitle?: string;
  valueTitle?: string;
  /** Hide axes and legend (for pictures). @default false */
  bare?: boolean;
}

/** A heatmap of a matrix given as rows of numbers: cell (i, j) at row i (top to bottom), column j. */
export function heatmap(values: ArrayLike<ArrayLike<number>>, o: HeatmapOptions = {}): VegaLiteSpec {
  const rows: Row[] = [];
  for (let i = 0; i < values.length; i++) {
    const row = values[i]!;
    for (let j = 0; j < row.length; j++) rows.push({ i, j, v: row[j]! });
  }
  const axis = o.bare ? null : {};
  return {
    ...base(o),
    data: { values: rows },
    mark: 'rect',
    encoding: {
      x: { field: 'j', type: 'ordinal', title: o.xTitle ?? 'column', axis: axis && { labels: false, ticks: false } },
      y: { field: 'i', type: 'ordinal', title: o.yTitle ?? 'row', axis: axis && { labels: false, ticks: false } },
      color: {
        field: 'v',
        type: 'quantitative',
        title: o.valueTitle ?? 'value',
        scale: { scheme: o.scheme ?? 'viridis', ...(o.domain ? { domain: o.domain } : {}) },
        ...(o.bare ? { legend: null } : {}),
      },
    },
  };
}

/** Charts side by side (`hconcat`) or stacked (`vconcat`), each keeping its own data. */
export function concatCharts(specs: VegaLiteSpec[], direction: 'h' | 'v' = 'h', title?: string): VegaLiteSpec {
  const strip = (s: VegaLiteSpec): VegaLiteSpec => {
    const { $schema: _schema, config: _config, background: _bg, ...rest } = s;
    return rest;
  };
  return {
    $schema: SCHEMA,
    background: 'white',
    config: { font: 'DejaVu Sans', view: { stroke: null } },
    ...(title !== undefined ? { title } : {}),
    [direction === 'h' ? 'hconcat' : 'vconcat']: specs.map(strip),
  };
}

/** The common frame of every chart here (size, font, white background, title): for chart builders elsewhere. */
export const chartBase = base;
