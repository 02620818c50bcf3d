// Chart specs are plain JSON with the fields Vega-Lite needs; rendering yields a real SVG and a real PNG.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vega from 'vega';
import { compile } from 'vega-lite';
import { barChart, concatCharts, heatmap, lineChart, pictureChart, renderPng, renderSvg, saveChart } from '../src/charts/index.js';
import { progressChart } from '../src/notebook/progress.js';

const rows = [
  { step: 1, loss: 2.0, val: 2.1 },
  { step: 2, loss: 1.0, val: 1.4 },
];

describe('chart specs', () => {
  it('a line chart is JSON that survives a round trip', () => {
    const spec = lineChart(rows, { x: 'step', y: 'loss', title: 'Loss' });
    assert.deepEqual(JSON.parse(JSON.stringify(spec)), spec);
    assert.equal(spec['$schema'], 'https://vega.github.io/schema/vega-lite/v5.json');
    assert.deepEqual(spec['data'], { values: rows });
    assert.deepEqual((spec['encoding'] as Record<string, unknown>)['y'], { field: 'loss', type: 'quantitative', title: 'loss' });
    assert.equal(spec['title'], 'Loss');
  });

  it('several y fields fold into (series, value) coloured by series', () => {
    const spec = lineChart(rows, { x: 'step', y: ['loss', 'val'] });
    assert.deepEqual(spec['transform'], [{ fold: ['loss', 'val'], as: ['series', 'value'] }]);
    assert.deepEqual((spec['encoding'] as Record<string, { field: string }>)['color']!.field, 'series');
  });

  it('a heatmap has one cell per matrix entry at (row i, column j)', () => {
    const spec = heatmap([[1, 2, 3], [4, 5, 6]]);
    const values = (spec['data'] as { values: { i: number; j: number; v: number }[] }).values;
    assert.equal(values.length, 6);
    assert.deepEqual(values[5], { i: 1, j: 2, v: 6 });
  });

  it('a picture is a grey heatmap without axes or legend: 1 white, 0 black, each cell stroked in its own grey', async () => {
    const spec = pictureChart([[0, 1], [0.5, 1]], { title: 'k = 1', width: 40, height: 40 });
    const enc = spec['encoding'] as Record<string, { scale?: unknown; legend?: unknown; axis?: unknown }>;
    assert.deepEqual(enc['color']!.scale, { domain: [0, 1], range: ['black', 'white'], interpolate: 'rgb' });
    assert.deepEqual(enc['stroke'], enc['color']);
    assert.equal(enc['color']!.legend, null);
    assert.equal(enc['x']!.axis, null);
    const svg = await renderSvg(spec);
    assert.match(svg, /k = 1/);
    // the 0 cell renders black, the 0.5 cell mid grey and the 1 cells white
    const fills = [...svg.matchAll(/aria-label="column: (\d); row: (\d)[^"]*"[^>]*fill="([^"]+)"/g)].map((m) => `${m[2]}${m[1]} ${m[3]}`);
    assert.deepEqual(fills, ['00 rgb(0, 0, 0)', '01 rgb(255, 255, 255)', '10 rgb(128, 128, 128)', '11 rgb(255, 255, 255)']);
  });

  it('concatenation keeps each chart’s data and drops the inner schema', () => {
    const spec = concatCharts([barChart(rows, { x: 'step', y: 'loss' }), heatmap([[1]])], 'h', 'both');
    const parts = spec['hconcat'] as Record<string, unknown>[];
    assert.equal(parts.length, 2);
    assert.ok(parts.every((p) => !('$schema' in p) && 'data' in p));
  });
});

describe('chart rendering', () => {
  it('renders SVG with the title text and a PNG with the PNG signature', async () => {
    const spec = lineChart(rows, { x: 'step', y: 'loss', title: 'Loss over steps' });
    const before = JSON.stringify(spec);
    const svg = await renderSvg(spec);
    assert.equal(JSON.stringify(spec), before, 'rendering leaves the spec untouched');
    assert.ok(Object.getOwnPropertySymbols(rows[0]!).length === 0, 'and its rows');
    assert.match(svg, /^<svg/);
    assert.match(svg, /Loss over steps/);
    const png = await renderPng(spec);
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    // scale 2: the PNG is twice the SVG's width (IHDR width at bytes 16..19, big-endian)
    const svgWidth = Number(/width="(\d+)"/.exec(svg)![1]);
    const pngWidth = Buffer.from(png).readUInt32BE(16);
    assert.equal(pngWidth, svgWidth * 2);
  });

  it('an invalid spec is an error from Vega-Lite, not a blank picture', async () => {
    await assert.rejects(renderSvg({ mark: 'no-such-mark', data: { values: [] } }), { message: /^invalid Vega-Lite spec: / });
  });

  it('saveChart writes .png, .svg and .json by extension and refuses others', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'chart-'));
    const spec = lineChart(rows, { x: 'step', y: 'loss' });
    await saveChart(spec, path.join(dir, 'c.png'));
    await saveChart(spec, path.join(dir, 'c.svg'));
    await saveChart(spec, path.join(dir, 'c.json'));
    assert.equal(readFileSync(path.join(dir, 'c.png')).subarray(1, 4).toString(), 'PNG');
    assert.match(readFileSync(path.join(dir, 'c.svg'), 'utf8'), /^<svg/);
    assert.deepEqual(JSON.parse(readFileSync(path.join(dir, 'c.json'), 'utf8')), spec);
    await assert.rejects(saveChart(spec, path.join(dir, 'c.gif')), /use a \.png, \.svg or \.json file name/);
  });
});

