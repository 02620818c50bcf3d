// The live training chart as a reader sees it: with validation losses measured every few steps, a val line is
// drawn through them (not only its legend entry), beside the loss line; the zoom and hover params stay.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as vega from 'vega';
import { compile } from 'vega-lite';
import { progressChart } from '../src/notebook/progress.js';
import { renderSvg } from '../src/charts/index.js';

interface Item { datum?: Record<string, unknown>; defined?: boolean; x?: number; y?: number; items?: Item[] }
interface SceneNode { marktype?: string; role?: string; items?: (SceneNode & Item)[] }

/** Line segments a headless Vega view draws per series: pairs of neighbouring points both defined. */
async function drawnSegments(spec: Record<string, unknown>): Promise<Map<string, number>> {
  const view = new vega.View(vega.parse(compile(JSON.parse(JSON.stringify(spec))).spec), { renderer: 'none' });
  await view.runAsync();
  const segments = new Map<string, number>();
  const walk = (node: SceneNode): void => {
    if (node.marktype === 'line' && node.role === 'mark') {
      const points = (node.items ?? []) as Item[];
      for (let i = 1; i < points.length; i++) {
        const [a, b] = [points[i - 1]!, points[i]!];
        const ok = (p: Item) => p.defined !== false && Number.isFinite(p.x) && Number.isFinite(p.y);
        if (!ok(a) || !ok(b)) continue;
        const series = String(b.datum?.['series'] ?? 'loss');
        segments.set(series, (segments.get(series) ?? 0) + 1);
      }
    }
    for (const child of node.items ?? []) walk(child);
  };
  walk((view.scenegraph() as unknown as { root: SceneNode }).root);
  view.finalize();
  return segments;
}

const history = (steps: number, every: number) =>
  Array.from({ length: steps }, (_, i) => ({
    step: i + 1,
    loss: 5 / (i + 1),
    val: (i + 1) % every === 0 || i + 1 === steps ? 6 / (i + 1) : null,
  }));

describe('progressChart', () => {
  it('draws a val line through the steps where val was measured, beside the loss line', async () => {
    const rows = history(200, 50); // val at 50, 100, 150, 200: three segments
    const segments = await drawnSegments(progressChart(rows));
    assert.equal(segments.get('val'), 3, `val segments: ${JSON.stringify([...segments])}`);
    assert.equal(segments.get('loss'), 199);
  });

  it('marks each val measurement with a point, so a single one is seen too', async () => {
    const spec = progressChart(history(30, 50)); // only the last step has val
    const layers = spec['layer'] as { mark: { type: string }; transform?: { filter: string }[] }[];
    const points = layers.find((l) => l.mark.type === 'point' && l.transform?.[0]?.filter === "datum.series === 'val'");
    assert.ok(points, 'a point layer for val');
    const svg = await renderSvg(spec);
    const symbols = [...svg.matchAll(/<g class="mark-symbol role-mark[^"]*"[^>]*>([\s\S]*?)<\/g>/g)]
      .map((m) => [...m[1]!.matchAll(/<path /g)].length);
    assert.ok(symbols.includes(1), `one val point drawn (symbol groups: ${symbols.join(', ')})`);
  });

  it('without val, one loss series and no val layer; the zoom and hover params stay either way', () => {
    const rows = history(40, 1000).map((r) => ({ ...r, val: null }));
    const plain = progressChart(rows);
    assert.equal(((plain['layer'] as { encoding: { y: { field: string } } }[])[0]!.encoding.y.field), 'loss');
    assert.equal((plain['layer'] as unknown[]).length, 2);
    for (const spec of [plain, progressChart(history(40, 10))]) {
      const layers = spec['layer'] as { params?: { name: string }[] }[];
      assert.equal(layers[0]!.params![0]!.name, 'zoom');
      assert.equal(layers[1]!.params![0]!.name, 'hover');
    }
  });
});
