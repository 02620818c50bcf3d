// Live training progress in a notebook: one line that updates in place and a loss chart redrawn at most
// once a second (rendering a PNG costs tens of ms; redrawing every step would slow training down).
import { lineChart, type Row, type VegaLiteSpec } from '../charts/spec.js';
import { LiveOutput } from './display.js';
import { formatEta, formatProgress } from '../train/format.js';

/** Least time between two updates of the progress line, ms. */
const LINE_EVERY_MS = 200;

/** What a training loop reports each step (the shape src/train's progress callback passes). */
export interface StepReport {
  step: number;
  steps: number;
  loss: number;
  valLoss?: number;
  msPerStep?: number;
  etaMs?: number;
}

export interface NotebookProgressOptions {
  /** Chart title. @default 'training loss' */
  title?: string;
  /** Minimum time between chart redraws, ms. @default 1000 */
  chartEveryMs?: number;
}

/**
 * A progress callback for training loops: `await train({ ..., onProgress: p.update })`, then `await p.done()`
 * draws the final chart. Also keeps the history for later use (`p.history`).
 */
export function notebookProgress(options: NotebookProgressOptions = {}) {
  const line = new LiveOutput();
  const chart = new LiveOutput();
  const history: Row[] = [];
  let lastDraw = 0;
  let lastLine = 0;
  let last: StepReport | undefined;
  let pending: Promise<void> = Promise.resolve();
  const draw = (): Promise<void> => chart.chart(progressChart(history, options));
  return {
    history,
    update(r: StepReport): void {
      history.push({ step: r.step, loss: r.loss, val: r.valLoss ?? null });
      last = r;
      const now = Date.now();
      // tslab sends each display message without waiting for the previous one; sends that overlap make its
      // socket throw "Socket is busy writing" and the kernel dies. So the line updates at most every
      // LINE_EVERY_MS and the chart at most every chartEveryMs; done() shows the final state.
      if (now - lastLine >= LINE_EVERY_MS) {
        lastLine = now;
        line.text(formatStep(r));
      }
      if (now - lastDraw >= (options.chartEveryMs ?? 1000)) {
        lastDraw = now;
        pending = pending.then(draw);
      }
    },
    async done(): Promise<void> {
      await pending;
      if (last !== undefined) line.text(formatStep(last));
      if (history.length > 0) await draw();
    },
  };
}

/**
 * The live loss chart of notebookProgress: loss against step, and val as a line with a point at each step where it
 * was measured; zoomable along x with the nearest values on hover (Vega-Lite params, so JupyterLab and the book
 * both let a reader explore it).
 */
export function progressChart(history: Row[], options: NotebookProgressOptions = {}): VegaLiteSpec {
  const hasVal = history.some((r) => r['val'] !== null && r['val'] !== undefined);
  const spec = lineChart(history, {
    x: 'step',
    y: hasVal ? ['loss', 'val'] : 'loss',
    title: options.title ?? 'training loss',
    yTitle: 'loss',
    height: 200,
    // a reader zooms into the late steps, where the loss is small, and reads values on hover
    zoom: true,
    pick: false,
  });
  if (!hasVal) return spec;
  // val is measured every few steps and null in between. Vega-Lite breaks a line at every null, which leaves each
  // val point without a neighbour, so no val line would be drawn: the nulls are dropped after the fold, joining
  // the measured points (loss has no nulls). Points mark where val was measured (one measurement is still seen).
  const layers = spec['layer'] as VegaLiteSpec[];
  const enc = layers[0]!['encoding'] as Record<string, unknown>;
  const valPoints: VegaLiteSpec = {
    transform: [{ filter: "datum.series === 'val'" }],
    mark: { type: 'point', filled: true, size: 36 },
    encoding: { x: enc['x'], y: enc['y'], color: enc['color'] },
  };
  const transform = (spec['transform'] as unknown[] | undefined) ?? [];
  return { ...spec, transform: [...transform, { filter: 'isValid(datum.value)' }], layer: [...layers, valPoints] };
}

/** The house log line: `step 100/500  loss 0.4123  val 0.4410  12.3 ms/step  ETA 5 s` (train's, plus the ETA). */
export function formatStep(r: StepReport): string {
  return r.etaMs === undefined ? formatProgress(r) : `${formatProgress(r)}  ETA ${formatEta(r.etaMs)}`;
}

/** "45 s", "3 min 5 s", "1 h 2 min": the same text the CLI prints. */
export const formatDuration = formatEta;