/** A headless Vega view of a Vega-Lite spec, to drive its params as a reader would. */
async function viewOf(spec: Record<string, unknown>): Promise<vega.View> {
  const view = new vega.View(vega.parse(compile(JSON.parse(JSON.stringify(spec))).spec), { renderer: 'none' });
  await view.runAsync();
  return view;
}

/** Texts of the visible text marks (not axis labels or titles) in a view's scenegraph. */
function visibleTexts(view: vega.View): string[] {
  const out: string[] = [];
  const walk = (node: { marktype?: string; role?: string; items?: unknown[]; text?: unknown; opacity?: number }): void => {
    if (node.marktype === 'text' && node.role === 'mark') {
      for (const item of (node.items ?? []) as { text?: unknown; opacity?: number }[]) {
        if ((item.opacity ?? 1) > 0) out.push(String(item.text));
      }
    }
    for (const child of (node.items ?? []) as object[]) walk(child as typeof node);
  };
  walk((view.scenegraph() as unknown as { root: Parameters<typeof walk>[0] }).root);
  return out;
}

describe('chart params (what a reader moves in JupyterLab and the book)', () => {
  const sweep = [1, 2, 4, 8].map((r) => ({ r, loss: 3 - r / 10, params: 1024 * r }));

  it('a line chart with points gets radio buttons over its x values, nothing picked at first', () => {
    const spec = lineChart(sweep, { x: 'r', y: 'loss', points: true });
    assert.deepEqual(spec['params'], [{ name: 'pick', value: null, bind: { input: 'radio', options: [1, 2, 4, 8], name: 'r ' } }]);
    assert.equal(lineChart(sweep, { x: 'r', y: 'loss' })['params'], undefined, 'no points, no pick');
    assert.equal(lineChart(sweep, { x: 'r', y: 'loss', points: true, pick: false })['params'], undefined);
    const many = Array.from({ length: 13 }, (_, i) => ({ r: i, loss: i }));
    assert.equal(lineChart(many, { x: 'r', y: 'loss', points: true })['params'], undefined, '13 values: no radio row');
    assert.throws(() => lineChart(many, { x: 'r', y: 'loss', pick: true }), /pick needs 2 to 12 distinct values of 'r'/);
  });

  it('picking r = 4 writes each series’ value at r = 4 and nothing else; unpicked, no label shows', async () => {
    const rows = sweep.map((s) => ({ ...s, other: 10 * s.loss }));
    const view = await viewOf(lineChart(rows, { x: 'r', y: ['loss', 'other'], points: true }));
    assert.deepEqual(visibleTexts(view), [], 'nothing picked');
    view.signal('pick', 4);
    await view.runAsync();
    assert.deepEqual(visibleTexts(view).sort(), ['2.6', '26'], 'loss and other at r = 4');
    view.finalize();
  });

  it('side by side, the charts share one set of radio buttons at the top of the spec', async () => {
    const spec = concatCharts([
      lineChart(sweep, { x: 'r', y: 'loss', points: true }),
      lineChart([...sweep, { r: 16, loss: 1, params: 16384 }], { x: 'r', y: 'params', points: true }),
    ]);
    assert.deepEqual((spec['params'] as { bind: { options: number[] } }[]).map((p) => p.bind.options), [[1, 2, 4, 8, 16]]);
    assert.ok((spec['hconcat'] as Record<string, unknown>[]).every((p) => !('params' in p)));
    const view = await viewOf(spec);
    view.signal('pick', 8);
    await view.runAsync();
    assert.deepEqual(visibleTexts(view).sort(), ['2.2', '8192']);
    view.finalize();
  });

  it('the training curve zooms along x (its x scale follows the zoom interval) and shows values on hover', async () => {
    const history = Array.from({ length: 50 }, (_, i) => ({ step: i + 1, loss: 5 / (i + 1), val: i % 10 === 9 ? 6 / (i + 1) : null }));
    const spec = progressChart(history);
    const layers = spec['layer'] as { params?: { name: string; bind?: unknown; select: unknown }[] }[];
    assert.deepEqual(layers[0]!.params, [{ name: 'zoom', select: { type: 'interval', encodings: ['x'] }, bind: 'scales' }]);
    assert.equal(layers[1]!.params![0]!.name, 'hover');
    const view = await viewOf(spec);
    assert.deepEqual(view.scale('x').domain(), [0, 50]);
    view.signal('zoom_step', [20, 30]);
    await view.runAsync();
    assert.deepEqual(view.scale('x').domain(), [20, 30]);
    view.finalize();
  });

  it('params leave the static picture as it was: PNG and SVG render, no label drawn', async () => {
    const spec = concatCharts([lineChart(sweep, { x: 'r', y: 'loss', points: true, title: 'picked' })]);
    const svg = await renderSvg(spec);
    assert.match(svg, /picked/);
    const labels = [...svg.matchAll(/<g class="mark-text role-mark[^"]*"[^>]*>([\s\S]*?)<\/g>/g)].map((m) => m[1]!);
    const texts = labels.flatMap((g) => [...g.matchAll(/<text [^>]*>/g)].map((m) => m[0]));
    assert.equal(texts.length, sweep.length, 'one (hidden) label per point');
    assert.ok(texts.every((t) => /opacity="0"/.test(t)), 'every value label hidden in the static render');
    assert.equal(Buffer.from(await renderPng(spec)).subarray(1, 4).toString(), 'PNG');
  });

  it('bars and heatmap cells carry tooltips of their fields', () => {
    const bar = barChart(rows, { x: 'step', y: 'loss' });
    assert.deepEqual((bar['encoding'] as Record<string, unknown>)['tooltip'], [
      { field: 'step', type: 'ordinal', title: 'step' },
      { field: 'loss', type: 'quantitative', title: 'loss' },
    ]);
    const heat = heatmap([[1]], { valueTitle: 'w' });
    assert.equal(((heat['encoding'] as Record<string, unknown>)['tooltip'] as { title: string }[])[2]!.title, 'w');
  });
});
