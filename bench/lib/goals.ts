// The performance goals the bench checks, each with the measured figure and by how much it is met or missed.
// LoRA's claims (Hu et al. 2021): a cheaper step and fewer trainable parameters and optimizer state (§4.2), no added
// inference latency once merged (§4.1); the CPU matMul goal for machines without tfjs-node; PyTorch on the same CPU;
// the worker threads' goals.
import type { BenchResult } from '../run.js';

export interface Goal {
  goal: string;
  /** undefined: not measurable in this run (e.g. training was skipped). */
  met: boolean | undefined;
  detail: string;
}

const pct = (x: number) => `${(100 * x).toFixed(1)} %`;

export function evaluateGoals(r: Omit<BenchResult, 'goals' | 'seconds'>): Goal[] {
  const goals: Goal[] = [];
  const ran = r.variants.filter((v) => v.unavailable === undefined);
  const trained = ran.filter((v) => v.training !== undefined);

  // 1. LoRA step ≤ 0.8 × full step on wasm (the CPU path without tfjs-node); the others are reported beside it.
  const wasm = trained.find((v) => v.id === 'wasm');
  if (trained.length === 0) {
    goals.push({ goal: 'LoRA step <= 0.8x full step on wasm', met: undefined, detail: 'training not timed in this run' });
  } else {
    const parts = trained.map((v) => `${v.id} ${v.training!.loraOverFull.toFixed(2)}x`).join(', ');
    const ratio = wasm?.training?.loraOverFull;
    goals.push({
      goal: 'LoRA step <= 0.8x full step on wasm',
      met: ratio === undefined ? undefined : ratio <= 0.8,
      detail: `${parts}${ratio !== undefined && ratio > 0.8 ? ` (wasm missed by ${pct(ratio / 0.8 - 1)})` : ''}`,
    });
  }

  // 2. Merged inference within 3 % of the base model on wasm, either way (it is the same product); slow backends,
  // which afford only a few rounds, are reported beside it.
  if (trained.length > 0) {
    const parts = trained.map((v) => `${v.id} ${v.inference!.mergedOverBase.toFixed(3)}x`).join(', ');
    const ratio = wasm?.inference?.mergedOverBase;
    goals.push({
      goal: "merged LoRA inference within 3 % of the base model's latency on wasm",
      met: ratio === undefined ? undefined : Math.abs(ratio - 1) <= 0.03,
      detail: `${parts}${ratio !== undefined && Math.abs(ratio - 1) > 0.03 ? ' (wasm outside ±3 %)' : ''}`,
    });
  }

  // 3. LoRA's optimizer state ≤ 5 % of full fine-tuning's at r = 8.
  if (trained.length > 0) {
    const t = trained[0]!.training!;
    const ratio = t.lora.optimizerBytes / t.full.optimizerBytes;
    goals.push({
      goal: "LoRA optimizer state <= 5 % of full fine-tuning's (r = 8)",
      met: ratio <= 0.05,
      detail: `${pct(ratio)} (${t.lora.optimizerBytes.toLocaleString('en-US')} vs ${t.full.optimizerBytes.toLocaleString('en-US')} bytes)`,
    });
  }

  // 4. CPU without tfjs-node: matMul >= 10x today's cpu backend and >= 3 GFLOP/s.
  const stock = ran.find((v) => v.id === 'cpu-stock');
  const cpuPaths = ran.filter((v) => ['wasm', 'wasm-stock', 'cpu'].includes(v.id) && v.matmul?.length);
  if (stock?.matmul?.length && cpuPaths.length > 0) {
    // Compare at the largest size both measured, on the slower of A·B and Aᵀ·B (training needs both).
    const scored = cpuPaths.map((v) => {
      const n = Math.max(...v.matmul!.map((m) => m.n).filter((n) => stock.matmul!.some((s) => s.n === n)));
      const mine = v.matmul!.find((m) => m.n === n)!;
      const ref = stock.matmul!.find((m) => m.n === n)!;
      const g = Math.min(mine.gflops, mine.gflopsTransposed);
      return { id: v.id, n, g, ratio: g / Math.min(ref.gflops, ref.gflopsTransposed) };
    });
    const best = scored.reduce((a, b) => (b.g > a.g ? b : a));
    goals.push({
      goal: 'CPU matMul without tfjs-node >= 10x the stock cpu backend and >= 3 GFLOP/s',
      met: best.ratio >= 10 && best.g >= 3,
      detail: scored.map((s) => `${s.id} ${s.g.toFixed(2)} GFLOP/s = ${s.ratio.toFixed(1)}x at n=${s.n} (min of A·B, Aᵀ·B)`).join('; '),
    });
  }

  // 5. Against the PyTorch peer on the same CPU, shape and thread count (a report, not a pass/fail goal).
  const peer = r.pytorch !== null && !('unavailable' in r.pytorch) ? r.pytorch : undefined;
  if (peer && trained.length > 0) {
    const cpuLike = trained.filter((v) => v.backend !== 'webgpu' && v.backend !== 'node-gpu');
    if (cpuLike.length > 0) {
      const best = cpuLike.reduce((a, b) => (b.training!.full.ms < a.training!.full.ms ? b : a));
      goals.push({
        goal: `vs PyTorch ${peer.torch} on the same CPU (${peer.threads} thread${peer.threads === 1 ? '' : 's'}; measured in this run)`,
        met: undefined,
        detail:
          `${best.id}: full ${(best.training!.full.ms / peer.full.ms).toFixed(2)}x, LoRA ${(best.training!.lora.ms / peer.lora.ms).toFixed(2)}x ` +
          `PyTorch's time; LoRA/full ${best.training!.loraOverFull.toFixed(2)} here vs ${peer.loraOverFull.toFixed(2)} in PyTorch`,
      });
    }
  }
  goals.push(...threadGoals(r));
  return goals;
}

