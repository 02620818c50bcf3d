// `npm run bench`: every TF.js backend that loads here, side by side in one run — matMul GFLOP/s, a training
// step of the GPT (base forward + backward, LoRA, full fine-tuning), tokens/s, inference latency base vs unmerged
// vs merged LoRA, optimizer-state and peak tensor bytes, the GEMM at 1 thread vs all, SVD timings — and the PyTorch
// peer (bench/torch_peer.py) on the same GPT, batch, LoRA config and thread count when torch imports; ratio tables
// plus a JSON file. The per-backend sections run lora-lab's GEMM on --threads threads (default 1, like the peer).
// Run: npx tsx bench/run.ts [--quick] [--backends wasm,webgpu|all] [--preset bench] [--batch 32] [--threads 1]
// `--hf` runs bench/hf.ts instead: a GPT-2-small-shaped Hugging Face model (forward, KV-cached generation, load memory).
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gemmThreads, releaseBackend, setGemmThreads, useBackend } from '../src/backend/index.js';
import { GPT_PRESETS, type GptPresetName } from '../src/models/config.js';
import { benchMatMul, type MatMulRow } from './lib/matmul.js';
import { benchTraining, makeModels, type TrainingResult } from './lib/training.js';
import { benchInference, type InferenceResult } from './lib/inference.js';
import { benchSvd, type SvdRow } from './lib/svd.js';
import { describeMachine, machineSlug, type MachineInfo } from './lib/machine.js';
import { activate, parseVariants, type Variant } from './lib/variants.js';
import { evaluateGoals, type Goal } from './lib/goals.js';
import { runTorchPeer, type TorchPeerResult } from './lib/torch-peer.js';
import { CharTokenizer } from '../src/data/tokenizer.js';
import { DEFAULT_LORA } from '../src/train/finetune.js';
import { formatBytes, formatMs, formatRatio, table } from './lib/timing.js';
import { hfMain } from './hf.js';
import { benchThreads, type PeerSteps, type ThreadsResult } from './lib/threads.js';
import { formatThreads } from './lib/threads-report.js';

export interface BenchOptions {
  quick: boolean;
  variants: Variant[];
  preset: GptPresetName;
  batchSize: number;
  sizes: number[];
  svdSizes: number[];
  /** Time training on every variant, even those too slow for the default budget (cpu-stock). */
  all: boolean;
  /** Skip the training and inference sections (matMul and SVD only). */
  noTrain: boolean;
  /** Run the PyTorch peer beside the training step (when a Python with torch is found). */
  torch: boolean;
  /** GEMM threads of the per-backend sections and of their PyTorch peer. @default 1 (like with like) */
  threads: number;
  /** Skip the 1-thread vs N-thread comparison of the GEMM. */
  noThreads: boolean;
  /** matMul sizes of that comparison. */
  threadSizes: number[];
  /**
   * The PyTorch peer at a thread count (torch.set_num_threads), for the threads section's side-by-side column.
   * Not set: no PyTorch column there (runBench sets it when `torch` is on).
   */
  peer?: (threads: number) => Promise<PeerSteps | undefined>;
}

export interface VariantResult {
  id: string;
  backend: string;
  /** Why it did not run, when it could not load. */
  unavailable?: string;
  adapter?: string;
  fastMatMul?: boolean;
  matmul?: MatMulRow[];
  training?: TrainingResult;
  /** Why training was not timed on this backend. */
  trainingSkipped?: string;
  inference?: InferenceResult;
}

export interface BenchResult {
  what: string;
  date: string;
  quick: boolean;
  machine: MachineInfo;
  /** The backend `auto` picks here, and why. */
  auto: string;
  preset: GptPresetName;
  batchSize: number;
  /** The PyTorch peer on the same GPT, batch, LoRA config and thread count; null when not asked for. */
  pytorch: TorchPeerResult | { unavailable: string } | null;
  variants: VariantResult[];
  /** wasm's GEMM on 1 thread vs the default (LORA_LAB_THREADS, else the cores up to 8), interleaved. */
  threads?: ThreadsResult;
  /** Why the thread comparison did not run. */
  threadsSkipped?: string;
  svd: SvdRow[];
  goals: Goal[];
  /** Wall-clock seconds of the whole run. */
  seconds: number;
}

