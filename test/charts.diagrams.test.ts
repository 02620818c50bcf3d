// The picture helpers: the LoRA block (the paper's Figure 1) with its shapes, matrices drawn as an equation at one
// cell size, and legends in reading order (2, 4, 16; 256×256 before 1024×1024). Each is rendered, not only built.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  barChart,
  lineChart,
  loraBlockDiagram,
  loraBlockGeometry,
  matrixEquation,
  naturalOrder,
  renderSvg,
  type Row,
  type VegaLiteSpec,
} from '../src/charts/index.js';

type Layer = { data: { values: Row[] }; mark: { type: string } };
const layers = (spec: VegaLiteSpec) => spec['layer'] as Layer[];
const texts = (spec: VegaLiteSpec) =>
  layers(spec).filter((l) => l.mark.type === 'text').flatMap((l) => l.data.values.map((v) => String(v['text'])));

describe('loraBlockDiagram', () => {
  it("labels W₀, A and B with PEFT's names and shapes, x at the bottom and h at the top", async () => {
    const spec = loraBlockDiagram({ dIn: 48, dOut: 64, r: 4 });
    const t = texts(spec);
    for (const label of ['W₀ (frozen)', '64 × 48', 'A = lora_A', '[r × d_in] = 4 × 48', 'B = lora_B', '[d_out × r] = 64 × 4']) {
      assert.ok(t.includes(label), `missing '${label}' in ${t.join(' | ')}`);
    }
    const textRows = layers(spec).filter((l) => l.mark.type === 'text').flatMap((l) => l.data.values);
    const yOf = (prefix: string) => Number(textRows.find((v) => String(v['text']).startsWith(prefix))!['y']);
    assert.ok(yOf('x ') < yOf('A = lora_A') && yOf('A = lora_A') < yOf('B = lora_B') && yOf('B = lora_B') < yOf('h = '));
    assert.ok(t.includes('h = W₀x + B·A·x   [d_out = 64]'));
    assert.ok(t.includes('starts random') && t.includes('starts at 0, so B·A = 0'));
    const svg = await renderSvg(spec);
    assert.match(svg, /lora_A/);
    assert.match(svg, /4 × 48/);
  });

  it('draws d_in, r and d_out in proportion: the bottleneck narrows with r and never vanishes', () => {
    const g = loraBlockGeometry({ dIn: 48, dOut: 64, r: 4 });
    assert.ok(Math.abs(g.inWidth / g.outWidth - 48 / 64) < 1e-12);
    const widths = [1, 8, 16, 32].map((r) => loraBlockGeometry({ dIn: 64, dOut: 64, r }).rWidth);
    assert.ok(widths.every((w, i) => i === 0 || w > widths[i - 1]!), widths.join(', '));
    assert.ok(widths[0]! > 0 && widths[3]! < loraBlockGeometry({ dIn: 64, dOut: 64, r: 64 }).rWidth);
    // the trapezoids span exactly those widths
    const spec = loraBlockDiagram({ dIn: 64, dOut: 64, r: 16 });
    const trap = layers(spec).find((l) => l.mark.type === 'area')!.data.values;
    const span = (v: Row) => Number(v['x2']) - Number(v['x']);
    const w = loraBlockGeometry({ dIn: 64, dOut: 64, r: 16 });
    assert.deepEqual(trap.map(span).map((x) => +x.toFixed(9)), [w.inWidth, w.rWidth, w.rWidth, w.outWidth].map((x) => +x.toFixed(9)));
  });

  it('with lora_alpha, the output carries the scaling and its value; without init labels when asked', async () => {
    const spec = loraBlockDiagram({ dIn: 1024, dOut: 1024, r: 16, alpha: 32, showInit: false, title: 'q_proj' });
    const t = texts(spec);
    assert.ok(t.includes('h = W₀x + (α/r)·B·A·x   [d_out = 1024]'), t.join(' | '));
    assert.ok(t.includes('α/r = 32 / 16 = 2'));
    assert.ok(!t.includes('starts random'));
    assert.match(await renderSvg(spec), /q_proj/);
  });

  it('refuses sizes that are not positive integers, r above min(d_in, d_out), and a bad alpha', () => {
    assert.throws(() => loraBlockDiagram({ dIn: 48, dOut: 64, r: 50 }), /r = 50 exceeds min\(d_in, d_out\) = 48.*use r ≤ 48/);
    assert.throws(() => loraBlockDiagram({ dIn: 48.5, dOut: 64, r: 4 }), /dIn must be a positive integer, got 48\.5/);
    assert.throws(() => loraBlockDiagram({ dIn: 48, dOut: 64, r: 0 }), /r must be a positive integer, got 0/);
    assert.throws(() => loraBlockDiagram({ dIn: 48, dOut: 64, r: 4, alpha: -1 }), /alpha must be a positive number, got -1/);
  });
});

