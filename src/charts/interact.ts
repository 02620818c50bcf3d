// Interaction for the chart builders, as Vega-Lite params (https://vega.github.io/vega-lite/docs/parameter.html),
// so a reader explores the same spec in JupyterLab and in the book: `pick` (radio buttons over the measured
// x values: a rule at the chosen x and each series' y written beside it) and `zoom` (an x interval bound to the
// scales: wheel zooms, drag pans, double-click resets; with the nearest point's values on hover).
// Static renders (PNG, SVG) show the chart as if nothing were picked.
import type { Row, VegaLiteSpec } from './spec.js';

/** A Vega-Lite encoding channel definition ({ field, type, title, scale, ... }). */
type Channel = Record<string, unknown>;

/** Radio buttons stop being readable past this many choices; such charts get no `pick`. */
export const PICK_MAX_CHOICES = 12;

/** Name of the param bound to the radio buttons; charts concatenated side by side share it. */
export const PICK_PARAM = 'pick';

const datumField = (field: string): string => `datum[${JSON.stringify(field)}]`;

/** The distinct values of `field`, sorted, or undefined when they are too many (or not numbers/strings). */
export function pickChoices(rows: Row[], field: string): (number | string)[] | undefined {
  const isValue = (v: unknown): v is number | string => typeof v === 'number' || typeof v === 'string';
  const values = [...new Set(rows.map((r) => r[field]).filter(isValue))];
  if (values.length < 2 || values.length > PICK_MAX_CHOICES) return undefined;
  return values.every((v) => typeof v === 'number')
    ? (values as number[]).sort((a, b) => a - b)
    : (values as string[]).sort();
}

/** The top-level param of a `pick`: radio buttons over the x values, nothing picked at first. */
export function pickParam(choices: (number | string)[], label: string): Record<string, unknown> {
  return { name: PICK_PARAM, value: null, bind: { input: 'radio', options: choices, name: `${label} ` } };
}

/**
 * Layers that show the picked x: a rule, and the y value of every series beside its point. `x`/`y` are the
 * encodings of the chart's main layer (y already the folded `value` field when there are several series).
 */
export function pickLayers(x: Channel, y: Channel, color?: Channel): VegaLiteSpec[] {
  // Shown by opacity rather than filtered out: a layer with no rows would give its scales an empty extent.
  const picked = (value: number) => ({
    condition: { test: `${datumField(String(x['field']))} == ${PICK_PARAM}`, value },
    value: 0,
  });
  const yField = String(y['field']);
  return [
    { mark: { type: 'rule', color: '#888', strokeDash: [4, 3] }, encoding: { x, opacity: picked(1) } },
    {
      transform: [{ filter: `isValid(${datumField(yField)})` }],
      mark: { type: 'text', align: 'left', dx: 5, dy: -6, fontSize: 11 },
      encoding: {
        x,
        y,
        text: { field: yField, type: 'quantitative', format: '.4~g' },
        ...(color ? { color } : {}),
        opacity: picked(1),
      },
    },
  ];
}

/** The interval selection on x that makes wheel/drag zoom and pan the chart's scales. */
export const zoomParam = (): Record<string, unknown> => ({
  name: 'zoom',
  select: { type: 'interval', encodings: ['x'] },
  bind: 'scales',
});

/** A layer of points that appear under the pointer (the nearest one) with a tooltip of their values. */
export function hoverLayer(x: Channel, y: Channel, color?: Channel): VegaLiteSpec {
  const tooltip = [
    { field: String(x['field']), type: 'quantitative', title: String(x['title'] ?? x['field']) },
    ...(color ? [{ field: String(color['field']), type: 'nominal', title: 'series' }] : []),
    { field: String(y['field']), type: 'quantitative', title: String(y['title'] ?? y['field']), format: '.4~g' },
  ];
  return {
    params: [{ name: 'hover', select: { type: 'point', nearest: true, on: 'pointerover', clear: 'pointerout' } }],
    mark: { type: 'point', filled: true, size: 50 },
    encoding: {
      x,
      y,
      ...(color ? { color } : {}),
      opacity: { condition: { param: 'hover', empty: false, value: 1 }, value: 0 },
      tooltip,
    },
  };
}

/**
 * For charts put side by side: Vega-Lite wants variable params (like `pick`) at the top of the whole spec, so
 * they are lifted out of each part (withoutVariableParams) into one list; parts that pick over the same field
 * then share one set of radio buttons, with every part's choices.
 */
export function liftedParams(parts: VegaLiteSpec[]): Record<string, unknown>[] {
  const params = new Map<string, Record<string, unknown>>();
  for (const p of parts) {
    for (const q of ((p['params'] as Record<string, unknown>[] | undefined) ?? []).filter((q) => !('select' in q))) {
      const name = String(q['name']);
      const seen = params.get(name);
      if (seen === undefined) {
        params.set(name, structuredClone(q));
        continue;
      }
      const a = (seen['bind'] as { options?: unknown[] } | undefined)?.options;
      const b = (q['bind'] as { options?: unknown[] } | undefined)?.options;
      if (a && b) {
        const merged = [...new Set([...a, ...b])];
        (seen['bind'] as { options: unknown[] }).options = merged.every((v) => typeof v === 'number')
          ? (merged as number[]).sort((x, y) => x - y)
          : merged;
      }
    }
  }
  return [...params.values()];
}

/** A part of a concatenated spec keeps its selection params (they live in views) and loses its variable ones. */
export function withoutVariableParams(spec: VegaLiteSpec): VegaLiteSpec {
  const { params, ...rest } = spec;
  const keep = ((params as Record<string, unknown>[] | undefined) ?? []).filter((q) => 'select' in q);
  return keep.length > 0 ? { ...rest, params: keep } : rest;
}