/** The worker threads' goals (2 cores): matMul >= 1.7x at n = 1024, full step >= 1.25x, >= 2x PyTorch at equal threads. */
function threadGoals(r: Omit<BenchResult, 'goals' | 'seconds'>): Goal[] {
  const t = r.threads;
  if (t === undefined) {
    const why = r.threadsSkipped ?? 'not measured';
    return [{ goal: `threaded GEMM vs one thread`, met: undefined, detail: why }];
  }
  const load = `load ${t.loadBefore[0]!.toFixed(1)} -> ${t.loadAfter[0]!.toFixed(1)}`;
  const cpu = (x: number | undefined) => (x === undefined ? '' : `, CPU-time ratio ${x.toFixed(2)}x`);
  const goals: Goal[] = [];
  const m = t.matmul.find((x) => x.n === 1024);
  goals.push(m === undefined
    ? { goal: `matMul at n = 1024 on ${t.threads} threads >= 1.7x one thread`, met: undefined, detail: 'n = 1024 not measured' }
    : {
      goal: `matMul at n = 1024 on ${t.threads} threads >= 1.7x one thread`,
      met: m.speedup >= 1.7,
      detail: `${m.speedup.toFixed(2)}x (${m.gflops1.toFixed(1)} -> ${m.gflopsN.toFixed(1)} GFLOP/s${cpu(m.cpuSpeedup)}; ${load})`,
    });
  const full = t.training.find((x) => x.kind === 'full');
  if (full !== undefined) {
    goals.push({
      goal: `full training step on ${t.threads} threads >= 1.25x one thread`,
      met: full.speedup >= 1.25,
      detail: `${full.speedup.toFixed(2)}x (${full.ms1.toFixed(0)} -> ${full.msN.toFixed(0)} ms${cpu(full.cpuSpeedup)}; ${load})`,
    });
    const peer = t.peer?.find((x) => x.threads === t.threads);
    goals.push(peer === undefined
      ? { goal: `full step >= 2x faster than PyTorch at ${t.threads} threads`, met: undefined, detail: 'no PyTorch peer in this run' }
      : {
        goal: `full step >= 2x faster than PyTorch at ${t.threads} threads`,
        met: peer.fullMs / full.msN >= 2,
        detail: `${(peer.fullMs / full.msN).toFixed(2)}x (${full.msN.toFixed(0)} vs ${peer.fullMs.toFixed(0)} ms)`,
      });
  }
  return goals;
}
