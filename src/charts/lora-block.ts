// The LoRA block as the LoRA paper draws it (Hu et al. 2021, Figure 1, https://arxiv.org/abs/2106.09685): x
// enters at the bottom, the frozen W₀ stands beside the trainable pair A → (r numbers) → B, and h = W₀x + B·A·x
// leaves at the top. PEFT's orientation: W₀ [d_out, d_in], A = lora_A [r, d_in], B = lora_B [d_out, r], α/r.
import { chartBase, type ChartOptions, type Row, type VegaLiteSpec } from './spec.js';

export interface LoraBlockOptions extends ChartOptions {
  /** d_in: the size of x. */
  dIn: number;
  /** d_out: the size of h. */
  dOut: number;
  /** LoRA rank r: the width of the bottleneck between A and B. */
  r: number;
  /** lora_alpha: when given, the output reads h = W₀x + (α/r)·B·A·x and the value of α/r stands beside it. */
  alpha?: number;
  /** Write LoRA's start beside A and B (A random, B = 0, so B·A = 0). @default true */
  showInit?: boolean;
}

// Drawing coordinates: x and y run over [0, 100], y upwards. The LoRA branch is centred at BRANCH_X; its widest
// side is BRANCH_WIDTH; W₀ is a box on the left, the labels of A and B sit right of the branch.
const BRANCH_X = 56;
const BRANCH_WIDTH = 28;
const W0_BOX = { x: 4, x2: 36 };
const BAR_X2 = 72;
const LABEL_X = 74;
const Y = {
  inTop: 10, branchBottom: 22, aTop: 42, zBottom: 45.5, zTop: 52.5, bBottom: 56, branchTop: 76, outBottom: 90,
};
const COLOURS = { frozen: '#c6dbef', frozenEdge: '#4a78a8', lora: '#fdd0a2', loraEdge: '#c2661a', vector: '#e5e5e5' };

/** Width (drawing units) of a side of the branch that carries n numbers, out of the layer's widest side. */
function sideWidth(n: number, widest: number): number {
  return Math.min(BRANCH_WIDTH, Math.max(2, (BRANCH_WIDTH * n) / widest));
}

function assertSize(value: number, name: string, example: number): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`loraBlockDiagram: ${name} must be a positive integer, got ${String(value)}: use e.g. ${example}`);
  }
}

/** The numbers of the picture: widths of each side, and the labels (for tests and other layouts). */
export function loraBlockGeometry(o: LoraBlockOptions): { inWidth: number; rWidth: number; outWidth: number } {
  assertSize(o.dIn, 'dIn', 48);
  assertSize(o.dOut, 'dOut', 64);
  assertSize(o.r, 'r', 4);
  const k = Math.min(o.dIn, o.dOut);
  if (o.r > k) {
    throw new Error(
      `loraBlockDiagram: r = ${o.r} exceeds min(d_in, d_out) = ${k}, the largest rank B·A can have: use r ≤ ${k}`,
    );
  }
  if (o.alpha !== undefined && !(o.alpha > 0 && Number.isFinite(o.alpha))) {
    throw new Error(`loraBlockDiagram: alpha must be a positive number, got ${String(o.alpha)}: use e.g. 2·r`);
  }
  const widest = Math.max(o.dIn, o.dOut);
  return { inWidth: sideWidth(o.dIn, widest), rWidth: sideWidth(o.r, widest), outWidth: sideWidth(o.dOut, widest) };
}

/**
 * The LoRA block of one linear layer as a Vega-Lite spec (marks only: boxes, trapezoids, arrows, text). The sides
 * of A and B are drawn in proportion to d_in, r and d_out (a bottleneck of at least a sliver), each labelled
 * with its shape in PEFT's names.
 */
