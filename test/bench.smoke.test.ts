// A seconds-long smoke run of the benchmark (bench/run.ts) on tiny sizes: every section produces finite
// figures, the goals are evaluated, the report prints its tables, the result is plain JSON, and nothing leaks.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { gemmThreads, releaseBackend } from '../src/backend/index.js';
import { defaultOptions, formatReport, runBench } from '../bench/run.js';
import { parseVariants } from '../bench/lib/variants.js';
import { median, table } from '../bench/lib/timing.js';

describe('bench', () => {
  after(() => releaseBackend());

  it('median and table helpers', () => {
    assert.equal(median([5, 1, 3]), 3);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.throws(() => median([]), /empty/);
    assert.equal(table(['a', 'bb'], [['xyz', '1']]), 'a    bb\n---  --\nxyz   1');
    assert.throws(() => parseVariants('wasm,tpu'), /unknown backend 'tpu'; valid: node-gpu, node, webgpu, wasm/);
  });

  it('runs every section on tiny sizes and reports the goals', async () => {
    const o = { ...defaultOptions(false), variants: parseVariants('wasm,cpu-stock'), preset: 'nano' as const, batchSize: 2,
      sizes: [16, 32], svdSizes: [24], threadSizes: [64], torch: false }; // the PyTorch peer has its own test
    const lines: string[] = [];
    const before = tf.memory().numTensors;
    const r = await runBench(o, (l) => lines.push(l));
    assert.equal(tf.memory().numTensors, before, 'bench leaked tensors');
    assert.deepEqual(r.variants.map((v) => v.id), ['wasm', 'cpu-stock']);
    const wasm = r.variants[0]!;
    assert.equal(wasm.fastMatMul, true);
    assert.deepEqual(wasm.matmul!.map((m) => m.n), [16, 32]);
    for (const m of wasm.matmul!) assert.ok(m.gflops > 0 && Number.isFinite(m.gflopsTransposed));
    const t = wasm.training!;
    assert.ok(t.lora.ms > 0 && t.full.ms > 0 && t.base.ms > 0);
    assert.equal(t.contextLength, 32); // nano's context: rows padded to it
    assert.ok(t.lora.trainableParams < t.full.trainableParams);
    assert.equal(t.full.optimizerBytes, 8 * t.full.trainableParams); // Adam: m and v, 4 bytes each
    assert.ok(wasm.inference!.mergeMaxAbsDiff < 1e-4, `merge changed logits by ${wasm.inference!.mergeMaxAbsDiff}`);
    assert.equal(r.variants[1]!.trainingSkipped, 'too slow for the default time budget (run with --all)');
    assert.equal(r.svd[0]!.n, 24);
    assert.equal(r.pytorch, null);
    const stepGoal = r.goals.find((g) => g.goal === 'LoRA step <= 0.8x full step on wasm')!;
    assert.equal(stepGoal.met, t.loraOverFull <= 0.8);
    const stateGoal = r.goals.find((g) => g.goal.startsWith('LoRA optimizer state'));
    assert.equal(stateGoal?.met, t.lora.optimizerBytes <= 0.05 * t.full.optimizerBytes); // nano: r = 8 is ~7 % of it
    assert.doesNotThrow(() => JSON.parse(JSON.stringify(r)));
    const text = formatReport(r);
    for (const heading of ['matMul GFLOP/s', 'training step', 'inference:', 'memory', 'SVD on the CPU', 'goals']) {
      assert.ok(text.includes(heading), `report lacks '${heading}'`);
    }
    assert.ok(lines.some((l) => l.startsWith('wasm: training steps')));
    if (gemmThreads() > 1) {
      const th = r.threads!;
      assert.equal(th.threads, gemmThreads());
      assert.deepEqual(th.matmul.map((m) => m.n), [64]);
      assert.ok(th.matmul[0]!.gflops1 > 0 && th.matmul[0]!.gflopsN > 0);
      assert.deepEqual(th.training.map((x) => x.kind), ['full', 'lora']);
      assert.ok(th.training.every((x) => x.ms1 > 0 && x.msN > 0 && Number.isFinite(x.speedup)));
      assert.ok(text.includes(`threads: the GEMM on 1 thread vs ${th.threads}`));
      assert.ok(r.goals.some((g) => g.goal.startsWith('full training step on')));
    } else {
      assert.match(r.threadsSkipped ?? '', /one thread here/);
    }
  });
});