export function defaultOptions(quick: boolean): BenchOptions {
  return {
    quick,
    variants: parseVariants(undefined),
    preset: 'bench',
    batchSize: 32,
    sizes: quick ? [256, 512] : [128, 256, 512, 1024],
    svdSizes: quick ? [256] : [256, 512],
    all: false,
    noTrain: false,
    torch: true,
    threads: 1,
    noThreads: false,
    threadSizes: quick ? [256, 512] : [256, 512, 1024],
  };
}

/** Runs the benchmark; `log` receives progress lines (the tables are built from the returned result). */
export async function runBench(o: BenchOptions, log: (line: string) => void = () => {}): Promise<BenchResult> {
  const started = performance.now();
  const autoInfo = await useBackend('auto', { log: null });
  const auto = `${autoInfo.name} (${autoInfo.reason})`;
  const results: VariantResult[] = [];
  let webgpuAdapter: string | undefined;

  // The per-backend sections (and their PyTorch peer) run on o.threads GEMM threads; the threads section
  // below compares 1 thread with the default.
  setGemmThreads(o.threads);
  for (const v of o.variants) {
    const info = await activate(v);
    if (typeof info === 'string') {
      log(`${v.id}: not available (${info})`);
      results.push({ id: v.id, backend: v.backend, unavailable: info });
      continue;
    }
    if (info.adapter !== undefined) webgpuAdapter = info.adapter;
    const r: VariantResult = { id: v.id, backend: v.backend, adapter: info.adapter, fastMatMul: info.fastMatMul };
    results.push(r);
    log(`${v.id}: matMul ${o.sizes.join(', ')}`);
    r.matmul = await benchMatMul({ sizes: o.sizes, reps: o.quick ? 2 : 3 });

    if (o.noTrain) continue;
    if (!o.all && !v.trainsByDefault) {
      r.trainingSkipped = 'too slow for the default time budget (run with --all)';
    } else if (o.quick && !o.all && !(v.backend === autoInfo.name && v.fastMatMul === (autoInfo.fastMatMul ?? false))) {
      r.trainingSkipped = `--quick times training only on the backend auto picks (${autoInfo.name})`;
    }
    if (r.trainingSkipped !== undefined) {
      log(`${v.id}: training skipped (${r.trainingSkipped})`);
      continue;
    }
    log(`${v.id}: training steps (${o.preset}, batch ${o.batchSize})`);
    const models = makeModels(o.preset, o.batchSize);
    try {
      r.training = await benchTraining(models, {
        preset: o.preset,
        batchSize: o.batchSize,
        reps: o.quick ? 2 : 5,
        minReps: o.quick ? 1 : 2,
        budgetMs: o.quick ? 10_000 : 30_000,
      });
      log(`${v.id}: inference latency`);
      r.inference = await benchInference(models, o.quick ? 3 : 15, o.quick ? 5_000 : 25_000, o.quick ? 2 : 3);
    } finally {
      models.dispose();
    }
  }
  let pytorch: BenchResult['pytorch'] = null;
  if (o.torch && results.some((r) => r.training !== undefined)) {
    log(`PyTorch peer (${o.preset}, batch ${o.batchSize}, ${o.threads} thread${o.threads === 1 ? '' : 's'})`);
    pytorch = await runTorchPeer({
      preset: o.preset, batchSize: o.batchSize, vocab: new CharTokenizer().vocabSize, r: DEFAULT_LORA.r,
      alpha: DEFAULT_LORA.lora_alpha, targets: DEFAULT_LORA.target_modules, threads: o.threads,
      reps: o.quick ? 2 : 5, budgetS: o.quick ? 20 : 60,
    });
    if ('unavailable' in pytorch) log(`PyTorch peer: not run (${pytorch.unavailable})`);
  }
  setGemmThreads();
  const peer = o.peer ?? (o.torch ? torchSteps(o) : undefined);
  const threaded = await compareThreads({ ...o, peer }, log);
  log(`SVD ${o.svdSizes.join(', ')}`);
  const svd = await benchSvd(o.svdSizes, 16, o.quick ? 2 : 3);
  const machine = describeMachine(webgpuAdapter);
  const partial = {
    what: 'lora-lab bench: TF.js backends side by side (matMul, GPT training step, inference, memory, SVD)',
    date: new Date().toISOString(),
    quick: o.quick,
    machine,
    auto,
    preset: o.preset,
    batchSize: o.batchSize,
    pytorch,
    variants: results,
    ...threaded,
    svd,
  };
  return { ...partial, goals: evaluateGoals(partial), seconds: (performance.now() - started) / 1000 };
}

