// `lora-lab finetune`: pretrained base → LoRA on chosen targets → train (progress bar, ETA) → exact match before
// and after → save the adapter (PEFT layout + resumable training state) → merge → save the merged checkpoint and
// a report. `--compare` also runs full fine-tuning on the same data and prints both side by side. With `--model DIR`
// (a Hugging Face folder) it fine-tunes that model on JSONL data instead (finetune-hf.ts).
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../backend/index.js';
import { lineChart, saveChart } from '../charts/index.js';
import { writeFileAtomic } from '../io/files.js';
import { bundledCheckpoint, loadGpt, saveCheckpoint } from '../models/checkpoint.js';
import type { Gpt } from '../models/gpt.js';
import { TEXT_TASKS, makeExamples, textTask, type TextTaskName } from '../data/tasks.js';
import { lmBatch } from '../data/batch.js';
import type { CharTokenizer } from '../data/tokenizer.js';
import { injectLora, loadAdapter, resolveTargets, loraConfig, type LoraConfig, type LoraModel } from '../lora/index.js';
import { Adam } from '../train/adam.js';
import { DEFAULT_LORA, finetuneGpt, evaluateTask, type FinetuneResult } from '../train/finetune.js';
import { NonFiniteLossError } from '../train/loop.js';
import { formatBytes } from '../train/memory.js';
import { formatEta } from '../train/format.js';
import { batchTensors } from '../train/sft.js';
import { loadTrainingState, saveResumable } from '../train/state.js';
import { parseFlags, parseIntFlag, parseNumberFlag, UsageError, type Command } from './command.js';
import { terminalProgress } from './progress.js';
import { HF_HELP, runHfFinetune } from './finetune-hf.js';

/** Run presets: `default` fits a 2-core CPU in under 5 minutes; `small` is for a GPU and a `small` base. */
export const FINETUNE_PRESETS = {
  default: { task: 'shift', steps: 1000, batch: 16, lr: 1e-2, fullLr: 1e-3, evalExamples: 200 },
  small: { task: 'shift', steps: 3000, batch: 64, lr: 5e-3, fullLr: 5e-4, evalExamples: 500 },
} as const;
type PresetName = keyof typeof FINETUNE_PRESETS;

const DEFAULT_TARGETS = DEFAULT_LORA.target_modules.join(',');
const TASKS = Object.keys(TEXT_TASKS).filter((t) => t !== 'copy');

const HELP = [
  'usage: lora-lab finetune [flags]',
  '',
  'Fine-tunes the pretrained tiny GPT (bundled) on a text task with LoRA, then merges and saves:',
  '  <out>/adapter/      adapter_config.json + adapter_model.safetensors (PEFT) + optimizer/trainer state',
  '  <out>/merged/       the base with the adapter merged in (config.json + model.safetensors)',
  '  <out>/report.json   metrics; <out>/loss.png the loss curves',
  '',
  'flags (the LoRA defaults are this command\'s own, r 8 and alpha 16 on q_proj, v_proj; PEFT\'s alpha default is 8):',
  `  --preset NAME      ${Object.keys(FINETUNE_PRESETS).join(' | ')}: steps, batch, lr, eval size (default: default,`,
  '                     under 5 minutes on a 2-core CPU; small wants a GPU and --base pointing at a small GPT)',
  `  --task NAME        ${TASKS.join(' | ')} (default ${FINETUNE_PRESETS.default.task})`,
  `  --targets LIST     comma-separated module names LoRA wraps (default ${DEFAULT_TARGETS})`,
  `  --r N              LoRA rank (default ${DEFAULT_LORA.r})`,
  `  --alpha X          lora_alpha; scaling = alpha / r (default ${DEFAULT_LORA.lora_alpha})`,
  `  --dropout X        lora_dropout in [0, 1) (default ${DEFAULT_LORA.lora_dropout})`,
  `  --steps N          optimizer steps in total (default ${FINETUNE_PRESETS.default.steps})`,
  `  --lr X             peak learning rate for LoRA (default ${FINETUNE_PRESETS.default.lr})`,
  `  --batch N          records per step (default ${FINETUNE_PRESETS.default.batch})`,
  '  --seed N           data order, dropout and LoRA init (default 0)',
  `  --eval N           held-out examples for exact match (default ${FINETUNE_PRESETS.default.evalExamples})`,
  '  --base DIR         base checkpoint (default: the bundled data/checkpoints/gpt-tiny-copy)',
  '  --out DIR          output folder (default finetune-out)',
  '  --compare          also run full fine-tuning on the same data and print both side by side',
  `  --full-lr X        learning rate for --compare's full fine-tuning (default ${FINETUNE_PRESETS.default.fullLr})`,
  '  --resume DIR       continue from an adapter folder saved by an earlier (interrupted) run',
  '  --backend NAME     auto|node-gpu|node|webgpu|wasm|cpu (default $LORA_LAB_BACKEND or auto)',
  '',
  'Ctrl-C stops after the current step and saves the adapter (resume with --resume). A NaN/Inf loss stops',
  'too, keeping the last good adapter. Exit codes: 0 done, 1 error, 2 bad flags, 130 interrupted.',
  '',
  HF_HELP,
].join('\n');

