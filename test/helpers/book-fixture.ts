// A two-notebook fixture project for the book tests: what the real notebooks do not (yet) show is here on
// purpose: math in every Jupyter delimiter, an error output, stderr, a link to another notebook's section, a
// markdown image beside the notebook, and charts from the library's own helpers with their params (the rank
// sweep's `pick` radio buttons, the training curve's zoom), made by the same code a notebook would run.
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { concatCharts, lineChart, barChart, renderPng, type VegaLiteSpec } from '../../src/charts/index.js';
import { tableBundle } from '../../src/notebook/index.js';
import { progressChart } from '../../src/notebook/progress.js';
import { grayPng } from '../../scripts/book/png.js';

const md = (source: string) => ({ cell_type: 'markdown', metadata: {}, source });
const code = (source: string, outputs: unknown[]) => ({ cell_type: 'code', metadata: {}, source, outputs, execution_count: null });
const display = (data: Record<string, unknown>, metadata: Record<string, unknown> = {}) =>
  ({ output_type: 'display_data', data, metadata });

/**
 * A chart output as the notebook helpers write it: PNG drawn at 2×, the spec, `<title>` as text; with
 * `sized`, the PNG's design size in the metadata (newer outputs), without it as older outputs have it.
 */
async function chartDisplay(spec: VegaLiteSpec, sized: boolean) {
  const png = await renderPng(spec, { scale: 2 });
  const data = {
    'image/png': Buffer.from(png).toString('base64'),
    'text/plain': `<${typeof spec['title'] === 'string' ? spec['title'] : 'chart'}>`,
    'application/vnd.vegalite.v5+json': spec,
  };
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const size = { width: view.getUint32(16) / 2, height: view.getUint32(20) / 2 };
  return display(data, sized ? { 'image/png': size } : {});
}
const stream = (name: 'stdout' | 'stderr', text: string) => ({ output_type: 'stream', name, text });
const notebook = (cells: unknown[]) => ({
  cells,
  metadata: { kernelspec: { name: 'lora-lab', display_name: 'TypeScript (lora-lab)', language: 'typescript' } },
  nbformat: 4,
  nbformat_minor: 5,
});

/** The rank sweep of notebook 05 as it draws it (two line charts side by side), on made-up numbers. */
export function rankSweepSpec() {
  const rows = [1, 2, 4, 8, 16, 32, 64].map((r, i) => ({
    r,
    'seed 0': 2.6 - 0.1 * i,
    'seed 1': 2.5 - 0.09 * i,
    'mean val loss': 2.55 - 0.095 * i,
    trainable: 1024 * r,
  }));
  return concatCharts([
    lineChart(rows, { x: 'r', y: ['seed 0', 'seed 1', 'mean val loss'], logX: true, points: true, title: 'held-out loss vs rank', yTitle: 'val loss', width: 300, height: 220 }),
    lineChart(rows, { x: 'r', y: 'trainable', logX: true, logY: true, points: true, title: 'trainable parameters vs rank', width: 300, height: 220 }),
  ], 'h');
}

/** A training curve as notebookProgress draws it. */
export function trainingCurveSpec() {
  const history = Array.from({ length: 120 }, (_, i) => ({
    step: i + 1,
    loss: 8 * Math.exp(-i / 25) + 0.2,
    val: (i + 1) % 20 === 0 ? 8 * Math.exp(-i / 25) + 0.4 : null,
  }));
  return progressChart(history, { title: 'LoRA on a toy task' });
}

/** Writes README.md and notebooks/ for a fixture project into `dir`; returns `dir`. */
export async function writeBookFixture(dir: string): Promise<string> {
  mkdirSync(path.join(dir, 'notebooks'), { recursive: true });
  writeFileSync(
    path.join(dir, 'README.md'),
    [
      '# fixture-book',
      '',
      'A fixture suite for the book builder, see [the second notebook](notebooks/b-second.ipynb).',
      '',
      '## Quick start',
      '',
      '```sh',
      'npm install && npm start',
      '```',
      '',
      '## The notebooks',
      '',
      '| notebook | what you learn |',
      '| --- | --- |',
      '| [a-first](notebooks/a-first.ipynb) | math, errors, charts with params |',
      '| [b-second](notebooks/b-second.ipynb) | a picture compressed by the SVD |',
      '',
      '## Other',
      '',
      'See [the results](bench/RESULTS.md).',
      '',
    ].join('\n'),
  );
  writeFileSync(path.join(dir, 'notebooks', 'stripes.png'), grayPng([[0, 1, 0, 1], [1, 0, 1, 0]], 8));
  const rank = await chartDisplay(rankSweepSpec(), true);
  const curve = await chartDisplay(trainingCurveSpec(), false);
  const bars = await chartDisplay(barChart([{ k: 1, v: 3 }, { k: 2, v: 1 }], { x: 'k', y: 'v', title: 'bars' }), false);
  const a = notebook([
    md('# A · First notebook\n\nInline $\\sigma_1 \\ge \\sigma_2$, Jupyter\'s \\(W_0 + \\Delta W\\) and `$not math$` in code.'),
    md('## Display math\n\n$$\\Delta W = B A, \\quad \\text{scaling} = \\frac{\\alpha}{r}$$\n\n\\[ \\|M - M_k\\|_F^2 = \\sum_{i>k} \\sigma_i^2 \\]\n\n' +
      '\\begin{align}\ny &= W_0 x + \\tfrac{\\alpha}{r} B A x\n\\end{align}\n\nOn to [the picture](b-second.ipynb#Compressing-a-picture).\n\n![stripes](stripes.png)'),
    code('console.log("hello"); console.error("careful");', [stream('stdout', 'hello\n'), stream('stderr', 'careful\n')]),
    code('showTable(rows);', [display(tableBundle([{ r: 8, 'val loss': 2.15 }, { r: 16, 'val loss': 2.1 }], { title: 'a table' }))]),
    code('await showChart(rankSweep);', [rank]),
    code('await progress.done();', [curve, bars]),
    code('throw new Error("boom");', [{ output_type: 'error', ename: 'Error', evalue: 'boom', traceback: ['\u001b[31mError: boom\u001b[0m', '    at <cell>:1:7'] }]),
  ]);
  const b = notebook([
    md('# B · Second notebook'),
    md('## Compressing a picture\n\nBack to [the first](a-first.ipynb) and its [math](a-first.ipynb#Display-math).'),
    code('const img = demoPicture(32);\nawait showChart(heatmap(img));', [display({ 'image/png': Buffer.from(grayPng([[0.2, 0.8], [0.8, 0.2]], 16)).toString('base64'), 'text/plain': '<picture>' })]),
  ]);
  writeFileSync(path.join(dir, 'notebooks', 'a-first.ipynb'), JSON.stringify(a, null, 1));
  writeFileSync(path.join(dir, 'notebooks', 'b-second.ipynb'), JSON.stringify(b, null, 1));
  return dir;
}
