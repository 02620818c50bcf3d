// A fine-tune at a larger GPT size on one backend (webgpu by default), for the GPU check: LoRA and full
// fine-tuning through the library's own training loop (src/train/loop.ts), reporting ms/step and tokens/s.
// Run: npx tsx bench/finetune.ts [--backend webgpu] [--preset small] [--steps 30] [--batch 32] [--out f.json]
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { releaseBackend, useBackend } from '../src/backend/index.js';
import { Gpt } from '../src/models/gpt.js';
import { gptConfig, GPT_PRESETS, type GptConfig, type GptPresetName } from '../src/models/config.js';
import { CharTokenizer } from '../src/data/tokenizer.js';
import { batchAt } from '../src/data/batch.js';
import { textTask } from '../src/data/tasks.js';
import { injectLora } from '../src/lora/index.js';
import { train, type TrainResult } from '../src/train/loop.js';
import { lmLoss } from '../src/train/sft.js';
import { optimizerStateBytes } from '../src/train/memory.js';
import { describeMachine } from './lib/machine.js';

export interface FinetuneRun {
  method: 'lora' | 'full';
  steps: number;
  /** Median ms per step after the first (which compiles shaders / warms the JIT). */
  msPerStep: number;
  firstStepMs: number;
  /** Positions per second: batch × context / msPerStep. */
  tokensPerSec: number;
  trainableParams: number;
  optimizerBytes: number;
  peakBytes: number;
  firstLoss: number;
  lastLoss: number;
}

export interface FinetuneReport {
  backend: string;
  adapter?: string;
  config: GptConfig;
  batchSize: number;
  runs: FinetuneRun[];
}

export interface FinetuneOptions {
  backend: string;
  config: GptConfig;
  batchSize: number;
  steps: number;
  methods: ('lora' | 'full')[];
  log?: (line: string) => void;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor(s.length / 2)]!;
}

export async function runFinetune(o: FinetuneOptions): Promise<FinetuneReport> {
  const info = await useBackend(o.backend, { log: null });
  const tok = new CharTokenizer();
  const task = textTask('reverse');
  const T = o.config.contextLength;
  const runs: FinetuneRun[] = [];
  for (const method of o.methods) {
    const model = new Gpt(o.config, { seed: 0 });
    const lora = method === 'lora' ? injectLora(model, { r: 8, lora_alpha: 16, target_modules: ['q_proj', 'v_proj'] }) : null;
    const params = lora ? lora.paramGroups() : [...model.layers.values()].flatMap((l) => l.weights.map((w) => w.read() as tf.Variable));
    const trainable = (lora ? lora.trainableVariables() : (params as tf.Variable[])).reduce((n, v) => n + v.size, 0);
    const stepMs: number[] = [];
    let last = performance.now();
    // Rows padded to the full context so tokens/s counts the positions the model computes.
    const result: TrainResult = await train({
      params,
      steps: o.steps,
      lr: 1e-3,
      loss: (s) => lmLoss(model, batchAt(task, tok, 0, s, o.batchSize, { length: T, lossOn: 'all' }), { training: true, seed: s }),
      onProgress: (p) => {
        const now = performance.now();
        stepMs.push(now - last);
        last = now;
        o.log?.(`${method} step ${p.step}/${p.steps}  loss ${p.loss.toFixed(4)}  ${stepMs.at(-1)!.toFixed(0)} ms`);
      },
    });
    const ms = median(stepMs.slice(1));
    runs.push({
      method,
      steps: result.losses.length,
      msPerStep: ms,
      firstStepMs: stepMs[0] ?? NaN,
      tokensPerSec: (o.batchSize * T) / (ms / 1000),
      trainableParams: trainable,
      optimizerBytes: optimizerStateBytes(trainable),
      peakBytes: result.peakBytes,
      firstLoss: result.losses[0] ?? NaN,
      lastLoss: result.losses.at(-1) ?? NaN,
    });
    result.optimizer.dispose();
    lora?.unload();
    model.dispose();
  }
  return { backend: info.name, adapter: info.adapter, config: o.config, batchSize: o.batchSize, runs };
}

function parse(argv: string[]): { options: FinetuneOptions; out?: string } {
  const get = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    if (i === -1) return undefined;
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) throw new Error(`--${name} needs a value`);
    return v;
  };
  const int = (name: string, dflt: number) => {
    const v = get(name);
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got '${v}'`);
    return n;
  };
  const preset = (get('preset') ?? 'small') as GptPresetName;
  if (!(preset in GPT_PRESETS)) throw new Error(`unknown preset '${preset}'; presets: ${Object.keys(GPT_PRESETS).join(', ')}`);
  const base = GPT_PRESETS[preset];
  const tok = new CharTokenizer();
  // Larger than any preset for a big GPU: --d-model 768 --layers 12 --heads 12 --context 256.
  const config = gptConfig({
    preset,
    vocabSize: tok.vocabSize,
    dModel: int('d-model', base.dModel),
    nLayers: int('layers', base.nLayers),
    nHeads: int('heads', base.nHeads),
    contextLength: int('context', base.contextLength),
    dFf: 4 * int('d-model', base.dModel),
    dropout: 0,
  });
  const method = get('method') ?? 'both';
  if (!['lora', 'full', 'both'].includes(method)) throw new Error(`--method must be lora, full or both, got '${method}'`);
  return {
    options: {
      backend: get('backend') ?? 'webgpu',
      config,
      batchSize: int('batch', 32),
      steps: int('steps', 30),
      methods: method === 'both' ? ['lora', 'full'] : [method as 'lora' | 'full'],
    },
    out: get('out'),
  };
}

export async function main(argv: string[]): Promise<number> {
  const { options, out } = parse(argv);
  const c = options.config;
  console.log(`fine-tune on ${options.backend}: d_model ${c.dModel}, ${c.nLayers} layers, ${c.nHeads} heads, context ${c.contextLength}, batch ${options.batchSize}, ${options.steps} steps`);
  let lastLine = 0;
  const report = await runFinetune({
    ...options,
    log: (line) => {
      if (performance.now() - lastLine > 5000) {
        console.log(`  … ${line}`);
        lastLine = performance.now();
      }
    },
  });
  if (report.adapter) console.log(`adapter: ${report.adapter}`);
  for (const r of report.runs) {
    console.log(
      `${r.method.padEnd(4)}  ${r.msPerStep.toFixed(1)} ms/step (first ${r.firstStepMs.toFixed(0)} ms)  ` +
        `${r.tokensPerSec.toFixed(0)} tokens/s  trainable ${r.trainableParams.toLocaleString('en-US')}  ` +
        `Adam ${(r.optimizerBytes / 2 ** 20).toFixed(1)} MiB  peak ${(r.peakBytes / 2 ** 20).toFixed(0)} MiB  ` +
        `loss ${r.firstLoss.toFixed(3)} -> ${r.lastLoss.toFixed(3)}`,
    );
  }
  const [l, f] = [report.runs.find((r) => r.method === 'lora'), report.runs.find((r) => r.method === 'full')];
  if (l && f) console.log(`LoRA/full step time: ${(l.msPerStep / f.msPerStep).toFixed(2)}x`);
  if (out !== undefined) {
    mkdirSync(path.dirname(out), { recursive: true });
    writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), machine: describeMachine(report.adapter), ...report }, null, 2) + '\n');
    console.log(`wrote ${out}`);
  }
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => {
      releaseBackend();
      process.exit(code);
    },
    (e: unknown) => {
      console.error(`finetune: ${(e as Error).message}`);
      process.exit(1);
    },
  );
}