/** The GEMM at 1 thread vs the default thread count, on wasm (interleaved rounds), unless there is only one. */
/** The PyTorch peer's full and LoRA step at a thread count, for the threads section. */
function torchSteps(o: BenchOptions): (threads: number) => Promise<PeerSteps | undefined> {
  return async (threads) => {
    const r = await runTorchPeer({
      preset: o.preset, batchSize: o.batchSize, vocab: new CharTokenizer().vocabSize, r: DEFAULT_LORA.r,
      alpha: DEFAULT_LORA.lora_alpha, targets: DEFAULT_LORA.target_modules, threads,
      reps: o.quick ? 2 : 5, budgetS: o.quick ? 20 : 60,
    });
    return 'unavailable' in r ? undefined : { threads, fullMs: r.full.ms, loraMs: r.lora.ms };
  };
}

async function compareThreads(o: BenchOptions, log: (line: string) => void): Promise<{ threads?: ThreadsResult; threadsSkipped?: string }> {
  if (o.noThreads) return { threadsSkipped: '--no-threads' };
  const threads = gemmThreads();
  if (threads < 2) return { threadsSkipped: 'one thread here (LORA_LAB_THREADS=1 or a single core)' };
  const wasm = o.variants.find((v) => v.backend === 'wasm' && v.fastMatMul);
  if (wasm === undefined) return { threadsSkipped: 'wasm (with lora-lab\'s GEMM) not among --backends' };
  const info = await activate(wasm);
  if (typeof info === 'string') return { threadsSkipped: `wasm not available: ${info}` };
  const models = o.noTrain ? null : makeModels(o.preset, o.batchSize);
  try {
    const reps = o.quick ? 2 : 5;
    const modelsLabel = `GPT preset '${o.preset}', batch ${o.batchSize}`;
    return { threads: await benchThreads({ backend: 'wasm', threads, sizes: o.threadSizes, models, modelsLabel, reps, peer: o.peer, log }) };
  } finally {
    models?.dispose();
  }
}

