// `npm run bench -- --hf`: a GPT-2-small-shaped model (124 M parameters: d 768, 12 layers, 12 heads, 50,257
// tokens, random weights built in memory) on one backend — forward ms for one 128-token sequence, the LoRA training
// step (r 8 on c_attn, PEFT's GPT-2 default; batch 4 × context 128, on wasm as 4 accumulated micro-batches of one
// sequence, which its 4 GiB heap holds: ms/step, tokens/s, peak tensor memory) beside
// the PyTorch peer on the same shape (bench/torch_peer_gpt2.py: hand-written, and transformers + PEFT where they
// import), generation tokens/s with and without the KV cache (rounds interleaved, so their ratio survives a busy
// machine), and the peak memory while loadPretrained reads it from an F32 and a BF16 file (a fresh child process).
// Run: npx tsx bench/hf.ts [--backend wasm] [--quick] [--no-torch] [--torch-device cuda] [--threads N] [--out FILE.json]
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { parseBackendName, releaseBackend, useBackend } from '../src/backend/index.js';
import { encodeSafetensors, type SafeTensor } from '../src/io/safetensors.js';
import { encodeBfloat16s } from '../src/io/float.js';
import { parseHfConfig, type HfConfig } from '../src/models/hf/config.js';
import { buildPretrained, layerSpecs, type HfCausalLm } from '../src/models/hf/loader.js';
import { randomWeights, tensorSpecs } from '../src/models/hf/weights.js';
import { generateTokens } from '../src/models/hf/generate.js';
import { dataPath } from '../src/models/checkpoint.js';
import { describeMachine } from './lib/machine.js';
import { runTorchGpt2Peer, type TorchGpt2PeerResult } from './lib/torch-peer.js';
import { injectLora } from '../src/lora/index.js';
import { train } from '../src/train/loop.js';
import { lmLoss } from '../src/train/sft.js';
import { seededRandom } from '../src/data/rng.js';
import { formatBytes, formatMs, formatRatio, interleaved, median, table } from './lib/timing.js';

const here = path.dirname(fileURLToPath(import.meta.url));

export const GPT2_SMALL = { model_type: 'gpt2', vocab_size: 50257, n_positions: 1024, n_embd: 768, n_layer: 12, n_head: 12 };

export interface HfBenchOptions {
  backend: string;
  quick: boolean;
  /** config.json of the model. @default GPT2_SMALL (the smoke test passes a tiny one) */
  config?: Record<string, unknown>;
  /** Run the PyTorch peer of the training step. @default true */
  torch?: boolean;
  /** The peer's torch device ('cpu', 'cuda'). @default 'cpu' */
  torchDevice?: string;
  /** The peer's CPU threads. @default 1 (lora-lab's GEMM runs on one) */
  threads?: number;
}

/** The training step's shape: the GPT-2-small setting, smaller with --quick. */
export function trainingShape(quick: boolean, contextLength: number): { batch: number; ctx: number; steps: number } {
  return quick ? { batch: 1, ctx: Math.min(32, contextLength), steps: 2 } : { batch: 4, ctx: Math.min(128, contextLength), steps: 2 };
}

export interface HfBenchResult {
  what: string;
  date: string;
  load: string;
  backend: string;
  parameters: number;
  forward: { tokens: number; ms: number };
  training: {
    batch: number; microBatches: number; ctx: number; r: number; lora_alpha: number; targets: string[]; trainableParams: number;
    runs: number[]; msPerStep: number; tokensPerSec: number; peakBytes: number;
  };
  pytorch: TorchGpt2PeerResult | { unavailable: string } | null;
  generation: { promptTokens: number; newTokens: number; cachedTokPerSec: number; uncachedTokPerSec: number; cachedOverUncached: number };
  loadPeak: { dtype: string; fileBytes: number; weightBytes: number; peakAboveBefore: number; ratio: number; loadMs: number }[];
  seconds: number;
}

/** The model's weights (random, seeded), by checkpoint key; GPT-2 keeps every tensor as TF.js does (no transposes). */
async function randomCheckpoint(config: HfConfig): Promise<{ key: string; shape: number[]; values: Float32Array }[]> {
  const source = randomWeights(0);
  const out = [];
  for (const t of tensorSpecs(layerSpecs(config))) {
    if (t.transpose) throw new Error(`bench --hf builds GPT-2 models only ('${t.key}' would need a transpose)`);
    out.push({ key: t.key, shape: t.shape, values: await source.read(t) });
  }
  return out;
}

