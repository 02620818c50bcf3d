// `lora-lab finetune`: pretrained base → LoRA on chosen targets → train (progress bar, ETA) → exact match before
// and after → save the adapter (PEFT layout + resumable training state) → merge → save the merged checkpoint and
// a report. `--compare` also runs full fine-tuning on the same data and prints both side by side.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../backend/index.js';
import { lineChart, saveChart } from '../charts/index.js';
import { bundledCheckpoint, loadGpt, saveCheckpoint } from '../models/checkpoint.js';
import type { Gpt } from '../models/gpt.js';
import { TEXT_TASKS, makeExamples, textTask, type TextTaskName } from '../data/tasks.js';
import { lmBatch } from '../data/batch.js';
import type { CharTokenizer } from '../data/tokenizer.js';
import { injectLora, loadAdapter, resolveTargets, loraConfig, type LoraModel } from '../lora/index.js';
import { Adam } from '../train/adam.js';
import { finetuneGpt, evaluateTask, type FinetuneResult } from '../train/finetune.js';
import { NonFiniteLossError } from '../train/loop.js';
import { formatBytes } from '../train/memory.js';
import { formatEta } from '../train/format.js';
import { batchTensors } from '../train/sft.js';
import { loadTrainingState, saveResumable } from '../train/state.js';
import { parseFlags, UsageError, type Command } from './command.js';
import { parseIntFlag, parseNumberFlag, terminalProgress } from './pretrain.js';

/** Run presets: `default` fits a 2-core CPU in under 5 minutes; `small` is for a GPU and a `small` base. */
export const FINETUNE_PRESETS = {
  default: { task: 'shift', steps: 1000, batch: 16, lr: 1e-2, fullLr: 1e-3, evalExamples: 200 },
  small: { task: 'shift', steps: 3000, batch: 64, lr: 5e-3, fullLr: 5e-4, evalExamples: 500 },
} as const;
type PresetName = keyof typeof FINETUNE_PRESETS;

const DEFAULT_TARGETS = 'q_proj,v_proj';