/** The report as text: machine, then one table per section, then the goals. */
export function formatReport(r: BenchResult): string {
  const out: string[] = [];
  const m = r.machine;
  out.push(`lora-lab bench${r.quick ? ' --quick' : ''}   ${r.date}   (${r.seconds.toFixed(0)} s)`);
  out.push(`machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}, node ${m.node}`);
  if (m.webgpuAdapter) out.push(`webgpu adapter: ${m.webgpuAdapter}`);
  if (m.nvidia) out.push(`nvidia-smi: ${m.nvidia}`);
  out.push(`auto picks: ${r.auto}`);
  out.push('Ratios come from rounds interleaved in this one run; absolute times move with machine load.');
  const ran = r.variants.filter((v) => v.unavailable === undefined);
  for (const v of r.variants.filter((x) => x.unavailable !== undefined)) out.push(`${v.id}: not available: ${v.unavailable}`);

  const sizes = [...new Set(ran.flatMap((v) => v.matmul?.map((x) => x.n) ?? []))].sort((a, b) => a - b);
  const cpuStock = ran.find((v) => v.id === 'cpu-stock');
  out.push('', 'matMul GFLOP/s, float32 n×n, A·B / Aᵀ·B (median; result read back)');
  out.push(
    table(
      ['backend', ...sizes.map((n) => `n=${n}`), 'vs cpu-stock'],
      ran.map((v) => {
        const best = (rows: MatMulRow[] | undefined, n: number) => rows?.find((x) => x.n === n);
        const cells = sizes.map((n) => {
          const x = best(v.matmul, n);
          return x ? `${x.gflops.toFixed(2)} / ${x.gflopsTransposed.toFixed(2)}` : '—';
        });
        const common = sizes.filter((n) => best(v.matmul, n) && best(cpuStock?.matmul, n)).pop();
        const ratio =
          common === undefined ? undefined : best(v.matmul, common)!.gflops / best(cpuStock!.matmul, common)!.gflops;
        return [v.id, ...cells, common === undefined ? '—' : `${formatRatio(ratio)} @${common}`];
      }),
    ),
  );

  const trained = ran.filter((v) => v.training !== undefined);
  const preset = GPT_PRESETS[r.preset];
  const shape = `d_model ${preset.dModel}, ${preset.nLayers} layers, context ${preset.contextLength}, batch ${r.batchSize}`;
  const peer = r.pytorch !== null && !('unavailable' in r.pytorch) ? r.pytorch : undefined;
  if (trained.length > 0) {
    out.push('', `training step, GPT preset '${r.preset}' (${shape}); LoRA r = ${DEFAULT_LORA.r} on ${DEFAULT_LORA.target_modules.join(', ')}; median (LoRA/full: median of per-round ratios)`);
    const peerRow = peer
      ? [[`PyTorch ${peer.torch}`, '', formatMs(peer.lora.ms), formatMs(peer.full.ms), formatRatio(peer.loraOverFull),
        peer.lora.tokensPerSec.toFixed(0), peer.full.tokensPerSec.toFixed(0), '1.00×', '1.00×']]
      : [];
    out.push(
      table(
        ['backend', 'base fwd+bwd', 'LoRA step', 'full step', 'LoRA/full', 'tok/s LoRA', 'tok/s full', ...(peer ? ['full ÷ PyTorch', 'LoRA ÷ PyTorch'] : [])],
        [
          ...trained.map((v) => {
            const t = v.training!;
            return [
              v.id,
              formatMs(t.base.ms),
              formatMs(t.lora.ms),
              formatMs(t.full.ms),
              formatRatio(t.loraOverFull),
              t.lora.tokensPerSec.toFixed(0),
              t.full.tokensPerSec.toFixed(0),
              ...(peer ? [formatRatio(t.full.ms / peer.full.ms), formatRatio(t.lora.ms / peer.lora.ms)] : []),
            ];
          }),
          ...peerRow,
        ],
      ),
    );
    if (peer) {
      out.push(`PyTorch peer: bench/torch_peer.py with ${peer.python}, torch ${peer.torch}, ${peer.threads} thread${peer.threads === 1 ? '' : 's'}, ` +
        `${peer.reps} interleaved rounds; the same GPT, batch, LoRA config and step (clip to norm 1, Adam). ÷ PyTorch: lora-lab's time / PyTorch's.`);
    } else if (r.pytorch !== null && 'unavailable' in r.pytorch) {
      out.push(`PyTorch peer not run: ${r.pytorch.unavailable}`);
    }
    out.push('', `inference: one forward pass, batch ${r.batchSize} × ${preset.contextLength} tokens, logits read back; median (ratios: median of per-round ratios)`);
    out.push(
      table(
        ['backend', 'base', 'LoRA unmerged', 'LoRA merged', 'merged/base', 'unmerged/base', 'max |merged−unmerged|'],
        trained.map((v) => {
          const i = v.inference!;
          return [v.id, formatMs(i.baseMs), formatMs(i.unmergedMs), formatMs(i.mergedMs), formatRatio(i.mergedOverBase),
            formatRatio(i.unmergedOverBase), i.mergeMaxAbsDiff.toExponential(1)];
        }),
      ),
    );
    const t = trained[0]!.training!;
    out.push('', `memory (float32; the same on every backend; step peak measured on ${trained[0]!.id})`);
    out.push(
      table(
        ['', 'trainable params', 'Adam state', 'weights', 'step peak (acts+grads)'],
        [
          ['LoRA', t.lora.trainableParams.toLocaleString('en-US'), formatBytes(t.lora.optimizerBytes), formatBytes(t.weightBytes), formatBytes(t.lora.stepPeakBytes)],
          ['full', t.full.trainableParams.toLocaleString('en-US'), formatBytes(t.full.optimizerBytes), formatBytes(t.weightBytes), formatBytes(t.full.stepPeakBytes)],
          ['LoRA/full', formatRatio(t.lora.trainableParams / t.full.trainableParams), formatRatio(t.lora.optimizerBytes / t.full.optimizerBytes), '',
            formatRatio(t.lora.stepPeakBytes / t.full.stepPeakBytes)],
        ],
      ),
    );
  }
  for (const v of ran.filter((x) => x.trainingSkipped !== undefined)) out.push(`${v.id}: training not timed: ${v.trainingSkipped}`);

  if (r.threads !== undefined) out.push('', ...formatThreads(r.threads));
  else if (r.threadsSkipped !== undefined) out.push('', `threads: not compared: ${r.threadsSkipped}`);

  out.push('', 'SVD on the CPU (ml-matrix full SVD vs src/linalg randomized top-k, oversampling 10, 2 power iterations)');
  out.push(
    table(
      ['n', 'k', 'full SVD', 'randomized', 'speedup', 'max rel. err top-k σ'],
      r.svd.map((s) => [String(s.n), String(s.k), formatMs(s.fullMs), formatMs(s.randomizedMs), formatRatio(s.fullMs / s.randomizedMs), s.maxRelErr.toExponential(1)]),
    ),
  );

  out.push('', 'goals');
  for (const g of r.goals) out.push(`  ${g.met === undefined ? '[n/a] ' : g.met ? '[met] ' : '[miss]'} ${g.goal}: ${g.detail}`);
  return out.join('\n');
}

