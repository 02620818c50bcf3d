// Text for training progress, in the house log shape: `step 100/500  loss 0.4123  val 0.4410  12.3 ms/step`,
// plus a bar and ETA for terminals. Pure string functions: the CLI and notebooks decide where text goes.
import type { Progress } from './loop.js';

/** "45 s", "3 min 5 s", "1 h 2 min". */
export function formatEta(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${s % 60} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** The stable log line. `val` appears only on steps where it was measured. */
export function formatProgress(
  p: Pick<Progress, 'step' | 'steps' | 'loss' | 'valLoss'> & { msPerStep?: number },
): string {
  const parts = [`step ${p.step}/${p.steps}`, `loss ${p.loss.toFixed(4)}`];
  if (p.valLoss !== undefined) parts.push(`val ${p.valLoss.toFixed(4)}`);
  if (p.msPerStep !== undefined) parts.push(`${p.msPerStep.toFixed(1)} ms/step`);
  return parts.join('  ');
}

/** `[########------------] ` + the log line + `  ETA 1 min 5 s`, for a terminal line redrawn in place. */
export function formatProgressBar(p: Progress, width = 20): string {
  const filled = p.steps === 0 ? width : Math.round((width * p.step) / p.steps);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${formatProgress(p)}  ETA ${formatEta(p.etaMs)}`;
}
