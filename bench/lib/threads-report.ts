// The thread comparison as text tables (bench/threads.ts and the threads section of `npm run bench`): 1 thread vs
// N for matMul, the training step and the cut-over scan, and the per-kernel profile of a step.
import { DEFAULT_WORKER_SPIN_US, THREAD_MIN_FLOPS } from '../../src/backend/index.js';
import { MATMUL_KERNELS, type StepProfile } from './profile.js';
import type { Paired, ThreadsResult } from './threads.js';
import { formatMs, formatRatio, table } from './timing.js';

const load = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(' ');
const cpuCells = (p: Paired) => [formatRatio(p.cpuSpeedup)];

export function formatThreads(r: ThreadsResult): string[] {
  const N = r.threads;
  const out: string[] = [];
  out.push(`threads: the GEMM on 1 thread vs ${N} (${r.backend}; rounds interleaved; medians; speed-up = median of per-round ratios)`);
  out.push(`load average (1, 5, 15 min) before ${load(r.loadBefore)}, after ${load(r.loadAfter)}; ${r.stats.workers} worker threads, ` +
    `${r.stats.workerChunks} chunks computed by them`);
  out.push('"best rounds": fastest round at 1 thread / fastest at N; "CPU ratio": busiest thread\'s CPU time at 1 thread / at N.');
  out.push('When other processes load the machine, those two say what an idle one would show.');
  out.push('', `matMul Aᵀ·B GFLOP/s (tf.matMul, n×n float32, result read back)`);
  out.push(
    table(
      ['n', '1 thread', `${N} threads`, 'speed-up', 'best rounds', 'CPU ratio'],
      r.matmul.map((m) => [String(m.n), m.gflops1.toFixed(2), m.gflopsN.toFixed(2), formatRatio(m.speedup), formatRatio(m.bestSpeedup),
        ...cpuCells(m)]),
    ),
  );
  if (r.training.length > 0) {
    const peer = (threads: number, kind: 'full' | 'lora') => {
      const p = r.peer?.find((x) => x.threads === threads);
      return p === undefined ? undefined : kind === 'full' ? p.fullMs : p.loraMs;
    };
    const withPeer = r.peer !== undefined;
    out.push('', `training step (${r.trainingLabel ?? 'GPT'}: loss, gradients, clipping, Adam)`);
    out.push(
      table(
        ['step', '1 thread', `${N} threads`, 'speed-up', 'best rounds', 'CPU ratio',
          ...(withPeer ? ['PyTorch 1', `PyTorch ${N}`, `lora-lab/PyTorch @${N}`] : [])],
        r.training.map((t) => {
          const p1 = peer(1, t.kind);
          const pN = peer(N, t.kind);
          return [t.kind === 'full' ? 'full' : 'LoRA', formatMs(t.ms1), formatMs(t.msN), formatRatio(t.speedup),
            formatRatio(t.bestSpeedup), ...cpuCells(t),
            ...(withPeer ? [p1 === undefined ? '—' : formatMs(p1), pN === undefined ? '—' : formatMs(pN),
              pN === undefined ? '—' : formatRatio(t.msN / pN)] : [])];
        }),
      ),
    );
  }
  if (r.cutover !== undefined) {
    out.push('', 'cut-over scan: the GEMM alone, every product shared (THREAD_MIN_FLOPS ignored), µs per product (wall clock:')
    out.push('hand-off latency is the point here, so only a quiet machine gives the true cut-over)');
    out.push(
      table(
        ['shape', 'MFLOP', '1 thread', `${N} threads`, 'speed-up', 'best rounds'],
        r.cutover.map((c) => [c.shape, (c.flops / 1e6).toFixed(2), (c.ms1 * 1000).toFixed(0), (c.msN * 1000).toFixed(0),
          formatRatio(c.speedup), formatRatio(c.bestSpeedup)]),
      ),
    );
    const mflop = (f: number | undefined) => (f === undefined ? 'none of these sizes' : `${(f / 1e6).toFixed(2)} MFLOP`);
    out.push(`every product from ${mflop(r.cutoverFlops)} up ran faster on ${N} threads (median rounds; best rounds: from ` +
      `${mflop(r.cutoverFlopsBest)}); THREAD_MIN_FLOPS = ${mflop(THREAD_MIN_FLOPS)}`);
    if (r.wake !== undefined) {
      out.push(`waking a worker blocked in Atomics.wait: ${r.wake.medianUs.toFixed(0)} µs median, ${r.wake.p90Us.toFixed(0)} µs p90; ` +
        `two median wakes = a ${mflop(r.wake.twoWakesFlops)} product on one thread`);
    }
  }
  if (r.spins !== undefined) {
    out.push('', `worker spin before sleeping (DEFAULT_WORKER_SPIN_US = ${DEFAULT_WORKER_SPIN_US}), ${N} threads vs 1, interleaved`);
    out.push(table(['work', 'spin µs', `${N} threads`, 'speed-up'],
      r.spins.map((x) => [x.what, String(x.spinUs), formatMs(x.ms), formatRatio(x.speedup)])));
  }
  return out;
}

export function formatProfile(p: StepProfile, top = 12): string[] {
  const N = p.threads;
  const share = (ms: number, total: number) => `${((100 * ms) / total).toFixed(1)} %`;
  const shown = p.kernels.slice(0, top);
  const rest = p.kernels.slice(top);
  const restRow = (k: 'ms1' | 'msN') => rest.reduce((s, x) => s + x[k], 0);
  const mm = (k: 'ms1' | 'msN') => p.kernels.filter((x) => MATMUL_KERNELS.has(x.kernel)).reduce((s, x) => s + x[k], 0);
  return [
    '',
    `per-kernel profile of one ${p.kind === 'full' ? 'full' : 'LoRA'} step (tf.profile; kernel ms summed over the step, median of ` +
      `profiled steps; profiling adds its own overhead)`,
    table(
      ['kernel', 'calls', '1 thread', 'share', `${N} threads`, 'share', 'speed-up'],
      [
        ...shown.map((k) => [k.kernel, String(k.calls), formatMs(k.ms1), share(k.ms1, p.total1), formatMs(k.msN), share(k.msN, p.totalN),
          formatRatio(k.ms1 / k.msN)]),
        ...(rest.length > 0 ? [[`${rest.length} others`, '', formatMs(restRow('ms1')), share(restRow('ms1'), p.total1),
          formatMs(restRow('msN')), share(restRow('msN'), p.totalN), '']] : []),
        ['all kernels', '', formatMs(p.total1), '', formatMs(p.totalN), '', formatRatio(p.total1 / p.totalN)],
        ['  matrix products', '', formatMs(mm('ms1')), share(mm('ms1'), p.total1), formatMs(mm('msN')), share(mm('msN'), p.totalN),
          formatRatio(mm('ms1') / mm('msN'))],
      ],
    ),
  ];
}