/** Writes `weights` as a Hugging Face folder in `dtype`; returns the safetensors file's size. */
function writeFolder(
  dir: string,
  config: Record<string, unknown>,
  weights: Awaited<ReturnType<typeof randomCheckpoint>>,
  dtype: 'F32' | 'BF16',
): number {
  mkdirSync(dir, { recursive: true });
  const tensors: Record<string, SafeTensor> = {};
  for (const { key, shape, values } of weights) {
    const data = dtype === 'F32' ? new Uint8Array(values.buffer) : new Uint8Array(encodeBfloat16s(values).buffer);
    tensors[key] = { dtype, shape, data };
  }
  const bytes = encodeSafetensors(tensors, { format: 'pt' });
  writeFileSync(path.join(dir, 'model.safetensors'), bytes);
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(dataPath(`tokenizers/gpt2/${f}`), path.join(dir, f));
  return bytes.byteLength;
}

/**
 * The LoRA training step on `model` (random tokens, loss on every position, clip to 1, Adam): one untimed step, then
 * `steps` timed ones. LoRA is removed again afterwards, leaving the model as it was.
 */
async function trainingStep(
  model: HfCausalLm,
  shape: { batch: number; ctx: number; steps: number },
  microBatches: number,
): Promise<HfBenchResult['training']> {
  const lora = injectLora(model, { r: 8, lora_alpha: 16 }); // target_modules omitted: PEFT's default (c_attn)
  const V = model.config.vocabSize;
  const rng = seededRandom(5);
  const n = shape.batch * shape.ctx;
  const batch = {
    batchSize: shape.batch, length: shape.ctx, mask: new Float32Array(n).fill(1),
    inputs: Int32Array.from({ length: n }, () => rng.int(V)), targets: Int32Array.from({ length: n }, () => rng.int(V)),
  };
  const rows = shape.batch / microBatches;
  const part = (m: number) => {
    const take = <A extends Int32Array | Float32Array>(x: A) => x.slice(m * rows * shape.ctx, (m + 1) * rows * shape.ctx) as A;
    return { batchSize: rows, length: shape.ctx, inputs: take(batch.inputs), targets: take(batch.targets), mask: take(batch.mask) };
  };
  const loss = (_s: number, m: number) => lmLoss(model, microBatches === 1 ? batch : part(m), { training: true });
  const runs: number[] = [];
  const first = await train({ params: lora.paramGroups(), steps: 1, lr: 1e-4, accumulate: microBatches, loss });
  let last = performance.now();
  const timed = await train({
    optimizer: first.optimizer, steps: 1 + shape.steps, lr: 1e-4, accumulate: microBatches, loss,
    onProgress: () => {
      const now = performance.now();
      runs.push(now - last);
      last = now;
    },
  });
  const result = {
    batch: shape.batch, microBatches, ctx: shape.ctx, r: 8, lora_alpha: 16, targets: [...lora.loraLayers().keys()],
    trainableParams: lora.countParams().trainable, runs, msPerStep: median(runs), tokensPerSec: (1000 * n) / median(runs),
    peakBytes: Math.max(first.peakBytes, timed.peakBytes),
  };
  timed.optimizer.dispose();
  lora.unload();
  return result;
}

