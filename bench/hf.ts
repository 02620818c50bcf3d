// `npm run bench -- --hf`: a GPT-2-small-shaped model (124 M parameters: d 768, 12 layers, 12 heads, 50,257
// tokens, random weights built in memory) on one backend — forward ms for one 128-token sequence, generation
// tokens/s with and without the KV cache (rounds interleaved, so their ratio survives a busy machine), and the
// peak memory while loadPretrained reads it from an F32 and a BF16 file, measured in a fresh child process.
// Run: npx tsx bench/hf.ts [--backend wasm] [--quick] [--out FILE.json]
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
import { formatBytes, formatMs, formatRatio, interleaved, median, table } from './lib/timing.js';

const here = path.dirname(fileURLToPath(import.meta.url));

export const GPT2_SMALL = { model_type: 'gpt2', vocab_size: 50257, n_positions: 1024, n_embd: 768, n_layer: 12, n_head: 12 };

export interface HfBenchOptions {
  backend: string;
  quick: boolean;
  /** config.json of the model. @default GPT2_SMALL (the smoke test passes a tiny one) */
  config?: Record<string, unknown>;
}

export interface HfBenchResult {
  what: string;
  date: string;
  load: string;
  backend: string;
  parameters: number;
  forward: { tokens: number; ms: number };
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
  const cachedMs = median(gen.cached);
  const uncachedMs = median(gen.uncached);
  return {
    what: 'lora-lab bench --hf: GPT-2-small-shaped model (random weights): forward, KV-cached generation, load peak memory',
    date: new Date().toISOString(),
    load: os.loadavg().map((x) => x.toFixed(2)).join(' '),
    backend: info.name,
    parameters,
    forward: { tokens: T, ms: median(fwd.forward) },
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
    else throw new Error(`unknown flag '${a}' for --hf (flags: --backend NAME, --quick, --out FILE.json)`);
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