export function loraBlockDiagram(o: LoraBlockOptions): VegaLiteSpec {
  const g = loraBlockGeometry(o);
  const { dIn, dOut, r } = o;
  const showInit = o.showInit ?? true;
  const half = (w: number) => w / 2;
  const across = (w: number) => ({ x: BRANCH_X - half(w), x2: BRANCH_X + half(w) }); // a span of width w on the branch
  const boxes: Row[] = [
    { x: W0_BOX.x, x2: BAR_X2, y: 4, y2: Y.inTop, fill: COLOURS.vector, stroke: '#888' },
    { x: W0_BOX.x, x2: BAR_X2, y: Y.outBottom, y2: 96, fill: COLOURS.vector, stroke: '#888' },
    { ...W0_BOX, y: Y.branchBottom, y2: Y.branchTop, fill: COLOURS.frozen, stroke: COLOURS.frozenEdge },
    // A·x: the r numbers between A and B
    { ...across(g.rWidth), y: Y.zBottom, y2: Y.zTop, fill: COLOURS.vector, stroke: '#888' },
  ];
  // Trapezoids as horizontal areas: at each y, the area spans x..x2.
  const span = (part: string, y: number, w: number): Row => ({ part, y, ...across(w) });
  const trapezoids: Row[] = [
    span('A', Y.branchBottom, g.inWidth),
    span('A', Y.aTop, g.rWidth),
    span('B', Y.bBottom, g.rWidth),
    span('B', Y.branchTop, g.outWidth),
  ];
  const w0x = (W0_BOX.x + W0_BOX.x2) / 2;
  const arrows: Row[] = [
    { x: w0x, y: Y.inTop, y2: Y.branchBottom },
    { x: BRANCH_X, y: Y.aTop, y2: Y.zBottom },
    { x: BRANCH_X, y: Y.zTop, y2: Y.bBottom },
    { x: BRANCH_X, y: Y.inTop, y2: Y.branchBottom },
    { x: w0x, y: Y.branchTop, y2: Y.outBottom },
    { x: BRANCH_X, y: Y.branchTop, y2: Y.outBottom },
  ];
  const scaled = o.alpha !== undefined;
  const out = scaled ? 'h = W₀x + (α/r)·B·A·x' : 'h = W₀x + B·A·x';
  const centred: Row[] = [
    { x: (W0_BOX.x + BAR_X2) / 2, y: 7, text: `x   [d_in = ${dIn}]` },
    { x: (W0_BOX.x + BAR_X2) / 2, y: 93, text: `${out}   [d_out = ${dOut}]` },
    { x: w0x, y: 44, text: 'd_out × d_in' },
    { x: w0x, y: 39, text: `${dOut} × ${dIn}` },
    { x: w0x, y: 31, text: 'not trained' },
  ];
  const names: Row[] = [{ x: w0x, y: 53, text: 'W₀ (frozen)' }];
  const left: Row[] = [
    { x: BRANCH_X + half(g.rWidth) + 1.5, y: (Y.zBottom + Y.zTop) / 2, text: `A·x: r = ${r}` },
    { x: LABEL_X, y: 34, text: 'A = lora_A', name: true },
    { x: LABEL_X, y: 29, text: `[r × d_in] = ${r} × ${dIn}` },
    { x: LABEL_X, y: 68, text: 'B = lora_B', name: true },
    { x: LABEL_X, y: 63, text: `[d_out × r] = ${dOut} × ${r}` },
  ];
  if (showInit) {
    left.push({ x: LABEL_X, y: 24, text: 'starts random' }, { x: LABEL_X, y: 58, text: 'starts at 0, so B·A = 0' });
  }
  if (scaled) left.push({ x: LABEL_X, y: 93, text: `α/r = ${o.alpha} / ${r} = ${fmt(o.alpha! / r)}` });

  const pos = (field: string) => ({
    field,
    type: 'quantitative',
    scale: { domain: [0, 100], nice: false, zero: false },
    axis: null,
  });
  const plain = { x: pos('x'), y: pos('y') };
  const text = (rows: Row[], mark: Record<string, unknown>): VegaLiteSpec => ({
    data: { values: rows },
    mark: { type: 'text', baseline: 'middle', fontSize: 12, color: '#222', ...mark },
    encoding: { ...plain, text: { field: 'text', type: 'nominal' } },
  });
  return {
    ...chartBase({ width: 520, height: 340, ...o }),
    layer: [
      {
        data: { values: boxes },
        mark: { type: 'rect', strokeWidth: 1.2 },
        encoding: {
          x: pos('x'),
          x2: { field: 'x2' },
          y: pos('y'),
          y2: { field: 'y2' },
          fill: { field: 'fill', type: 'nominal', scale: null },
          stroke: { field: 'stroke', type: 'nominal', scale: null },
        },
      },
      {
        data: { values: trapezoids },
        mark: { type: 'area', orient: 'horizontal', fill: COLOURS.lora, stroke: COLOURS.loraEdge, strokeWidth: 1.2 },
        encoding: { y: pos('y'), x: pos('x'), x2: { field: 'x2' }, detail: { field: 'part', type: 'nominal' } },
      },
      {
        data: { values: arrows },
        mark: { type: 'rule', color: '#555', strokeWidth: 1.5 },
        encoding: { x: pos('x'), y: pos('y'), y2: { field: 'y2' } },
      },
      {
        // arrowheads at the tips of the long arrows (the short ones inside the branch only join its parts)
        data: { values: arrows.filter((a) => Number(a['y2']) - Number(a['y']) > 5).map(arrowhead) },
        mark: { type: 'point', shape: 'triangle-up', filled: true, size: 70, color: '#555', opacity: 1 },
        encoding: plain,
      },
      text(centred, { align: 'center' }),
      text(names, { align: 'center', fontSize: 15 }),
      text([{ x: (w0x + BRANCH_X) / 2, y: 83, text: '+' }], { align: 'center', fontSize: 24 }),
      text(left.filter((t) => t['name'] !== true), { align: 'left' }),
      text(left.filter((t) => t['name'] === true), { align: 'left', fontSize: 15 }),
    ],
  };
}

/** The point of an upward arrow's head: just below its tip. */
function arrowhead(a: Row): Row {
  return { x: a['x']!, y: Number(a['y2']) - 1.2 };
}

function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toPrecision(3).replace(/0+$/, '');
}
