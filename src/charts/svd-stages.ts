// The SVD of a 2×2 matrix as what it does to the unit circle, in stages read right to left: x → Vᵀx (rotate or
// reflect) → ΣVᵀx (stretch along the axes) → UΣVᵀx = Mx (rotate or reflect), four panels on equal axes, direction
// i in one colour throughout (vᵢ → eᵢ → σᵢeᵢ → σᵢuᵢ). Convention: M = U·diag(σ)·Vᵀ, the columns of U and V are uᵢ, vᵢ.
import { chartBase, concatCharts, type ChartOptions, type Row, type VegaLiteSpec } from './spec.js';

/** A 2×2 matrix as rows of numbers, or anything with `to2DArray()` (an ml-matrix Matrix). */
export type Matrix2 = readonly (readonly number[])[] | { to2DArray(): number[][] };

/** The SVD of a 2×2 matrix: U and V with orthonormal columns, σ₁ ≥ σ₂ ≥ 0 (as `svd` returns it). */
export interface Svd2 {
  readonly U: Matrix2;
  readonly sigma: ArrayLike<number>;
  readonly V: Matrix2;
}

/** Where the circle and the two directions are after one stage. */
export interface SvdStage {
  /** 'x', 'Vᵀx', 'ΣVᵀx' or 'UΣVᵀx'. */
  readonly name: string;
  /** The panel's title: what the stage does (rotate or reflect is read from the factor's determinant). */
  readonly title: string;
  /** The image of the unit circle, point by point; the first `quarter` + 1 points are the marked arc. */
  readonly circle: readonly (readonly [number, number])[];
  /** Index of the last point of the marked arc: a quarter turn counter-clockwise from v₁ in the input. */
  readonly quarter: number;
  /** Where direction 1 and direction 2 point now, with their labels (v₁, e₁, σ₁e₁, σ₁u₁, ...). */
  readonly arrows: readonly { direction: 1 | 2; label: string; x: number; y: number; unit: [number, number] }[];
}

export interface SvdStagesOptions extends ChartOptions {
  /** Width and height of each square panel in px. @default 170 */
  panel?: number;
  /** Points on the circle. @default 120 */
  points?: number;
}

/** Colours shared by every panel, so direction i reads as one thing from vᵢ to σᵢuᵢ. */
export const SVD_STAGE_COLORS = {
  direction1: '#d6404e',
  direction2: '#3b6fb6',
  arc: '#2b2b2b',
  circle: '#9a9a9a',
} as const;

const LEGEND = ['direction 1: v₁ → σ₁u₁', 'direction 2: v₂ → σ₂u₂', 'a quarter turn from v₁, to follow'];

function rowsOf(m: Matrix2, name: string): number[][] {
  const a = 'to2DArray' in m ? m.to2DArray() : m.map((r) => [...r]);
  if (a.length !== 2 || a.some((r) => r.length !== 2 || r.some((v) => !Number.isFinite(v)))) {
    throw new Error(`svdStages draws 2×2 SVDs: ${name} must be 2×2 finite numbers, got ${JSON.stringify(a)}`);
  }
  return a;
}

const det = (a: number[][]): number => a[0]![0]! * a[1]![1]! - a[0]![1]! * a[1]![0]!;
/** a·x for a 2×2 matrix a. */
const apply = (a: number[][], [x, y]: readonly [number, number]): [number, number] => [
  a[0]![0]! * x + a[0]![1]! * y,
  a[1]![0]! * x + a[1]![1]! * y,
];
const transpose = (a: number[][]): number[][] => [
  [a[0]![0]!, a[1]![0]!],
  [a[0]![1]!, a[1]![1]!],
];

/** The four stages x → Vᵀx → ΣVᵀx → UΣVᵀx of a 2×2 SVD, as points: the data `svdStagesChart` draws. */
export function svdStages(f: Svd2, points = 120): SvdStage[] {
  const U = rowsOf(f.U, 'U');
  const V = rowsOf(f.V, 'V');
  const [s1, s2] = [f.sigma[0], f.sigma[1]];
  if (f.sigma.length !== 2 || !(s1! >= s2!) || !(s2! >= 0)) {
    throw new Error(`svdStages needs σ₁ ≥ σ₂ ≥ 0, got ${JSON.stringify(Array.from(f.sigma))}`);
  }
  if (!Number.isInteger(points) || points < 8 || points % 4 !== 0) {
    throw new Error(`points must be a multiple of 4, at least 8, got ${String(points)}`);
  }
  const S = [
    [s1!, 0],
    [0, s2!],
  ];
  const Vt = transpose(V);
  const v1: [number, number] = [V[0]![0]!, V[1]![0]!];
  const rot90 = ([x, y]: [number, number]): [number, number] => [-y, x];
  // The input circle starts at v₁ and turns counter-clockwise: its first quarter is the marked arc.
  const input: [number, number][] = [];
  for (let t = 0; t <= points; t++) {
    const a = (2 * Math.PI * t) / points;
    const [px, py] = rot90(v1);
    input.push([Math.cos(a) * v1[0] + Math.sin(a) * px, Math.cos(a) * v1[1] + Math.sin(a) * py]);
  }
  const maps = [
    (p: [number, number]) => p,
    (p: [number, number]) => apply(Vt, p),
    (p: [number, number]) => apply(S, apply(Vt, p)),
    (p: [number, number]) => apply(U, apply(S, apply(Vt, p))),
  ];
  const col = (a: number[][], j: number): [number, number] => [a[0]![j]!, a[1]![j]!];
  const e = (j: number): [number, number] => (j === 0 ? [1, 0] : [0, 1]);
  const sub = ['₁', '₂'];
  const arrowsAt = [
    (j: number) => ({ label: `v${sub[j]}`, unit: col(V, j), length: 1 }),
    (j: number) => ({ label: `e${sub[j]}`, unit: e(j), length: 1 }),
    (j: number) => ({ label: `σ${sub[j]}e${sub[j]}`, unit: e(j), length: f.sigma[j]! }),
    (j: number) => ({ label: `σ${sub[j]}u${sub[j]}`, unit: col(U, j), length: f.sigma[j]! }),
  ];
  const turn = (d: number) => (d >= 0 ? 'rotate' : 'reflect');
  const names = ['x', 'Vᵀx', 'ΣVᵀx', 'UΣVᵀx'];
  const titles = [
    'x: the unit circle',
    `Vᵀx: ${turn(det(V))}`,
    `ΣVᵀx: stretch by σ₁, σ₂`,
    `UΣVᵀx = Mx: ${turn(det(U))}`,
  ];
  return maps.map((map, s) => ({
    name: names[s]!,
    title: titles[s]!,
    circle: input.map(map),
    quarter: points / 4,
    arrows: [0, 1].map((j) => {
      const { label, unit, length } = arrowsAt[s]!(j);
      return { direction: (j + 1) as 1 | 2, label, x: unit[0] * length, y: unit[1] * length, unit };
    }),
  }));
}

