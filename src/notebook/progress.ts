// Live training progress in a notebook: one line that updates in place and a loss chart redrawn at most
// once a second (rendering a PNG costs tens of ms; redrawing every step would slow training down).
import { lineChart, type Row } from '../charts/spec.js';
import { LiveOutput } from './display.js';

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
  let pending: Promise<void> = Promise.resolve();
  const draw = (): Promise<void> =>
    chart.chart(
      lineChart(history, {
        x: 'step',
        y: history.some((r) => r['val'] !== null) ? ['loss', 'val'] : 'loss',
        title: options.title ?? 'training loss',
        yTitle: 'loss',
        height: 200,
      }),
    );
  return {
    history,
    update(r: StepReport): void {
      history.push({ step: r.step, loss: r.loss, val: r.valLoss ?? null });
      line.text(formatStep(r));
      const now = Date.now();
      if (now - lastDraw >= (options.chartEveryMs ?? 1000)) {
        lastDraw = now;
        pending = pending.then(draw);
      }
    },
    async done(): Promise<void> {
      await pending;
      if (history.length > 0) await draw();
    },
  };
}

/** The house log line: `step 100/500  loss 0.4123  val 0.4410  12.3 ms/step  ETA 5 s`. */
export function formatStep(r: StepReport): string {
  const parts = [`step ${r.step}/${r.steps}`, `loss ${r.loss.toFixed(4)}`];
  if (r.valLoss !== undefined) parts.push(`val ${r.valLoss.toFixed(4)}`);
  if (r.msPerStep !== undefined) parts.push(`${r.msPerStep.toFixed(1)} ms/step`);
  if (r.etaMs !== undefined) parts.push(`ETA ${formatDuration(r.etaMs)}`);
  return parts.join('  ');
}

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${s % 60} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}
