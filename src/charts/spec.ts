// Vega-Lite specs as plain JSON: small builders for the charts the notebooks and the CLI draw.
// A spec is data only (no functions), so it can be tested as JSON, saved beside results and rendered anywhere.
// Interactive parts (picking an x value, zoom and pan) are Vega-Lite params: see interact.ts.
import {
  hoverLayer, liftedParams, pickChoices, pickLayers, pickParam, PICK_MAX_CHOICES, withoutVariableParams, zoomParam,
} from './interact.js';

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
  /**
   * Radio buttons over the x values (param `pick`): the chosen x gets a rule and each series' y written beside
   * it. Needs 2 to 12 distinct x values. @default true when points are drawn and the x values are that few
   */
  pick?: boolean;
  /** Zoom (wheel) and pan (drag) along x, double-click to reset, the nearest point's values on hover. @default false */
  zoom?: boolean;
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

/**
 * The distinct values of a field in reading order: numbers by value, strings with their numbers compared as
 * numbers ('256×256' before '1024×1024'), so a legend of sizes or ranks reads 2, 4, 8, 16 and not 16, 2, 4, 8.
 */
export function naturalOrder(rows: Row[], field: string): (string | number | boolean)[] {
  const present = (v: Row[string] | undefined): v is string | number | boolean => v !== null && v !== undefined;
  const values = [...new Set(rows.map((r) => r[field]).filter(present))];
  const byText = (a: unknown, b: unknown) => String(a).localeCompare(String(b), 'en', { numeric: true });
  return values.sort((a, b) => (typeof a === 'number' && typeof b === 'number' ? a - b : byText(a, b)));
}

function xyEncoding(
  o: XYOptions,
  xType: 'quantitative' | 'nominal' | 'ordinal',
  rows: Row[] = [],
): Record<string, unknown> {
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
  else if (o.color !== undefined) enc['color'] = { field: o.color, type: 'nominal', sort: naturalOrder(rows, o.color) };
  return enc;
}

/** A tooltip listing the x, colour and y fields of an encoding, under their axis titles. */
function tooltipOf(enc: Record<string, unknown>): Record<string, unknown>[] {
  return ['x', 'color', 'y']
    .map((ch) => enc[ch] as { field?: string; type?: string; title?: unknown } | undefined)
    .filter((c): c is { field: string; type: string; title?: unknown } => c?.field !== undefined)
    .map((c) => ({ field: c.field, type: c.type, ...(typeof c.title === 'string' ? { title: c.title } : {}) }));
}

/** Several y fields become one long table (series, value), the shape Vega-Lite colours by. */
function melt(rows: Row[], o: XYOptions): { values: Row[]; transform?: unknown[] } {
  if (!Array.isArray(o.y)) return { values: rows };
  return { values: rows, transform: [{ fold: o.y, as: ['series', 'value'] }] };
}

/** A line chart (loss curves, metric vs rank, ...); with `pick` or `zoom`, a layered spec with params. */
export function lineChart(rows: Row[], o: XYOptions): VegaLiteSpec {
  const { values, transform } = melt(rows, o);
  const encoding = xyEncoding(o, 'quantitative', rows);
  const mark = { type: 'line', point: o.points ?? false };
  const choices = (o.pick ?? o.points ?? false) ? pickChoices(rows, o.x) : undefined;
  if (o.pick === true && choices === undefined) {
    throw new Error(
      `lineChart pick needs 2 to ${PICK_MAX_CHOICES} distinct values of '${o.x}': use pick: false or zoom: true`,
    );
  }
  const head = { ...base(o), data: { values }, ...(transform ? { transform } : {}) };
  if (choices === undefined && !o.zoom) return { ...head, mark, encoding };
  const x = encoding['x'] as Record<string, unknown>;
  const y = encoding['y'] as Record<string, unknown>;
  const color = encoding['color'] as Record<string, unknown> | undefined;
  const layer: VegaLiteSpec[] = [{ ...(o.zoom ? { params: [zoomParam()] } : {}), mark, encoding }];
  if (o.zoom) layer.push(hoverLayer(x, y, color));
  if (choices) layer.push(...pickLayers(x, y, color));
  return { ...(choices ? { params: [pickParam(choices, o.xTitle ?? o.x)] } : {}), ...head, layer };
}

/** A scatter plot. */
export function scatterChart(rows: Row[], o: XYOptions): VegaLiteSpec {
  const { values, transform } = melt(rows, o);
  return {
    ...base(o),
    data: { values },
    ...(transform ? { transform } : {}),
    mark: { type: 'point', filled: true },
    encoding: xyEncoding(o, 'quantitative', rows),
  };
}

/** A bar chart; x is treated as ordered categories (singular value index, rank, ...). */
export function barChart(rows: Row[], o: XYOptions): VegaLiteSpec {
  const { values, transform } = melt(rows, o);
  const enc = xyEncoding(o, 'ordinal', rows);
  if (Array.isArray(o.y)) enc['xOffset'] = { field: 'series' };
  else if (o.color !== undefined) enc['xOffset'] = { field: o.color, sort: naturalOrder(rows, o.color) };
  enc['tooltip'] = tooltipOf(enc);
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
      tooltip: [
        { field: 'i', type: 'ordinal', title: o.yTitle ?? 'row' },
        { field: 'j', type: 'ordinal', title: o.xTitle ?? 'column' },
        { field: 'v', type: 'quantitative', title: o.valueTitle ?? 'value', format: '.4~g' },
      ],
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

/**
 * A grayscale picture given as rows of brightness values, 1 = white, 0 = black, drawn without axes or legend.
 * Each cell is also stroked in its own colour, which hides the hairline seams a renderer leaves between cells.
 */
export function pictureChart(values: ArrayLike<ArrayLike<number>>, o: ChartOptions = {}): VegaLiteSpec {
  const spec = heatmap(values, { ...o, bare: true });
  // Linear in RGB from black to white, as a PNG of 255·v would be; the 'greys' scheme ends at light and dark grey.
  const scale = { domain: [0, 1], range: ['black', 'white'], interpolate: 'rgb' };
  const gray = { field: 'v', type: 'quantitative', scale, legend: null };
  return {
    ...spec,
    mark: { type: 'rect', strokeWidth: 0.6 },
    encoding: { ...(spec['encoding'] as Record<string, unknown>), color: gray, stroke: gray },
  };
}

/** Charts side by side (`hconcat`) or stacked (`vconcat`), each keeping its own data. */
export function concatCharts(specs: VegaLiteSpec[], direction: 'h' | 'v' = 'h', title?: string): VegaLiteSpec {
  const strip = (s: VegaLiteSpec): VegaLiteSpec => {
    const { $schema: _schema, config: _config, background: _bg, ...rest } = s;
    return withoutVariableParams(rest);
  };
  const params = liftedParams(specs);
  return {
    $schema: SCHEMA,
    background: 'white',
    config: { font: 'DejaVu Sans', view: { stroke: null } },
    ...(title !== undefined ? { title } : {}),
    ...(params.length > 0 ? { params } : {}),
    [direction === 'h' ? 'hconcat' : 'vconcat']: specs.map(strip),
  };
}

/** The common frame of every chart here (size, font, white background, title): for chart builders elsewhere. */
export const chartBase = base;