interface RunStats {
  label: string;
  trainable: number;
  all: number;
  optimizerBytes: number;
  peakBytes: number;
  msPerStep: number;
  before: number;
  after: number;
  losses: number[];
}

function pct(x: number): string {
  return `${(100 * x).toFixed(1)} %`;
}

/** The side-by-side table `--compare` prints. */
export function compareTable(a: RunStats, b: RunStats): string {
  const rows: [string, string, string][] = [
    ['', a.label, b.label],
    ['trainable params', `${a.trainable.toLocaleString('en-US')} (${pct(a.trainable / a.all)})`, `${b.trainable.toLocaleString('en-US')} (${pct(b.trainable / b.all)})`],
    ['optimizer state', formatBytes(a.optimizerBytes), formatBytes(b.optimizerBytes)],
    ['peak tensor memory', formatBytes(a.peakBytes), formatBytes(b.peakBytes)],
    ['ms/step', a.msPerStep.toFixed(1), b.msPerStep.toFixed(1)],
    ['exact match', `${pct(a.before)} -> ${pct(a.after)}`, `${pct(b.before)} -> ${pct(b.after)}`],
  ];
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  return rows.map((r) => `${r[0].padEnd(w0)}   ${r[1].padEnd(w1)}   ${r[2]}`).join('\n');
}

/** Largest |merged − unmerged| logit on a batch: merging must not change the model's outputs. */
async function mergeGap(model: Gpt, lora: LoraModel, tok: CharTokenizer, task: TextTaskName): Promise<number> {
  const batch = lmBatch(makeExamples(textTask(task), 16, 99, 'val'), tok);
  const { inputs, targets, mask } = batchTensors(batch);
  const unmerged = tf.tidy(() => model.logits(inputs));
  lora.merge();
  const merged = tf.tidy(() => model.logits(inputs));
  const gap = tf.tidy(() => merged.sub(unmerged).abs().max());
  const v = (await gap.data())[0]!;
  tf.dispose([inputs, targets, mask, unmerged, merged, gap]);
  lora.unmerge();
  return v;
}

async function saveRunState(dir: string, ft: { lora: LoraModel; optimizer: Adam }, state: Record<string, unknown>): Promise<void> {
  await saveResumable(dir, ft.lora, ft.optimizer, { step: ft.optimizer.step, seed: state['seed'] as number, ...state });
}

/** The run's settings, from the flags (and, with --resume, from the saved run). */
interface FinetuneSettings {
  task: string;
  seed: number;
  batchSize: number;
  steps: number;
  lr: number;
  fullLr: number;
  evalN: number;
  outDir: string;
  baseDir: string;
  resume: string | undefined;
  compare: boolean;
  backend: string | undefined;
  lora: LoraConfig;
}