function parseArgs(argv: string[]): { options: BenchOptions; out?: string } {
  const quick = argv.includes('--quick');
  const o = defaultOptions(quick);
  let out: string | undefined;
  const value = (i: number) => {
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) throw new Error(`${argv[i]} needs a value`);
    return v;
  };
  const ints = (s: string, flag: string) =>
    s.split(',').map((x) => {
      const n = Number(x);
      if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} takes positive integers, got '${x}'`);
      return n;
    });
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--quick') continue;
    else if (a === '--all') o.all = true;
    else if (a === '--no-train') o.noTrain = true;
    else if (a === '--no-torch') o.torch = false;
    else if (a === '--threads') o.threads = ints(value(i++), a)[0]!;
    else if (a === '--no-threads') o.noThreads = true;
    else if (a === '--backends') o.variants = parseVariants(value(i++));
    else if (a === '--sizes') o.sizes = ints(value(i++), a);
    else if (a === '--svd-sizes') o.svdSizes = ints(value(i++), a);
    else if (a === '--batch') o.batchSize = ints(value(i++), a)[0]!;
    else if (a === '--out') out = value(i++);
    else if (a === '--preset') {
      const p = value(i++);
      if (!(p in GPT_PRESETS)) throw new Error(`unknown preset '${p}'; presets: ${Object.keys(GPT_PRESETS).join(', ')}`);
      o.preset = p as GptPresetName;
    } else if (a === '--help' || a === '-h') {
      console.log(
        [
          'usage: npm run bench -- [--quick] [--backends LIST|all] [--all] [--no-train] [--no-threads] [--preset NAME] [--batch N]',
          '                        [--threads N] [--no-torch] [--sizes 128,256,...] [--svd-sizes 256,512] [--out FILE.json]',
          '       npm run bench -- --hf [--backend wasm] [--quick] [--out FILE.json]',
          '--hf         GPT-2-small-shaped Hugging Face model: forward ms, generation tok/s with/without KV cache, load peak memory',
          '--quick      a 1-2 minute subset (matMul 256/512; training only on the backend auto picks)',
          '--backends   node-gpu,node,webgpu,wasm,wasm-stock,cpu,cpu-stock (default all that load)',
          '--all        also time training on cpu-stock (about 40 s per step here)',
          '--threads    GEMM threads of the per-backend sections and their PyTorch peer (default 1); --no-torch skips the peer',
          '--no-threads skip wasm\'s GEMM at 1 thread vs LORA_LAB_THREADS / the cores (bench/threads.ts has more)',
          '--out        JSON path (default bench/results/<machine>-<date>.json, plus bench/latest.json)',
        ].join('\n'),
      );
      process.exit(0);
    } else throw new Error(`unknown flag '${a}' (see --help)`);
  }
  return { options: o, out };
}

export async function main(argv: string[]): Promise<number> {
  if (argv.includes('--hf')) return hfMain(argv.filter((a) => a !== '--hf'));
  const { options, out } = parseArgs(argv);
  const result = await runBench(options, (line) => console.log(`  … ${line}`));
  console.log('');
  console.log(formatReport(result));
  const json = JSON.stringify(result, null, 2) + '\n';
  const here = path.dirname(fileURLToPath(import.meta.url));
  const files = out !== undefined ? [out] : [
    path.join(here, 'results', `${machineSlug(result.machine)}-${result.date.slice(0, 10)}${options.quick ? '-quick' : ''}.json`),
    path.join(here, 'latest.json'),
  ];
  for (const f of files) {
    mkdirSync(path.dirname(f), { recursive: true });
    writeFileSync(f, json);
  }
  console.log(`\nwrote ${files.join(', ')}`);
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => {
      releaseBackend();
      // A webgpu device keeps Node's event loop alive: exit explicitly once the files are written.
      process.exit(code);
    },
    (e: unknown) => {
      console.error(`bench: ${(e as Error).message}`);
      process.exit(1);
    },
  );
}
