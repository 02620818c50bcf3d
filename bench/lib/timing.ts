// Timing helpers for the benchmarks: wall-clock milliseconds of async work (which awaits its read-back, so GPU
// work is finished when the clock stops), medians, and formatting. Benchmarks print these; tests never assert them.
export { formatBytes } from '../../src/train/memory.js';

/** Median of a non-empty list. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error('median of an empty list');
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Milliseconds one call of `fn` takes (it must await its own results). */
export async function timeOnce(fn: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

/**
 * Runs several measured functions interleaved, `reps` rounds after `warmup` rounds, so that load from other
 * processes hits them alike and their ratios stay meaningful on a shared machine. Returns each one's times.
 */
export async function interleaved<K extends string>(
  fns: Record<K, () => Promise<void>>,
  reps: number,
  warmup = 1,
): Promise<Record<K, number[]>> {
  const names = Object.keys(fns) as K[];
  const out = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<K, number[]>;
  for (let round = 0; round < warmup + reps; round++) {
    for (const n of names) {
      const ms = await timeOnce(fns[n]);
      if (round >= warmup) out[n].push(ms);
    }
  }
  return out;
}

/** "12.3 ms", "1.23 s". */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '—';
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  return `${ms >= 100 ? ms.toFixed(0) : ms.toFixed(1)} ms`;
}

/** "0.78×" */
export function formatRatio(x: number | undefined): string {
  return x === undefined || !Number.isFinite(x) ? '—' : `${x >= 10 ? x.toFixed(1) : x.toFixed(2)}×`;
}

/** A plain-text table: header row, a rule, then rows; columns padded to their widest cell. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}