const FLAGS = Object.fromEntries(
  ['preset', 'task', 'targets', 'r', 'alpha', 'dropout', 'steps', 'lr', 'batch', 'seed', 'eval', 'base', 'out', 'full-lr', 'resume', 'backend']
    .map((k) => [k, { type: 'string' as const }]),
);

/** Parses and checks every flag; bad input is a UsageError naming the flag. */
export function parseFinetuneFlags(args: string[]): FinetuneSettings {
  const { flags, positional } = parseFlags(args, { ...FLAGS, compare: { type: 'boolean' } });
  if (positional.length > 0) throw new UsageError(`unexpected argument '${positional[0]}': finetune takes only flags`);
  const presetName = String(flags['preset'] ?? 'default');
  if (!(presetName in FINETUNE_PRESETS)) throw new UsageError(`--preset must be one of ${Object.keys(FINETUNE_PRESETS).join(', ')}, got '${presetName}'`);
  const preset = FINETUNE_PRESETS[presetName as PresetName];
  const resume = flags['resume'] === undefined ? undefined : path.resolve(String(flags['resume']));
  if (resume) {
    for (const f of ['r', 'alpha', 'dropout', 'targets', 'task', 'seed', 'batch']) {
      if (flags[f] !== undefined) throw new UsageError(`--${f} cannot change on --resume: it comes from the saved run in ${resume}`);
    }
  }
  const task = String(flags['task'] ?? preset.task);
  if (!TASKS.includes(task)) throw new UsageError(`--task must be one of ${TASKS.join(', ')}, got '${task}'`);
  const dropout = flags['dropout'] === undefined ? DEFAULT_LORA.lora_dropout : Number(flags['dropout']);
  if (!(dropout >= 0 && dropout < 1)) throw new UsageError(`--dropout must be in [0, 1), got '${String(flags['dropout'])}'`);
  const targets = String(flags['targets'] ?? DEFAULT_TARGETS).split(',').map((s) => s.trim()).filter(Boolean);
  if (targets.length === 0) throw new UsageError(`--targets needs at least one module name, e.g. ${DEFAULT_TARGETS}`);
  const seed = parseIntFlag(flags, 'seed', 0);
  const baseDir = flags['base'] === undefined ? bundledCheckpoint('gpt') : path.resolve(String(flags['base']));
  if (presetName === 'small' && flags['base'] === undefined) {
    throw new UsageError('--preset small needs --base <dir> with a small GPT: make one with `lora-lab pretrain --preset small --model gpt --out <dir>`');
  }
  let lora: LoraConfig;
  try {
    lora = loraConfig({
      r: parseIntFlag(flags, 'r', DEFAULT_LORA.r, 1), lora_alpha: parseNumberFlag(flags, 'alpha', DEFAULT_LORA.lora_alpha),
      lora_dropout: dropout, target_modules: targets, seed, base_model_name_or_path: path.basename(baseDir),
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  return {
    task, seed, lora, resume, baseDir,
    batchSize: parseIntFlag(flags, 'batch', preset.batch, 1),
    steps: parseIntFlag(flags, 'steps', preset.steps, 1),
    lr: parseNumberFlag(flags, 'lr', preset.lr),
    fullLr: parseNumberFlag(flags, 'full-lr', preset.fullLr),
    evalN: parseIntFlag(flags, 'eval', preset.evalExamples, 1),
    outDir: path.resolve(String(flags['out'] ?? 'finetune-out')),
    compare: flags['compare'] === true,
    backend: flags['backend'] === undefined ? undefined : String(flags['backend']),
  };
}

/** The LoRA model to train: a fresh adapter, or (with --resume) the saved one, its optimizer and its settings. */
async function startLora(model: Gpt, s: FinetuneSettings): Promise<{ lora: LoraModel; optimizer?: Adam }> {
  if (s.resume === undefined) {
    try {
      resolveTargets(model, s.lora); // a target that matches nothing is bad input, not a crash
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    return { lora: injectLora(model, s.lora) };
  }
  const lora = await loadAdapter(model, s.resume);
  const optimizer = new Adam(lora.paramGroups());
  const state = await loadTrainingState(s.resume, optimizer);
  s.task = String(state['task']);
  s.seed = state.seed;
  s.batchSize = Number(state['batch_size']);
  console.log(`resuming ${s.resume} at step ${optimizer.step}/${s.steps} (task ${s.task}, seed ${s.seed})`);
  if (optimizer.step >= s.steps) throw new UsageError(`the saved run already took ${optimizer.step} steps; pass --steps above that to continue`);
  return { lora, optimizer };
}

/** --compare: full fine-tuning of a fresh copy of the base on the same data; undefined when interrupted. */
async function fullRun(s: FinetuneSettings, tok: CharTokenizer, before: number, signal: AbortSignal): Promise<RunStats | undefined> {
  const fresh = (await loadGpt(s.baseDir)).model;
  try {
    const full = await finetuneGpt(fresh, tok, {
      task: s.task as TextTaskName, method: 'full', steps: s.steps, batchSize: s.batchSize, lr: s.fullLr, seed: s.seed,
      onProgress: terminalProgress('full'), signal,
    });
    full.result.optimizer.dispose();
    if (full.result.stopped === 'aborted') {
      console.log(`\nfull fine-tuning interrupted at step ${full.result.optimizer.step}: no comparison (the LoRA results above are saved)`);
      return undefined;
    }
    const after = await evaluateTask(fresh, tok, s.task as TextTaskName, { n: s.evalN, seed: s.seed });
    return {
      label: 'full fine-tuning', trainable: full.trainableParams, all: full.allParams, optimizerBytes: full.optimizerBytes,
      peakBytes: full.result.peakBytes, msPerStep: full.result.msPerStep, before, after: after.accuracy, losses: full.result.losses,
    };
  } finally {
    fresh.dispose();
  }
}

/** report.json (written atomically) and loss.png. */
async function writeReport(s: FinetuneSettings, backend: string, lora: RunStats, full: RunStats | undefined, gap: number): Promise<void> {
  const strip = (r: RunStats) => {
    const { losses, label: _l, ...rest } = r;
    return { ...rest, final_loss: losses.at(-1) ?? null };
  };
  const c = s.lora;
  const report = {
    task: s.task, backend, base: s.baseDir, steps: s.steps, batch_size: s.batchSize, seed: s.seed, lr: s.lr,
    lora: { config: { r: c.r, lora_alpha: c.lora_alpha, lora_dropout: c.lora_dropout, target_modules: c.target_modules }, ...strip(lora) },
    full: full ? { lr: s.fullLr, ...strip(full) } : null,
    merge_max_abs_diff: gap,
  };
  await writeFileAtomic(path.join(s.outDir, 'report.json'), JSON.stringify(report, null, 2) + '\n');
  const rows = lora.losses.map((l, i) => ({ step: i + 1, lora: l, full: full?.losses[i] ?? null }));
  const chart = lineChart(rows, { x: 'step', y: full ? ['lora', 'full'] : 'lora', title: `fine-tuning loss (${s.task})`, yTitle: 'loss', logY: true });
  await saveChart(chart, path.join(s.outDir, 'loss.png'));
  console.log(`report -> ${path.join(s.outDir, 'report.json')}, chart -> ${path.join(s.outDir, 'loss.png')}`);
}

export const finetuneCommand: Command = {
  name: 'finetune',
  summary: 'LoRA fine-tune the bundled tiny GPT on a task (--compare: vs full), or a Hugging Face model on JSONL (--model)',
  help: HELP,
  async run(args) {
    if (args.some((a) => a === '--model' || a.startsWith('--model='))) return runHfFinetune(args);
    const s = parseFinetuneFlags(args);
    const backend = await useBackend(s.backend, { log: null });
    console.log(`backend: ${backend.name} (${backend.reason})`);
    const { model, tokenizer: tok } = await loadGpt(s.baseDir);
    const adapterOut = path.join(s.outDir, 'adapter');
    const stop = new AbortController();
    const onSigint = () => stop.abort();
    process.once('SIGINT', onSigint);
    try {
      const { lora: loraModel, optimizer } = await startLora(model, s);
      const task = s.task as TextTaskName;
      loraModel.disableAdapters(); // the base model's score (also when resuming a trained adapter)
      const before = await evaluateTask(model, tok, task, { n: s.evalN, seed: s.seed });
      loraModel.enableAdapters();
      console.log(`task ${task}: ${textTask(task).description}; base model exact match ${pct(before.accuracy)} on ${s.evalN} held-out prompts`);

      const runState = { task, seed: s.seed, batch_size: s.batchSize, lr: s.lr, steps: s.steps, base: s.baseDir };
      const t0 = performance.now();
      let ft: FinetuneResult;
      try {
        ft = await finetuneGpt(model, tok, {
          task, method: 'lora', lora: s.lora, loraModel, optimizer, steps: s.steps, batchSize: s.batchSize, lr: s.lr, seed: s.seed,
          onProgress: terminalProgress('lora'), signal: stop.signal,
        });
      } catch (e) {
        if (e instanceof NonFiniteLossError) {
          await saveRunState(adapterOut, { lora: loraModel, optimizer: e.partial.optimizer }, runState);
          throw new Error(`${e.message} (--lr was ${s.lr}); the last good adapter is saved in ${adapterOut}`);
        }
        throw e;
      }
      const lora = ft.lora!;
      await saveRunState(adapterOut, { lora, optimizer: ft.result.optimizer }, runState);
      if (ft.result.stopped === 'aborted') {
        console.log(`\ninterrupted at step ${ft.result.optimizer.step}/${s.steps}: adapter saved to ${adapterOut}; continue with --resume ${adapterOut}`);
        return 130;
      }
      const seconds = (performance.now() - t0) / 1000;
      const after = await evaluateTask(model, tok, task, { n: s.evalN, seed: s.seed });
      console.log(`${lora.report()}`);
      console.log(`trained ${ft.result.losses.length} steps in ${formatEta(seconds * 1000)}; exact match ${pct(before.accuracy)} -> ${pct(after.accuracy)}`);
      makeExamples(textTask(task), 3, s.seed, 'test').forEach((e, i) => console.log(`  ${e.prompt} = ${after.predictions[i]}   (expected ${e.answer})`));

      const gap = await mergeGap(model, lora, tok, task);
      lora.mergeAndUnload();
      const mergedOut = path.join(s.outDir, 'merged');
      await saveCheckpoint(model, mergedOut, { tokenizer: tok, metadata: { merged_adapter: adapterOut, task, exact_match: after.accuracy } });
      console.log(`merged: max |merged − unmerged| logit ${gap.toExponential(2)}; adapter -> ${adapterOut}; merged model -> ${mergedOut}`);
      const loraStats: RunStats = {
        label: `LoRA (${s.lora.target_modules}, r=${s.lora.r})`, trainable: ft.trainableParams, all: ft.allParams,
        optimizerBytes: ft.optimizerBytes, peakBytes: ft.result.peakBytes, msPerStep: ft.result.msPerStep,
        before: before.accuracy, after: after.accuracy, losses: ft.result.losses,
      };
      ft.result.optimizer.dispose();
      model.dispose();

      let fullStats: RunStats | undefined;
      if (s.compare) {
        fullStats = await fullRun(s, tok, before.accuracy, stop.signal);
        if (fullStats === undefined) return 130;
        console.log('\n' + compareTable(loraStats, fullStats));
        const gainShare = (loraStats.after - loraStats.before) / Math.max(1e-9, fullStats.after - fullStats.before);
        console.log(`\nLoRA reached ${pct(gainShare)} of full fine-tuning's gain with ${pct(loraStats.trainable / fullStats.trainable)} of its trainable parameters`);
      }
      await writeReport(s, backend.name, loraStats, fullStats, gap);
      return 0;
    } finally {
      process.removeListener('SIGINT', onSigint);
    }
  },
};
