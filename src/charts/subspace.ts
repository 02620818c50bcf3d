// The LoRA paper's Figures 3 and 4 as a chart (Hu et al. 2021, §7.2): φ(A₁, A₂, i, j) with i down the rows
// (i = 1 at the top) and j across, on a fixed 0–1 colour scale, the axes labelled 1, 2, … at round steps.
// `phi[i − 1][j − 1]` is the grid subspaceSimilarityGrid returns.
import { heatmap, type VegaLiteSpec } from './spec.js';

export interface SubspaceChartOptions {
  /** Chart title. */
  title?: string;
  /** What i counts (rows), e.g. 'i: top-i directions of A (r = 8)'. Say more than 'i': a lone letter turned on
   *  its side reads as a glyph. */
  iTitle: string;
  /** What j counts (columns). */
  jTitle: string;
  /** Plot size in px. @default square cells of about 448 px / columns (4–48 px), the plot at least 160 px tall */
  width?: number;
  height?: number;
}

/** Indices 1..n to label: 1 and every multiple of a step that keeps at most 9 labels. */
export function indexTicks(n: number): number[] {
  if (!Number.isInteger(n) || n < 1) throw new Error(`indexTicks needs a positive integer count, got ${String(n)}`);
  const step = [1, 2, 4, 8, 16, 32, 64, 128, 256].find((s) => n / s <= 8) ?? Math.ceil(n / 8);
  const ticks = [1];
  for (let k = step; k <= n; k += step) if (k > 1) ticks.push(k);
  return ticks;
}

/** A φ grid as a heatmap with labelled, 1-based i and j axes. */
export function subspaceChart(phi: readonly (readonly number[])[], o: SubspaceChartOptions): VegaLiteSpec {
  const rows = phi.length;
  const cols = phi[0]?.length ?? 0;
  if (rows === 0 || cols === 0 || phi.some((r) => r.length !== cols)) {
    throw new Error(`subspaceChart needs a non-empty rectangular grid phi[i - 1][j - 1], got ${rows} rows`);
  }
  const cell = Math.min(48, Math.max(4, Math.round(448 / cols)));
  const spec = heatmap(phi as number[][], {
    ...(o.title !== undefined ? { title: o.title } : {}),
    domain: [0, 1],
    xTitle: o.jTitle,
    yTitle: o.iTitle,
    valueTitle: 'φ',
    width: o.width ?? cols * cell,
    height: o.height ?? Math.max(160, rows * cell),
  });
  // heatmap() numbers cells from 0; φ's i and j count directions from 1.
  const values = (spec['data'] as { values: { i: number; j: number; v: number }[] }).values;
  const data = { values: values.map((c) => ({ i: c.i + 1, j: c.j + 1, v: c.v })) };
  const encoding = spec['encoding'] as Record<string, Record<string, unknown>>;
  const axis = (n: number) => ({ values: indexTicks(n), labelAngle: 0 });
  return {
    ...spec,
    data,
    encoding: { ...encoding, x: { ...encoding['x'], axis: axis(cols) }, y: { ...encoding['y'], axis: axis(rows) } },
  };
}
