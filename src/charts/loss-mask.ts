// The SFT loss mask as a picture of the tokens themselves: one row per record, one cell per position, each cell
// showing the token the model must predict there and coloured by whether it counts in the loss (answer tokens and
// <eos>) or not (the prompt), with padding left blank. Loss = Σ mask·CE / Σ mask (train/loss.ts).
import { chartBase, type ChartOptions, type Row, type VegaLiteSpec } from './spec.js';

/** One record: the token predicted at each position (text) and its mask (1 = counted, 0 = not). */
export interface MaskedRow {
  tokens: readonly string[];
  mask: ArrayLike<number>;
}

export interface LossMaskOptions extends ChartOptions {
  /** The token text that marks padding (drawn blank, never counted). @default '<pad>' */
  padToken?: string;
  /** Side of one cell in px. @default 22 */
  cellSize?: number;
}

/** The three kinds of cell, in legend order, with their colours. */
export const LOSS_MASK_KINDS = [
  { kind: 'counted in the loss', colour: '#f28e2b' },
  { kind: 'not counted (prompt)', colour: '#d9d9d9' },
  { kind: 'padding', colour: '#ffffff' },
] as const;

/** How a token reads in a cell: a space as ␣, <eos>/<bos> as eos/bos, padding as nothing. */
export function cellText(token: string, padToken = '<pad>'): string {
  if (token === padToken) return '';
  if (token === ' ') return '␣';
  const special = /^<(\w+)>$/.exec(token);
  return special ? special[1]! : token;
}

/** Cells of the picture: row, position, the text shown and the kind (counted, prompt, padding). */
export function lossMaskCells(rows: readonly MaskedRow[], padToken = '<pad>'): Row[] {
  if (rows.length === 0) throw new Error('lossMaskChart needs at least one record, got none');
  const cells: Row[] = [];
  rows.forEach((row, i) => {
    if (row.tokens.length !== row.mask.length) {
      throw new Error(
        `lossMaskChart: record ${i} has ${row.tokens.length} tokens but ${row.mask.length} mask values: ` +
          'pass one mask value per token',
      );
    }
    row.tokens.forEach((token, t) => {
      const m = row.mask[t]!;
      if (m !== 0 && m !== 1) {
        throw new Error(`lossMaskChart: mask of record ${i} at position ${t} is ${m}; use 0 or 1`);
      }
      if (token === padToken && m === 1) {
        throw new Error(`lossMaskChart: record ${i} counts padding at position ${t}: a pad token's mask must be 0`);
      }
      const kind = token === padToken ? 2 : m === 1 ? 0 : 1;
      cells.push({ record: i, position: t, text: cellText(token, padToken), kind: LOSS_MASK_KINDS[kind].kind });
    });
  });
  return cells;
}

/** The loss mask with the tokens shown (Vega-Lite: coloured cells and their text). */
export function lossMaskChart(rows: readonly MaskedRow[], o: LossMaskOptions = {}): VegaLiteSpec {
  const cells = lossMaskCells(rows, o.padToken ?? '<pad>');
  const cell = o.cellSize ?? 22;
  const positions = Math.max(...rows.map((r) => r.tokens.length));
  const x = {
    field: 'position', type: 'ordinal', title: 'position (the token predicted there)', axis: { labelAngle: 0 },
  };
  const y = { field: 'record', type: 'ordinal', title: 'record' };
  return {
    ...chartBase({ width: positions * cell, height: rows.length * cell, ...o }),
    data: { values: cells },
    encoding: { x, y },
    layer: [
      {
        mark: { type: 'rect', stroke: '#bbbbbb', strokeWidth: 0.5 },
        encoding: {
          color: {
            field: 'kind',
            type: 'nominal',
            title: null,
            scale: { domain: LOSS_MASK_KINDS.map((k) => k.kind), range: LOSS_MASK_KINDS.map((k) => k.colour) },
            legend: {
              orient: 'bottom', direction: 'horizontal', labelLimit: 0,
              symbolStrokeColor: '#bbbbbb', symbolStrokeWidth: 0.5,
            },
          },
          tooltip: [
            { field: 'record', type: 'ordinal' },
            { field: 'position', type: 'ordinal' },
            { field: 'text', type: 'nominal', title: 'token' },
            { field: 'kind', type: 'nominal', title: 'loss' },
          ],
        },
      },
      {
        mark: { type: 'text', color: '#222222' },
        encoding: {
          text: { field: 'text', type: 'nominal' },
          // a character fills its cell; a word (eos) is set smaller so that it stays inside
          size: {
            condition: { test: 'length(datum.text) > 1', value: Math.round(cell * 0.4) },
            value: Math.round(cell * 0.55),
          },
        },
      },
    ],
  };
}
