// Matrices drawn as an equation, "B · A = ΔW" or "W₀ + ΔW = W′": each matrix a grid of coloured cells at ONE
// cell size, so the shapes compare honestly (a 64×4 B is tall and thin beside a 4×48 A), with operators between
// them and each matrix's name and shape (rows × columns) underneath. One view, laid out in pixels.
import { chartBase, type ChartOptions, type Row, type VegaLiteSpec } from './spec.js';

/** A matrix (rows of numbers) with its name, or an operator written between matrices ('+', '·', '=', ...). */
export type EquationTerm = { label: string; values: ArrayLike<ArrayLike<number>> } | string;

export interface MatrixEquationOptions extends Omit<ChartOptions, 'width' | 'height'> {
  /** Side of one matrix entry in px. @default the largest (1–8) that keeps the largest dimension ≤ maxSide */
  cellSize?: number;
  /** Longest side of any matrix in px when cellSize is not given. @default 200 */
  maxSide?: number;
  /**
   * One colour scale for all matrices (their values compare: W₀ + ΔW = W′), or each matrix scaled to its own
   * largest |value| (shapes and patterns compare: B · A = ΔW). @default false
   */
  sharedScale?: boolean;
  /** A diverging Vega colour scheme (0 in the middle). @default 'blueorange' */
  scheme?: string;
}

const GAP = 10; // px between a matrix and an operator
const OPERATOR_WIDTH = 26;
const LABEL_SPACE = 34; // px under the tallest matrix for the two label lines
const LABEL_CHAR_PX = 7; // about the width of one character of a 12-px label

function asRows(t: { label: string; values: ArrayLike<ArrayLike<number>> }): number[][] {
  const rows = Array.from(t.values, (row) => Array.from(row));
  const n = rows[0]?.length ?? 0;
  if (rows.length === 0 || n === 0) {
    throw new Error(`matrixEquation: '${t.label}' has no entries: give at least one row and column`);
  }
  rows.forEach((row, i) => {
    if (row.length !== n) {
      throw new Error(
        `matrixEquation: '${t.label}' row ${i} has ${row.length} entries, row 0 has ${n}: give a rectangular matrix`,
      );
    }
    const bad = row.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) {
      throw new Error(`matrixEquation: '${t.label}' has ${String(row[bad])} at (${i}, ${bad}): give finite numbers`);
    }
  });
  return rows;
}

/**
 * An equation of matrices as one Vega-Lite view (rect cells, text labels). Entries are coloured on a diverging
 * scale centred on 0; the tooltip of a cell gives its matrix, row, column and value.
 */
export function matrixEquation(terms: EquationTerm[], o: MatrixEquationOptions = {}): VegaLiteSpec {
  const matrices = terms.filter((t): t is Exclude<EquationTerm, string> => typeof t !== 'string').map(asRows);
  if (matrices.length === 0) {
    throw new Error('matrixEquation: no matrix among the terms: give at least one { label, values }');
  }
  const maxDim = Math.max(...matrices.flatMap((m) => [m.length, m[0]!.length]));
  const cell = o.cellSize ?? Math.max(1, Math.min(8, Math.floor((o.maxSide ?? 200) / maxDim)));
  if (!(cell > 0) || !Number.isFinite(cell)) {
    throw new Error(`matrixEquation: cellSize must be a positive number of px, got ${String(cell)}: use e.g. 4`);
  }
  const top = Math.max(...matrices.map((m) => m.length)) * cell; // the matrices' band is [0, top] px
  const mid = top / 2;
  const largest = (m: number[][]) => Math.max(...m.map((row) => Math.max(...row.map(Math.abs))));
  const shared = Math.max(...matrices.map(largest));

  const cells: Row[] = [];
  const labels: Row[] = [];
  const operators: Row[] = [];
  let x = 0;
  let next = 0;
  for (const t of terms) {
    if (typeof t === 'string') {
      operators.push({ x: x + OPERATOR_WIDTH / 2, y: mid, text: t });
      x += OPERATOR_WIDTH;
      continue;
    }
    const values = matrices[next++]!;
    const rows = values.length, cols = values[0]!.length;
    const shape = `${rows} × ${cols}`;
    // a slot wide enough for the matrix and for its labels, the matrix centred in it
    const slot = Math.max(cols * cell, LABEL_CHAR_PX * Math.max(t.label.length, shape.length)) + 2 * GAP;
    const x0 = x + (slot - cols * cell) / 2;
    const y0 = mid - (rows * cell) / 2; // vertically centred on the band
    const scale = (o.sharedScale ? shared : largest(values)) || 1; // an all-zero matrix stays at 0
    values.forEach((row, i) =>
      row.forEach((v, j) => {
        const c = v / scale;
        const [x, y] = [x0 + j * cell, y0 + i * cell];
        cells.push({ x, x2: x + cell, y, y2: y + cell, c, matrix: t.label, i, j, v });
      }),
    );
    labels.push({ x: x + slot / 2, y: top + 12, text: t.label }, { x: x + slot / 2, y: top + 27, text: shape });
    x += slot;
  }
  const width = Math.ceil(x);
  const height = top + LABEL_SPACE;
  const pos = (field: string, extent: number, reverse = false) => ({
    field,
    type: 'quantitative',
    scale: { domain: [0, extent], nice: false, zero: false, ...(reverse ? { reverse: true } : {}) },
    axis: null,
  });
  const xy = { x: pos('x', width), y: pos('y', height, true) };
  const text = (rows: Row[], fontSize: number): VegaLiteSpec => ({
    data: { values: rows },
    mark: { type: 'text', align: 'center', baseline: 'middle', fontSize, color: '#222' },
    encoding: { ...xy, text: { field: 'text', type: 'nominal' } },
  });
  return {
    ...chartBase({ ...o, width, height }),
    layer: [
      {
        data: { values: cells },
        mark: { type: 'rect' },
        encoding: {
          x: xy.x,
          x2: { field: 'x2' },
          y: xy.y,
          y2: { field: 'y2' },
          color: {
            field: 'c',
            type: 'quantitative',
            scale: { scheme: o.scheme ?? 'blueorange', domain: [-1, 1] },
            legend: null,
          },
          tooltip: [
            { field: 'matrix', type: 'nominal' },
            { field: 'i', type: 'quantitative', title: 'row' },
            { field: 'j', type: 'quantitative', title: 'column' },
            { field: 'v', type: 'quantitative', title: 'value', format: '.4~g' },
          ],
        },
      },
      text(labels, 12),
      text(operators, 26),
    ],
  };
}
