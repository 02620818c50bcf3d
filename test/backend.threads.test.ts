// The threaded GEMM (src/backend/gemm-threads.ts): results equal the single-threaded path bit for bit at any thread
// count, the counters show that worker threads computed chunks, one pool serves cpu and wasm, LORA_LAB_THREADS is
// parsed with a useful error, and a process that trained on threads exits by itself with the same losses.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { kernelModule, MAX_PAGES } from '../src/backend/gemm-kernel.js';
import { GemmPool, type Kernels } from '../src/backend/gemm-threads.js';
import {
  batchMatMulF32, cpuQuota, defaultThreads, gemmThreads, parseCpuMax, gemmThreadStats, gemmThreadsReady, releaseBackend, setGemmThreads,
  THREAD_MIN_FLOPS, threadsFromEnv, useBackend,
} from '../src/backend/index.js';

/** Deterministic values in [−1, 1). */
function values(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

/** Index of the first element where two arrays differ as bits (NaN-safe), or -1. */
function firstDifference(x: Float32Array, y: Float32Array): number {
  assert.equal(x.length, y.length);
  const xi = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const yi = new Uint32Array(y.buffer, y.byteOffset, y.length);
  for (let i = 0; i < xi.length; i++) if (xi[i] !== yi[i]) return i;
  return -1;
}

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

describe('threaded GEMM', () => {
  before(async () => {
    setGemmThreads(3); // more threads than this machine may have cores: the split must not matter
    const s = await gemmThreadsReady();
    assert.equal(s.unavailable, undefined, s.unavailable);
    assert.equal(s.workersReady, 2);
  });
  after(() => {
    setGemmThreads();
    releaseBackend();
  });

  // [batchA, batchB, M, K, N]: odd edges (not multiples of the 4×8 tile), K past one 256 block, broadcasts, an
  // attention-shaped batch, a rank-8 LoRA product and one product too small for the threads.
  const shapes = [
    [1, 1, 300, 700, 130],
    [1, 1, 2048, 128, 8],
    [3, 3, 13, 600, 77],
    [128, 128, 64, 32, 64],
    [1, 5, 70, 90, 33],
    [6, 1, 33, 257, 20],
    [1, 1, 8, 8, 8],
  ] as const;

  it('equals the single-threaded result bit for bit at 1, 2 and 3 threads, every transpose', () => {
    for (const [batchA, batchB, M, K, N] of shapes) {
      for (const ta of [false, true]) {
        for (const tb of [false, true]) {
          const a = values(batchA * M * K, M + K);
          const b = values(batchB * K * N, K + N);
          const bias = ta === tb ? values(N, 5) : undefined; // the epilogue too, on half the cases
          const run = (threads: number) => {
            setGemmThreads(threads);
            return batchMatMulF32(a, ta ? [batchA, K, M] : [batchA, M, K], b, tb ? [batchB, N, K] : [batchB, K, N], ta, tb,
              undefined, { bias, relu: ta });
          };
          const one = run(1);
          for (const threads of [2, 3]) {
            const calls = gemmThreadStats().threadedCalls;
            const many = run(threads);
            const big = 2 * Math.max(batchA, batchB) * M * N * K >= THREAD_MIN_FLOPS;
            assert.equal(gemmThreadStats().threadedCalls, calls + (big ? 1 : 0), `threaded path taken iff ${big}`);
            const at = firstDifference(one, many);
            assert.equal(at, -1, `[${batchA}|${batchB}, ${M}, ${K}, ${N}] ta=${ta} tb=${tb} threads=${threads}: element ${at}`);
          }
        }
      }
    }
  });

  it('worker threads compute chunks (the counter), and only for products past the cut-over', () => {
    setGemmThreads(2);
    const n = 512;
    const a = values(n * n, 1);
    const before = gemmThreadStats();
    for (let i = 0; i < 4; i++) batchMatMulF32(a, [1, n, n], a, [1, n, n], false, true);
    const mid = gemmThreadStats();
    assert.equal(mid.threadedCalls, before.threadedCalls + 4);
    // Each product is 64 chunks; with a running worker, a share of them is very likely its (not guaranteed for one
    // product on a loaded machine, hence four).
    assert.ok(mid.workerChunks > before.workerChunks, `no chunk computed by a worker: ${JSON.stringify(mid)}`);
    batchMatMulF32(a.subarray(0, 16 * 16), [1, 16, 16], a.subarray(0, 16 * 16), [1, 16, 16], false, false);
    assert.equal(gemmThreadStats().threadedCalls, mid.threadedCalls, 'a 16³ product stays on the calling thread');
  });

  it('cpu and wasm share one pool: workers start once', async () => {
    setGemmThreads(2);
    const n = 256;
    for (const backend of ['cpu', 'wasm'] as const) {
      const info = await useBackend(backend, { log: null });
      assert.equal(info.threads, 2);
      const before = tf.memory().numTensors;
      const calls = gemmThreadStats().threadedCalls;
      const x = tf.tensor2d(values(n * n, 2), [n, n]); // [n, n]
      const y = tf.matMul(x, x, true, false); // [n, n]: Aᵀ·B, the shape of a weight gradient
      const got = await y.data();
      tf.dispose([x, y]);
      assert.equal(tf.memory().numTensors, before);
      assert.equal(gemmThreadStats().threadedCalls, calls + 1, `${backend}: threaded path not taken`);
      setGemmThreads(1);
      const ref = batchMatMulF32(values(n * n, 2), [1, n, n], values(n * n, 2), [1, n, n], true, false);
      setGemmThreads(2);
      assert.equal(firstDifference(got as Float32Array, ref), -1, `${backend}: differs from one thread`);
    }
    assert.equal(gemmThreadStats().workers, 2, 'the pool started for 3 threads keeps its 2 workers, no more');
  });

  it('LORA_LAB_THREADS: a count, the default (cores, container quota, 8), a one-line error naming a bad value', () => {
    assert.equal(threadsFromEnv('1'), 1);
    assert.equal(threadsFromEnv(' 4 '), 4);
    assert.equal(threadsFromEnv(undefined), defaultThreads());
    assert.equal(threadsFromEnv(''), defaultThreads());
    const quota = cpuQuota();
    assert.equal(defaultThreads(), Math.min(8, os.availableParallelism(), Math.ceil(quota ?? Infinity)));
    // A container's CPU quota: cgroup v2's cpu.max, or v1's quota and period joined the same way.
    assert.equal(parseCpuMax('200000 100000\n'), 2);
    assert.equal(parseCpuMax('150000 100000'), 1.5);
    assert.equal(parseCpuMax('max 100000'), undefined);
    assert.equal(parseCpuMax('-1 100000'), undefined);
    for (const bad of ['0', '-2', '1.5', 'four', '1000']) {
      assert.throws(() => threadsFromEnv(bad), (e: Error) => {
        assert.match(e.message, new RegExp(`^LORA_LAB_THREADS='${bad}' is not a thread count: set a whole number`));
        assert.ok(!e.message.includes('\n'));
        return true;
      });
    }
    assert.throws(() => setGemmThreads(0), /setGemmThreads\(0\): the thread count must be a whole number/);
    setGemmThreads();
    assert.equal(gemmThreads(), threadsFromEnv());
  });

  it('LORA_LAB_THREADS=1, 2 and the default train to identical losses (20 steps full, 20 LoRA); each exits by itself', () => {
    // No process.exit: the script's end must end the process, workers (unref'd) and all.
    const script = [
      "import { gemmThreadStats, useBackend } from './src/backend/index.js';",
      "import { Gpt } from './src/models/gpt.js';",
      "import { gptConfig } from './src/models/config.js';",
      "import { CharTokenizer } from './src/data/tokenizer.js';",
      "import { finetuneGpt } from './src/train/finetune.js';",
      "await useBackend('wasm', { log: null });",
      'const tok = new CharTokenizer();',
      'const losses = [];',
      "for (const method of ['full', 'lora']) {",
      "  const model = new Gpt(gptConfig({ preset: 'tiny', vocabSize: tok.vocabSize }), { seed: 1 });",
      '  const ft = await finetuneGpt(model, tok, { method, steps: 20, batchSize: 8, evalEvery: 20 });',
      '  losses.push(...ft.result.losses);',
      '}',
      'console.log(JSON.stringify({ losses, stats: gemmThreadStats() }));',
    ].join('\n');
    const run = (threads: string | undefined) => {
      const env = { ...process.env };
      if (threads === undefined) delete env['LORA_LAB_THREADS'];
      else env['LORA_LAB_THREADS'] = threads;
      const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        cwd: root,
        encoding: 'utf8',
        env,
        timeout: 120_000, // a worker keeping the process alive would run into this
      });
      assert.equal(child.error, undefined, `LORA_LAB_THREADS=${threads}: did not exit by itself: ${String(child.error)}`);
      assert.equal(child.status, 0, child.stderr);
      return JSON.parse(child.stdout.trim().split('\n').at(-1)!) as {
        losses: number[];
        stats: ReturnType<typeof gemmThreadStats>;
      };
    };
    const one = run('1');
    const two = run('2');
    const byDefault = run(undefined);
    assert.equal(one.losses.length, 40);
    assert.deepEqual(two.losses, one.losses);
    assert.deepEqual(byDefault.losses, one.losses);
    assert.equal(byDefault.stats.threads, defaultThreads());
    if (defaultThreads() > 1) assert.ok(byDefault.stats.workerChunks > 0, JSON.stringify(byDefault.stats));
    assert.equal(one.stats.threads, 1);
    assert.equal(one.stats.threadedCalls, 0);
    assert.equal(two.stats.threads, 2);
    assert.ok(two.stats.threadedCalls > 0, JSON.stringify(two.stats));
    assert.ok(two.stats.workerChunks > 0, `the worker computed nothing: ${JSON.stringify(two.stats)}`);
  });

  it('works inside a real tslab kernel (test/fixtures/tslab/threads.ipynb)', () => {
    // The kernel imports the built package (dist/): `npm test` builds it first (pretest), `npm run setup` does too.
    const built = path.join(root, 'dist', 'backend', 'gemm-threads.js');
    assert.ok(existsSync(built), `${built} is missing: run \`npm run setup\` first`);
    const notebook = path.join(root, 'test', 'fixtures', 'tslab', 'threads.ipynb');
    const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'scripts', 'notebooks.ts'), 'check', '--no-build', notebook], {
      cwd: root,
      encoding: 'utf8',
      timeout: 180_000,
    });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /^notebooks: 1 passed, 0 failed$/m);
  });

  it('a chunk that traps makes the product throw, on any thread, instead of hanging', async () => {
    const module = new WebAssembly.Module(kernelModule(true));
    const memory = new WebAssembly.Memory({ initial: 1, maximum: MAX_PAGES, shared: true });
    const e = new WebAssembly.Instance(module, { env: { mem: memory } }).exports as unknown as Kernels;
    const pool = new GemmPool(module, memory, e);
    pool.grow(1);
    assert.equal(await pool.ready(), 1);
    // A past the end of the 64 KiB memory: every chunk's first load traps.
    const job = { mTiles: 16, nPanels: 8, K: 64, Kp: 64, kc: 256, mcTiles: 4, aBase: 2 ** 30, aStep: 0, bBase: 0, bStep: 0,
      cBase: 0, cStep: 0, rowBlocks: 4, groups: 2, groupPanels: 4, total: 8, threads: 2, bias: 0, epilogue: 0 };
    assert.throws(() => pool.run(job, 1e5), /a chunk of a threaded matMul failed .* set LORA_LAB_THREADS=1/);
  });

  it('useBackend names a bad LORA_LAB_THREADS', () => {
    const script = "import { useBackend } from './src/backend/index.js'; await useBackend('cpu', { log: null });";
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, LORA_LAB_THREADS: 'lots' },
      timeout: 60_000,
    });
    assert.notEqual(child.status, 0);
    assert.match(child.stderr, /LORA_LAB_THREADS='lots' is not a thread count/);
  });
});