const HELP = [
  'usage: lora-lab finetune [flags]',
  '',
  'Fine-tunes the pretrained tiny GPT (bundled) on a text task with LoRA, then merges and saves:',
  '  <out>/adapter/      adapter_config.json + adapter_model.safetensors (PEFT) + optimizer/trainer state',
  '  <out>/merged/       the base with the adapter merged in (config.json + model.safetensors)',
  '  <out>/report.json   metrics; <out>/loss.png the loss curves',
  '',
  'flags:',
  `  --preset NAME      ${Object.keys(FINETUNE_PRESETS).join(' | ')}: steps, batch, lr, eval size (default: default,`,
  '                     under 5 minutes on a 2-core CPU; small wants a GPU and --base pointing at a small GPT)',
  `  --task NAME        ${Object.keys(TEXT_TASKS).filter((t) => t !== 'copy').join(' | ')} (default ${FINETUNE_PRESETS.default.task})`,
  `  --targets LIST     comma-separated module names LoRA wraps (default ${DEFAULT_TARGETS})`,
  '  --r N              LoRA rank (default 8)',
  '  --alpha X          lora_alpha; scaling = alpha / r (default 2·r)',
  '  --dropout X        lora_dropout in [0, 1) (default 0)',
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

export const finetuneCommand: Command = {
  name: 'finetune',
  summary: 'LoRA fine-tune the bundled tiny GPT on a text task; merge, save adapter + report (--compare: vs full)',
  help: HELP,
  async run(args) {
    const { flags, positional } = parseFlags(args, {
      preset: { type: 'string' }, task: { type: 'string' }, targets: { type: 'string' }, r: { type: 'string' },
      alpha: { type: 'string' }, dropout: { type: 'string' }, steps: { type: 'string' }, lr: { type: 'string' },
      batch: { type: 'string' }, seed: { type: 'string' }, eval: { type: 'string' }, base: { type: 'string' },
      out: { type: 'string' }, compare: { type: 'boolean' }, 'full-lr': { type: 'string' }, resume: { type: 'string' },
      backend: { type: 'string' },
    });
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
    let task = String(flags['task'] ?? preset.task);
    if (!(task in TEXT_TASKS) || task === 'copy') {
      throw new UsageError(`--task must be one of ${Object.keys(TEXT_TASKS).filter((t) => t !== 'copy').join(', ')}, got '${task}'`);
    }
    const r = parseIntFlag(flags, 'r', 8, 1);
    const alpha = parseNumberFlag(flags, 'alpha', 2 * r);
    const dropout = flags['dropout'] === undefined ? 0 : Number(flags['dropout']);
    if (!(dropout >= 0 && dropout < 1)) throw new UsageError(`--dropout must be in [0, 1), got '${String(flags['dropout'])}'`);
    const targets = String(flags['targets'] ?? DEFAULT_TARGETS).split(',').map((s) => s.trim()).filter(Boolean);
    if (targets.length === 0) throw new UsageError(`--targets needs at least one module name, e.g. ${DEFAULT_TARGETS}`);
    const steps = parseIntFlag(flags, 'steps', preset.steps, 1);
    const lr = parseNumberFlag(flags, 'lr', preset.lr);
    const fullLr = parseNumberFlag(flags, 'full-lr', preset.fullLr);
    let batchSize = parseIntFlag(flags, 'batch', preset.batch, 1);
    let seed = parseIntFlag(flags, 'seed', 0);
    const evalN = parseIntFlag(flags, 'eval', preset.evalExamples, 1);
    const outDir = path.resolve(String(flags['out'] ?? 'finetune-out'));
    const baseDir = flags['base'] === undefined ? bundledCheckpoint('gpt') : path.resolve(String(flags['base']));
    if (presetName === 'small' && flags['base'] === undefined) {
      throw new UsageError('--preset small needs --base <dir> with a small GPT: make one with `lora-lab pretrain --preset small --model gpt --out <dir>`');
    }
    let lcfg;
    try {
      lcfg = loraConfig({ r, lora_alpha: alpha, lora_dropout: dropout, target_modules: targets, seed, base_model_name_or_path: path.basename(baseDir) });
    } catch (e) {
      throw new UsageError((e as Error).message);
    }

    const backend = await useBackend(flags['backend'] === undefined ? undefined : String(flags['backend']), { log: null });
    console.log(`backend: ${backend.name} (${backend.reason})`);
    const { model, tokenizer: tok } = await loadGpt(baseDir);
    const adapterOut = path.join(outDir, 'adapter');
    const stop = new AbortController();
    const onSigint = () => stop.abort();
    process.once('SIGINT', onSigint);
    try {
      // Resume: adapter weights + Adam moments + step + the run's own settings.
      let loraModel: LoraModel;
      let optimizer: Adam | undefined;
      if (resume) {
        loraModel = await loadAdapter(model, resume);
        optimizer = new Adam(loraModel.paramGroups());
        const state = await loadTrainingState(resume, optimizer);
        task = String(state['task']);
        seed = state.seed;
        batchSize = Number(state['batch_size']);
        console.log(`resuming ${resume} at step ${optimizer.step}/${steps} (task ${task}, seed ${seed})`);
        if (optimizer.step >= steps) throw new UsageError(`the saved run already took ${optimizer.step} steps; pass --steps above that to continue`);
      } else {
        try {
          resolveTargets(model, lcfg); // a target that matches nothing is bad input, not a crash
        } catch (e) {
          throw new UsageError((e as Error).message);
        }
        loraModel = injectLora(model, lcfg);
      }
      loraModel.disableAdapters(); // the base model's score (also when resuming a trained adapter)
      const before = await evaluateTask(model, tok, task as TextTaskName, { n: evalN, seed });
      loraModel.enableAdapters();
      console.log(`task ${task}: ${textTask(task).description}; base model exact match ${pct(before.accuracy)} on ${evalN} held-out prompts`);

      const runState = { task, seed, batch_size: batchSize, lr, steps, base: baseDir };
      const t0 = performance.now();
      let ft: FinetuneResult;
      try {
        ft = await finetuneGpt(model, tok, {
          task: task as TextTaskName, method: 'lora', lora: lcfg, loraModel, optimizer, steps, batchSize, lr, seed,
          onProgress: terminalProgress('lora'), signal: stop.signal,
        });
      } catch (e) {
        if (e instanceof NonFiniteLossError) {
          await saveRunState(adapterOut, { lora: loraModel, optimizer: e.partial.optimizer }, runState);
          throw new Error(`${e.message} (--lr was ${lr}); the last good adapter is saved in ${adapterOut}`);
        }
        throw e;
      }
      const lora = ft.lora!;
      await saveRunState(adapterOut, { lora, optimizer: ft.result.optimizer }, runState);
      if (ft.result.stopped === 'aborted') {
        console.log(`\ninterrupted at step ${ft.result.optimizer.step}/${steps}: adapter saved to ${adapterOut}; continue with --resume ${adapterOut}`);
        return 130;
      }
      const seconds = (performance.now() - t0) / 1000;
      const after = await evaluateTask(model, tok, task as TextTaskName, { n: evalN, seed });
      console.log(`${lora.report()}`);
      console.log(`trained ${ft.result.losses.length} steps in ${formatEta(seconds * 1000)}; exact match ${pct(before.accuracy)} -> ${pct(after.accuracy)}`);
      const sample = makeExamples(textTask(task), 3, seed, 'test');
      sample.forEach((e, i) => console.log(`  ${e.prompt} = ${after.predictions[i]}   (expected ${e.answer})`));

      const gap = await mergeGap(model, lora, tok, task as TextTaskName);
      lora.mergeAndUnload();
      const mergedOut = path.join(outDir, 'merged');
      await saveCheckpoint(model, mergedOut, { tokenizer: tok, metadata: { merged_adapter: adapterOut, task, exact_match: after.accuracy } });
      console.log(`merged: max |merged − unmerged| logit ${gap.toExponential(2)}; adapter -> ${adapterOut}; merged model -> ${mergedOut}`);
      const loraStats: RunStats = {
        label: `LoRA (${lcfg.target_modules}, r=${lcfg.r})`, trainable: ft.trainableParams, all: ft.allParams,
        optimizerBytes: ft.optimizerBytes, peakBytes: ft.result.peakBytes, msPerStep: ft.result.msPerStep,
        before: before.accuracy, after: after.accuracy, losses: ft.result.losses,
      };
      ft.result.optimizer.dispose();
      model.dispose();

      let fullStats: RunStats | undefined;
      if (flags['compare'] === true) {
        const fresh = (await loadGpt(baseDir)).model;
        const full = await finetuneGpt(fresh, tok, {
          task: task as TextTaskName, method: 'full', steps, batchSize, lr: fullLr, seed,
          onProgress: terminalProgress('full'), signal: stop.signal,
        });
        if (full.result.stopped === 'aborted') {
          console.log(`\nfull fine-tuning interrupted at step ${full.result.optimizer.step}: no comparison (the LoRA results above are saved)`);
          full.result.optimizer.dispose();
          fresh.dispose();
          return 130;
        }
        const fullAfter = await evaluateTask(fresh, tok, task as TextTaskName, { n: evalN, seed });
        fullStats = {
          label: 'full fine-tuning', trainable: full.trainableParams, all: full.allParams, optimizerBytes: full.optimizerBytes,
          peakBytes: full.result.peakBytes, msPerStep: full.result.msPerStep, before: before.accuracy, after: fullAfter.accuracy,
          losses: full.result.losses,
        };
        full.result.optimizer.dispose();
        fresh.dispose();
        console.log('\n' + compareTable(loraStats, fullStats));
        const gainShare = (loraStats.after - loraStats.before) / Math.max(1e-9, fullStats.after - fullStats.before);
        console.log(`\nLoRA reached ${pct(gainShare)} of full fine-tuning's gain with ${pct(loraStats.trainable / fullStats.trainable)} of its trainable parameters`);
      }

      const report = {
        task, backend: backend.name, base: baseDir, steps, batch_size: batchSize, seed, lr,
        lora: { config: { r: lcfg.r, lora_alpha: lcfg.lora_alpha, lora_dropout: lcfg.lora_dropout, target_modules: lcfg.target_modules }, ...strip(loraStats) },
        full: fullStats ? { lr: fullLr, ...strip(fullStats) } : null,
        merge_max_abs_diff: gap,
      };
      await fs.mkdir(outDir, { recursive: true });
      await fs.writeFile(path.join(outDir, 'report.json'), JSON.stringify(report, null, 2) + '\n');
      const rows = loraStats.losses.map((l, i) => ({ step: i + 1, lora: l, full: fullStats?.losses[i] ?? null }));
      await saveChart(lineChart(rows, { x: 'step', y: fullStats ? ['lora', 'full'] : 'lora', title: `fine-tuning loss (${task})`, yTitle: 'loss', logY: true }), path.join(outDir, 'loss.png'));
      console.log(`report -> ${path.join(outDir, 'report.json')}, chart -> ${path.join(outDir, 'loss.png')}`);
      return 0;
    } finally {
      process.removeListener('SIGINT', onSigint);
    }
  },
};

function strip(s: RunStats) {
  const { losses, label: _l, ...rest } = s;
  return { ...rest, final_loss: losses.at(-1) ?? null };
}