export async function runHfBench(o: HfBenchOptions, say: (line: string) => void = () => {}): Promise<HfBenchResult> {
  const started = performance.now();
  const log = (line: string) => say(`${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s  ${line}`);
  const backend = parseBackendName(o.backend);
  const info = await useBackend(backend, { log: null });
  const raw = o.config ?? GPT2_SMALL;
  const config = parseHfConfig(raw);
  log(`random weights for ${config.modelType} (d ${config.hiddenSize}, ${config.numLayers} layers), on ${info.name}`);
  const weights = await randomCheckpoint(config);
  const byKey = new Map(weights.map((w) => [w.key, w.values]));
  // On wasm/webgpu the tensors are copies; on cpu they share these arrays, which the files below only read.
  const model: HfCausalLm = await buildPretrained(config, { read: async (t) => byKey.get(t.key)! });
  const parameters = [...model.layers.values()].flatMap((l) => l.weights).reduce((n, w) => n + w.shape.reduce((a, b) => a! * b!, 1)!, 0);
  const T = Math.min(o.quick ? 64 : 128, config.contextLength);
  const ids = Array.from({ length: T }, (_, i) => (i * 7919) % config.vocabSize);
  log(`forward pass, 1 × ${T} tokens`);
  const fwd = await interleaved({
    forward: async () => {
      const y = tf.tidy(() => model.logits(tf.tensor2d([ids], [1, T], 'int32')));
      await y.data();
      y.dispose();
    },
  }, o.quick ? 2 : 3);
  const shape = trainingShape(o.quick, config.contextLength);
  log(`LoRA training step: r 8 on PEFT's default targets, batch ${shape.batch} × context ${shape.ctx}, ${shape.steps} timed steps after one`);
  // wasm's heap stops at 4 GiB, and the activations TF.js keeps for backprop of 4 × 128 tokens through GPT-2 small do
  // not fit: there the step runs as micro-batches of one sequence (gradient accumulation, the same update).
  const microBatches = info.name === 'wasm' ? shape.batch : 1;
  const training = await trainingStep(model, shape, microBatches);
  const promptTokens = Math.min(16, config.contextLength >> 1);
  const newTokens = Math.min(o.quick ? 8 : 16, config.contextLength - promptTokens);
  log(`generation: ${promptTokens}-token prompt + ${newTokens} tokens, with and without the KV cache`);
  const prompt = ids.slice(0, promptTokens);
  const gen = await interleaved({
    cached: async () => void (await generateTokens(model, prompt, { maxNewTokens: newTokens })),
    uncached: async () => void (await generateTokens(model, prompt, { maxNewTokens: newTokens, useCache: false })),
  }, o.quick ? 1 : 3);
  const ratios = gen.cached.map((c, i) => gen.uncached[i]! / c);
  model.dispose();

  const loadPeak: HfBenchResult['loadPeak'] = [];
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'hf-bench-'));
  try {
    for (const dtype of ['F32', 'BF16'] as const) {
      log(`peak memory while loading from a ${dtype} file (child process)`);
      const dir = path.join(tmp, dtype);
      const fileBytes = writeFolder(dir, raw, weights, dtype);
      const out = execFileSync(process.execPath, ['--import', 'tsx', path.join(here, 'lib', 'hf-load-peak.ts'), dir, backend], {
        encoding: 'utf8', maxBuffer: 1 << 20,
      });
      const r = JSON.parse(out.trim().split('\n').pop()!) as { peakAboveBefore: number; weightBytes: number; loadMs: number };
      loadPeak.push({ dtype, fileBytes, weightBytes: r.weightBytes, peakAboveBefore: r.peakAboveBefore, ratio: r.peakAboveBefore / r.weightBytes, loadMs: r.loadMs });
      rmSync(dir, { recursive: true, force: true });
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  let pytorch: HfBenchResult['pytorch'] = null;
  if (o.torch ?? true) {
    log(`PyTorch peer of the training step (${o.torchDevice ?? 'cpu'}; transformers + PEFT too where they import)`);
    pytorch = await runTorchGpt2Peer({
      nEmbd: config.hiddenSize, layers: config.numLayers, heads: config.numHeads, vocab: config.vocabSize,
      positions: config.contextLength, ctx: shape.ctx, batch: shape.batch, r: 8, alpha: 16, threads: o.threads ?? 1,
      reps: shape.steps, device: o.torchDevice ?? 'cpu', peft: true, timeoutS: o.quick ? 300 : 1200,
    });
    if ('unavailable' in pytorch) log(`PyTorch peer: not run (${pytorch.unavailable})`);
  }
  const cachedMs = median(gen.cached);
  const uncachedMs = median(gen.uncached);
  return {
    what: 'lora-lab bench --hf: GPT-2-small-shaped model (random weights): forward, KV-cached generation, load peak memory',
    date: new Date().toISOString(),
    load: os.loadavg().map((x) => x.toFixed(2)).join(' '),
    backend: info.name,
    parameters,
    forward: { tokens: T, ms: median(fwd.forward) },
    training,
    pytorch,
    generation: {
      promptTokens, newTokens,
      cachedTokPerSec: (1000 * newTokens) / cachedMs,
      uncachedTokPerSec: (1000 * newTokens) / uncachedMs,
      cachedOverUncached: median(ratios),
    },
    loadPeak,
    seconds: (performance.now() - started) / 1000,
  };
}

/** The LoRA training step, lora-lab beside the PyTorch peer (hand-written, and PEFT where it ran). */
function trainingTable(r: HfBenchResult): string {
  const t = r.training;
  const rows: string[][] = [[
    `lora-lab (${r.backend})`, formatMs(t.msPerStep), `${t.tokensPerSec.toFixed(0)} tok/s`, t.trainableParams.toLocaleString('en-US'),
    `${formatBytes(t.peakBytes)} (tensors)`,
  ]];
  const notes: string[] = [];
  const peer = r.pytorch;
  if (peer !== null && !('unavailable' in peer)) {
    const where = peer.gpu ?? `${peer.device}, ${peer.threads} thread${peer.threads === 1 ? '' : 's'}`;
    const row = (label: string, s: typeof peer.lora) => [label, formatMs(s.ms), `${s.tokensPerSec.toFixed(0)} tok/s`,
      s.trainableParams.toLocaleString('en-US'), `${formatBytes(s.peakBytes)} (${s.peakKind === 'process peak RSS' ? 'RSS' : 'CUDA'})`];
    rows.push(row(`PyTorch ${peer.torch}, by hand (${where})`, peer.lora));
    if (peer.peft !== undefined && !('unavailable' in peer.peft)) rows.push(row(`transformers + PEFT (${where})`, peer.peft));
    else if (peer.peft !== undefined) notes.push(`PEFT not run: ${peer.peft.unavailable}`);
  } else if (peer !== null) {
    notes.push(`PyTorch peer not run: ${peer.unavailable}`);
  }
  return [
    `LoRA training step: r ${t.r}, lora_alpha ${t.lora_alpha} on ${t.targets.length} c_attn modules, batch ${t.batch} × context ${t.ctx}, ` +
      'loss on every position, clip 1, Adam (median of the timed steps)',
    table(['', 'ms/step', 'tokens/s', 'trainable', 'peak memory'], rows),
    ...(t.microBatches > 1
      ? [`lora-lab: each step is ${t.microBatches} accumulated micro-batches of ${t.batch / t.microBatches} (the activations of ` +
        `${t.batch} × ${t.ctx} tokens exceed ${r.backend}'s 4 GiB heap); PyTorch runs the batch in one pass`]
      : []),
    ...notes,
  ].join('\n');
}

export function formatHfReport(r: HfBenchResult): string {
  const m = describeMachine();
  return [
    `lora-lab bench --hf   ${r.date}   (${r.seconds.toFixed(0)} s; load average ${r.load})`,
    `machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB; backend ${r.backend}`,
    `model: ${r.parameters.toLocaleString('en-US')} parameters, float32 ${formatBytes(4 * r.parameters)}`,
    '',
    table(
      ['forward (1 × ' + r.forward.tokens + ' tokens)', 'generate, KV cache', 'generate, no cache', 'cache speed-up'],
      [[formatMs(r.forward.ms), `${r.generation.cachedTokPerSec.toFixed(1)} tok/s`, `${r.generation.uncachedTokPerSec.toFixed(1)} tok/s`,
        formatRatio(r.generation.cachedOverUncached)]],
    ),
    `generation: ${r.generation.promptTokens}-token prompt, ${r.generation.newTokens} new tokens, greedy (median of interleaved rounds)`,
    '',
    trainingTable(r),
    '',
    table(
      ['loading from', 'file', 'float32 weights', 'peak RSS above start', 'peak / weights', 'load time'],
      r.loadPeak.map((p) => [p.dtype, formatBytes(p.fileBytes), formatBytes(p.weightBytes), formatBytes(p.peakAboveBefore),
        formatRatio(p.ratio), formatMs(p.loadMs)]),
    ),
    'peak: the child process\'s VmHWM during loadPretrained minus its RSS just before (goal ≤ 1.5× the float32 weights)',
  ].join('\n');
}

export async function hfMain(argv: string[]): Promise<number> {
  const o: HfBenchOptions = { backend: 'wasm', quick: false };
  let out: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--hf') continue;
    else if (a === '--quick') o.quick = true;
    else if (a === '--backend' || a === '--backends') o.backend = argv[++i] ?? 'wasm';
    else if (a === '--out') out = argv[++i];
    else if (a === '--no-torch') o.torch = false;
    else if (a === '--torch-device') o.torchDevice = argv[++i] ?? 'cpu';
    else if (a === '--threads') o.threads = Number(argv[++i]);
    else {
      throw new Error(
        `unknown flag '${a}' for --hf (flags: --backend NAME, --quick, --no-torch, --torch-device cpu|cuda, --threads N, --out FILE.json)`,
      );
    }
  }
  const r = await runHfBench(o, (line) => console.log(`  … ${line}`));
  console.log('');
  console.log(formatHfReport(r));
  const file = out ?? path.join(here, 'results', `hf-${r.backend}-${r.date.slice(0, 10)}${o.quick ? '-quick' : ''}.json`);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(r, null, 2) + '\n');
  console.log(`\nwrote ${file}`);
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  hfMain(process.argv.slice(2)).then(
    (code) => {
      releaseBackend();
      process.exit(code);
    },
    (e: unknown) => {
      console.error(`bench --hf: ${(e as Error).message}`);
      process.exit(1);
    },
  );
}
