// The book-only chart of 01-svd's picture compression: the picture rebuilt from its top k singular values,
// M_k = U_k·diag(σ_1..σ_k)·V_kᵀ (Eckart–Young), for EVERY k, with a slider over k, beside the relative error
// ‖M − M_k‖_F / ‖M‖_F and the storage k·(m + n + 1) / (m·n) against k. Too big to attach to the notebook
// (one picture per k), so the book builds it from the library: the same demoPicture, svd and reconstruct.
import { demoPicture, frobeniusError, frobeniusNorm, reconstruct, svd } from '../../src/linalg/index.js';
import type { VegaLiteSpec } from '../../src/charts/index.js';
import { grayPng } from './png.js';

/** Screen pixels per picture entry: the image is drawn at its own size, so it stays crisp. */
const SCALE = 3;

export function pictureSliderSpec(size = 96, startK = 10): VegaLiteSpec {
  const img = demoPicture(size);
  const f = svd(img);
  const [m, n] = [img.length, img[0]!.length];
  const kMax = Math.min(m, n);
  const norm = frobeniusNorm(img);
  const frames: { k: number; url: string }[] = [];
  const curve: { k: number; measure: string; value: number }[] = [];
  for (let k = 1; k <= kMax; k++) {
    const Mk = reconstruct(f, k);
    // 1 = white, 0 = black, as the notebook's heatmap draws it
    const png = grayPng(Mk.to2DArray(), SCALE);
    frames.push({ k, url: `data:image/png;base64,${Buffer.from(png).toString('base64')}` });
    curve.push({ k, measure: 'relative error ‖M − M_k‖_F / ‖M‖_F', value: frobeniusError(img, Mk) / norm });
    curve.push({ k, measure: 'storage k·(m + n + 1) / (m·n)', value: (k * (m + n + 1)) / (m * n) });
  }
  const side = size * SCALE;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    background: 'white',
    config: { font: 'DejaVu Sans', view: { stroke: null } },
    title: `the ${m}×${n} picture from its top k singular values: drag k`,
    params: [{ name: 'k', value: startK, bind: { input: 'range', min: 1, max: kMax, step: 1, name: 'k ' } }],
    hconcat: [
      {
        width: side,
        height: side,
        title: { text: { expr: `'M_k, k = ' + k + ' of ${kMax}'` } },
        data: { values: frames },
        transform: [{ filter: 'datum.k == k' }],
        mark: { type: 'image', width: side, height: side, align: 'left', baseline: 'top' },
        encoding: { x: { value: 0 }, y: { value: 0 }, url: { field: 'url', type: 'nominal' } },
      },
      {
        width: 300,
        height: side - 40,
        title: 'what k costs and what it keeps',
        data: { values: curve },
        layer: [
          {
            mark: { type: 'line', clip: true },
            encoding: {
              x: { field: 'k', type: 'quantitative', title: 'k', scale: { domain: [1, kMax] } },
              y: { field: 'value', type: 'quantitative', title: 'share', scale: { domain: [0, 1.1] } },
              color: { field: 'measure', type: 'nominal', title: null, legend: { orient: 'bottom', direction: 'vertical', labelLimit: 360 } },
            },
          },
          {
            transform: [{ filter: 'datum.k == k' }],
            mark: { type: 'point', filled: true, size: 60 },
            encoding: {
              x: { field: 'k', type: 'quantitative' },
              y: { field: 'value', type: 'quantitative' },
              color: { field: 'measure', type: 'nominal' },
              tooltip: [
                { field: 'k', type: 'quantitative' },
                { field: 'measure', type: 'nominal' },
                { field: 'value', type: 'quantitative', format: '.1%' },
              ],
            },
          },
          {
            transform: [{ filter: 'datum.k == k' }],
            mark: { type: 'text', align: 'left', dx: 6, dy: -8, fontSize: 11 },
            encoding: {
              x: { field: 'k', type: 'quantitative' },
              y: { field: 'value', type: 'quantitative' },
              text: { field: 'value', type: 'quantitative', format: '.1%' },
              color: { field: 'measure', type: 'nominal' },
            },
          },
          { mark: { type: 'rule', strokeDash: [4, 3], color: '#888' }, encoding: { y: { datum: 1 } } },
        ],
      },
    ],
  };
}

/**
 * Where the slider goes: after the first code cell that draws `demoPicture(size)` as a chart. Undefined when no
 * cell does (the builder then stops: the book promises this chart).
 */
export function pictureSliderPlace(cells: { cell_type: string; source: string; outputs: unknown[] }[]):
  { cell: number; size: number } | undefined {
  for (let i = 0; i < cells.length; i++) {
    const c = cells[i]!;
    const m = /\bdemoPicture\(\s*(\d*)\s*\)/.exec(c.source);
    if (c.cell_type === 'code' && m && c.outputs.length > 0) return { cell: i, size: m[1] ? Number(m[1]) : 96 };
  }
  return undefined;
}