/** The SVD of a 2×2 matrix drawn in four panels, x → Vᵀx → ΣVᵀx → UΣVᵀx, directions in matched colours. */
export function svdStagesChart(f: Svd2, o: SvdStagesOptions = {}): VegaLiteSpec {
  const stages = svdStages(f, o.points ?? 120);
  const side = o.panel ?? 170;
  const reach = Math.max(1, f.sigma[0]!) * 1.3;
  const scale = { domain: [-reach, reach], nice: false };
  const axis = { title: null, tickCount: 5, grid: true, gridColor: '#eee' };
  const x = { field: 'x', type: 'quantitative', scale, axis };
  const y = { field: 'y', type: 'quantitative', scale, axis };
  const colorScale = {
    domain: LEGEND,
    range: [SVD_STAGE_COLORS.direction1, SVD_STAGE_COLORS.direction2, SVD_STAGE_COLORS.arc],
  };
  const legend = { orient: 'bottom', labelLimit: 320, symbolType: 'stroke', symbolStrokeWidth: 4 };
  const color = { field: 'series', type: 'nominal', scale: colorScale, title: null, legend };
  const panels = stages.map((st) => {
    const circle: Row[] = st.circle.map(([px, py], t) => ({ x: px, y: py, t }));
    const arc: Row[] = circle.slice(0, st.quarter + 1).map((r) => ({ ...r, series: LEGEND[2]! }));
    const shafts: Row[] = st.arrows.flatMap((a) => [
      { x: 0, y: 0, t: 0, series: LEGEND[a.direction - 1]! },
      { x: a.x, y: a.y, t: 1, series: LEGEND[a.direction - 1]! },
    ]);
    // Arrowheads: triangles turned clockwise from "up" to the arrow's heading. Labels sit past the tip, their
    // centre pushed out by half the label's width (about 4 px a character) along the arrow's x direction.
    const px = (2 * reach) / side; // data units per pixel
    const tips: Row[] = st.arrows.map((a) => ({
      x: a.x,
      y: a.y,
      angle: (Math.atan2(a.unit[0], a.unit[1]) * 180) / Math.PI,
      lx: a.x + a.unit[0] * (12 + 4 * a.label.length) * px,
      ly: a.y + a.unit[1] * 14 * px,
      label: a.label,
      series: LEGEND[a.direction - 1]!,
    }));
    const order = { field: 't', type: 'quantitative' };
    return {
      ...chartBase({ title: st.title, width: side, height: side }),
      layer: [
        {
          data: { values: circle },
          mark: { type: 'line', color: SVD_STAGE_COLORS.circle, strokeWidth: 1.5 },
          encoding: { x, y, order },
        },
        { data: { values: arc }, mark: { type: 'line', strokeWidth: 4 }, encoding: { x, y, order, color } },
        {
          data: { values: shafts },
          mark: { type: 'line', strokeWidth: 2.5 },
          encoding: { x, y, order, color, detail: { field: 'series' } },
        },
        {
          data: { values: tips },
          mark: { type: 'point', shape: 'triangle-up', filled: true, size: 80, opacity: 1 },
          encoding: { x, y, color, angle: { field: 'angle', type: 'quantitative', scale: null } },
        },
        {
          data: { values: tips },
          mark: { type: 'text', fontSize: 13, fontWeight: 'bold' },
          encoding: {
            x: { ...x, field: 'lx' },
            y: { ...y, field: 'ly' },
            text: { field: 'label', type: 'nominal' },
            color,
          },
        },
      ],
    };
  });
  const resolve = { scale: { color: 'shared' }, legend: { color: 'shared' } };
  return { ...concatCharts(panels, 'h', o.title), resolve };
}
