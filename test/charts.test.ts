// Chart specs are plain JSON with the fields Vega-Lite needs; rendering yields a real SVG and a real PNG.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { barChart, concatCharts, heatmap, lineChart, renderPng, renderSvg, saveChart } from '../src/charts/index.js';

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
