// Small multiples: one chart repeated per value of a field (a panel per variant), all panels on one shared y scale,
// so series that would overlap as one spaghetti plot are read side by side. Vega-Lite's facet operator over a
// chart built by the other helpers (spreadChart, lineChart, ...); the panels keep that chart's width and height.
import type { VegaLiteSpec } from './spec.js';

export interface SmallMultiplesOptions {
  /** The field whose values make the panels. */
  field: string;
  /** Panels per row. @default 4 */
  columns?: number;
  /** Panel order (values of `field`); default: first-seen order in the data. */
  order?: (string | number)[];
  /** Title over all panels. */
  title?: string;
}

/** The chart `spec` drawn once per value of `options.field`, panels in rows of `columns`, y shared. */
export function smallMultiples(spec: VegaLiteSpec, options: SmallMultiplesOptions): VegaLiteSpec {
  const { $schema, data, config, background, title: _inner, width, height, ...view } = spec;
  const values = (data as { values?: Record<string, unknown>[] } | undefined)?.values;
  if (!Array.isArray(values)) throw new Error('smallMultiples needs a chart with inline data (data.values)');
  const order = options.order ?? [...new Set(values.map((row) => row[options.field]))];
  if (order.length === 0 || values.every((row) => row[options.field] === undefined)) {
    throw new Error(`smallMultiples: no row has the field '${options.field}'`);
  }
  return {
    $schema,
    ...(background !== undefined ? { background } : {}),
    ...(config !== undefined ? { config } : {}),
    ...(options.title !== undefined ? { title: options.title } : {}),
    data,
    facet: { field: options.field, type: 'nominal', title: null, sort: order },
    columns: options.columns ?? 4,
    spec: { width, height, ...view },
    resolve: { scale: { y: 'shared' } },
  };
}