describe('matrixEquation', () => {
  const B = [[1], [-2], [0.5]]; // 3×1
  const A = [[2, -4]]; // 1×2
  const BA = [[2, -4], [-4, 8], [1, -2]];

  it('draws every entry as one square cell of one size, so shapes compare; operators between; labels below', async () => {
    const spec = matrixEquation([{ label: 'B', values: B }, '·', { label: 'A', values: A }, '=', { label: 'B·A', values: BA }], {
      cellSize: 10,
    });
    const cells = layers(spec)[0]!.data.values;
    assert.equal(cells.length, 3 + 2 + 6);
    assert.ok(cells.every((c) => Number(c['x2']) - Number(c['x']) === 10 && Number(c['y2']) - Number(c['y']) === 10));
    const extent = (m: string, a: 'x' | 'y') => {
      const cs = cells.filter((c) => c['matrix'] === m);
      return Math.max(...cs.map((c) => Number(c[`${a}2`]))) - Math.min(...cs.map((c) => Number(c[a])));
    };
    assert.deepEqual([extent('B', 'x'), extent('B', 'y'), extent('A', 'x'), extent('A', 'y')], [10, 30, 20, 10]);
    // left to right in the order given, no overlap
    const right = (m: string) => Math.max(...cells.filter((c) => c['matrix'] === m).map((c) => Number(c['x2'])));
    const left = (m: string) => Math.min(...cells.filter((c) => c['matrix'] === m).map((c) => Number(c['x'])));
    assert.ok(right('B') < left('A') && right('A') < left('B·A'));
    const t = texts(spec);
    assert.deepEqual(t, ['B', '3 × 1', 'A', '1 × 2', 'B·A', '3 × 2', '·', '=']);
    const svg = await renderSvg(spec);
    assert.match(svg, /3 × 2/);
  });

  it('colours each matrix on its own scale, or all on one when asked; zeros stay zero', () => {
    const own = layers(matrixEquation([{ label: 'B', values: B }, '+', { label: 'BA', values: BA }, { label: 'Z', values: [[0, 0]] }]))[0]!;
    const top = (m: string, rows: Row[]) => Math.max(...rows.filter((c) => c['matrix'] === m).map((c) => Math.abs(Number(c['c']))));
    assert.equal(top('B', own.data.values), 1);
    assert.equal(top('BA', own.data.values), 1);
    assert.equal(top('Z', own.data.values), 0);
    const shared = layers(matrixEquation([{ label: 'B', values: B }, '+', { label: 'BA', values: BA }], { sharedScale: true }))[0]!;
    assert.equal(top('BA', shared.data.values), 1);
    assert.equal(top('B', shared.data.values), 2 / 8, 'B is drawn at its size relative to B·A');
    const cell = shared.data.values.find((c) => c['matrix'] === 'BA' && c['i'] === 1 && c['j'] === 0)!;
    assert.equal(cell['v'], -4, 'the tooltip keeps the value itself');
  });

  it('refuses ragged rows, non-finite values and an equation without a matrix', () => {
    assert.throws(() => matrixEquation([{ label: 'M', values: [[1, 2], [3]] }]), /'M' row 1 has 1 entries, row 0 has 2/);
    assert.throws(() => matrixEquation([{ label: 'M', values: [[1, NaN]] }]), /'M' has NaN at \(0, 1\)/);
    assert.throws(() => matrixEquation([{ label: 'M', values: [] }]), /'M' has no entries/);
    assert.throws(() => matrixEquation(['+']), /no matrix among the terms/);
  });
});

describe('legend order', () => {
  it('numbers by value and sizes with their numbers read as numbers', () => {
    const rows = [16, 2, 4].map((r) => ({ r, v: 1 }));
    assert.deepEqual(naturalOrder(rows, 'r'), [2, 4, 16]);
    const sizes = ['1024×1024', '256×256', '8192×8192', '512×512'].map((layer) => ({ layer, v: 1 }));
    assert.deepEqual(naturalOrder(sizes, 'layer'), ['256×256', '512×512', '1024×1024', '8192×8192']);
  });

  it('a line chart coloured by layer size lists 256×256 before 1024×1024 in its rendered legend', async () => {
    const rows = ['256×256', '1024×1024', '512×512'].flatMap((layer, i) => [1, 2].map((r) => ({ layer, r, share: i + r })));
    const spec = lineChart(rows, { x: 'r', y: 'share', color: 'layer' });
    const svg = await renderSvg(spec);
    const legend = [...svg.matchAll(/<text[^>]*>(\d+×\d+)<\/text>/g)].map((m) => m[1]);
    assert.deepEqual(legend, ['256×256', '512×512', '1024×1024']);
    const bars = barChart(rows, { x: 'r', y: 'share', color: 'layer' });
    const enc = bars['encoding'] as Record<string, { sort?: unknown }>;
    assert.deepEqual(enc['color']!.sort, ['256×256', '512×512', '1024×1024']);
    assert.deepEqual(enc['xOffset']!.sort, ['256×256', '512×512', '1024×1024']);
  });
});
