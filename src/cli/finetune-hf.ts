// `lora-lab finetune --model <hf-dir> --data train.jsonl`: a Hugging Face model folder → LoRA (PEFT's default targets
// for its model type unless --targets) → SFT on JSONL data (prompt/completion, text or chat messages; loss on the
// completion / assistant tokens) with a held-out split → eval loss before and after → the adapter in PEFT's layout
// (+ resumable training state) → with --merge, a merged model folder in the Hugging Face layout → report.json.
// Shares the tiny-GPT command's pieces: flags, progress bar, Ctrl-C handling, atomic resumable saves, the loop.
import path from 'node:path';
import { useBackend } from '../backend/index.js';
import { readJsonl } from '../data/jsonl.js';
import { writeFileAtomic } from '../io/files.js';
import { injectLora, loadAdapter, loraConfig, resolveTargets, type LoraConfig, type LoraModel } from '../lora/index.js';
import { withModelDefaults } from '../lora/targets.js';
import { loadPretrained } from '../models/hf/loader.js';
import { savePretrained } from '../models/hf/save.js';
import { Adam } from '../train/adam.js';
import { DEFAULT_HF_LORA, finetuneHf } from '../train/finetune-hf.js';
import type { FinetuneResult } from '../train/finetune.js';
import { formatEta } from '../train/format.js';
import { NonFiniteLossError } from '../train/loop.js';
import { formatBytes } from '../train/memory.js';
import { learnedTokens, prepareSftData, sftLoss, type SftData } from '../train/sft-data.js';
import { loadTrainingState, saveResumable } from '../train/state.js';
import { parseFlags, parseIntFlag, parseNumberFlag, UsageError } from './command.js';
import { terminalProgress } from './progress.js';

/** Defaults of the --model path (TRL's SFTTrainer: 3 epochs, lr 2e-4 for LoRA; batch 4 fits a CPU). */
export const HF_FINETUNE_DEFAULTS = { epochs: 3, batch: 4, lr: 2e-4, evalFraction: 0.1, maxLength: 1024, evalEvery: 50 } as const;

export const HF_HELP = [
  'usage: lora-lab finetune --model DIR --data FILE.jsonl [flags]',
  '',
  'Fine-tunes a Hugging Face model folder (gpt2, llama, qwen2: config.json, model.safetensors, tokenizer.json) with',
  'LoRA on JSONL data, one JSON object per line, in any of TRL\'s formats:',
  '  {"prompt": "...", "completion": "..."}   loss on the completion tokens (and eos) only',
  '  {"text": "..."}                          loss on every token',
  '  {"messages": [{"role": ..., "content": ...}, ...]}   the model\'s chat template; loss on the assistant turns',
  'and writes:',
  '  <out>/adapter/      adapter_config.json + adapter_model.safetensors (PEFT layout) + optimizer/trainer state',
  '  <out>/merged/       with --merge: config.json + model.safetensors + tokenizer files (transformers layout)',
  '  <out>/report.json   eval loss before and after, settings, timings',
  '',
  'flags:',
  '  --model DIR        the Hugging Face model folder (required)',
  '  --data FILE        training data, JSONL (required)',
  '  --eval-data FILE   held-out data, JSONL (default: hold out --eval-fraction of --data)',
  `  --eval-fraction X  share of --data held out for the eval loss (default ${HF_FINETUNE_DEFAULTS.evalFraction})`,
  '  --targets LIST     comma-separated module names, or all-linear (default: PEFT\'s for the model type:',
  '                     gpt2 c_attn, llama/qwen2 q_proj,v_proj)',
  '  --targets-regex R  a regex full-matched against module paths instead of --targets',
  `  --r N              LoRA rank (default ${DEFAULT_HF_LORA.r})`,
  `  --alpha X          lora_alpha; scaling = alpha / r (default ${DEFAULT_HF_LORA.lora_alpha})`,
  `  --dropout X        lora_dropout in [0, 1) (default ${DEFAULT_HF_LORA.lora_dropout})`,
  `  --epochs N         passes over the training records (default ${HF_FINETUNE_DEFAULTS.epochs})`,
  '  --steps N          optimizer steps (default: epochs × records / batch)',
  `  --batch N          records per step (default ${HF_FINETUNE_DEFAULTS.batch})`,
  '  --grad-accum N     run each step as N micro-batches of batch / N records, one at a time (less memory;',
  '                     the same step when records are equally long) (default 1)',
  `  --lr X             peak learning rate (default ${HF_FINETUNE_DEFAULTS.lr}; 5 % warm-up, then cosine to 10 %)`,
  `  --max-length N     positions a record may fill; longer records are cut (default ${HF_FINETUNE_DEFAULTS.maxLength}, at most the context)`,
  `  --eval-every N     held-out loss every N steps (default ${HF_FINETUNE_DEFAULTS.evalEvery})`,
  '  --seed N           split, data order, dropout and LoRA init (default 0)',
  '  --merge            also write the merged model to <out>/merged',
  '  --out DIR          output folder (default finetune-out)',
  '  --resume DIR       continue from an adapter folder saved by an earlier (interrupted) run',
  '  --backend NAME     auto|node-gpu|node|webgpu|wasm|cpu (default $LORA_LAB_BACKEND or auto)',
  '',
  'Bad JSONL (not JSON, a missing field, an empty file) is an error naming the line. Ctrl-C stops after the current',
  'step and saves the adapter (resume with --resume). Exit codes: 0 done, 1 error, 2 bad flags, 130 interrupted.',
].join('\n');

const STRING_FLAGS = [
  'model', 'data', 'eval-data', 'eval-fraction', 'targets', 'targets-regex', 'r', 'alpha', 'dropout', 'epochs', 'steps',
  'batch', 'grad-accum', 'lr', 'max-length', 'eval-every', 'seed', 'out', 'resume', 'backend',
];

export interface HfFinetuneSettings {
  modelDir: string;
  dataFile: string;
  evalFile: string | undefined;
  evalFraction: number;
  /** The LoRA input: target_modules undefined means PEFT's default for the model type. */
  lora: { r: number; lora_alpha: number; lora_dropout: number; target_modules?: string[] | string; seed: number };
  epochs: number;
  steps: number | undefined;
  batchSize: number;
  gradAccum: number;
  lr: number;
  maxLength: number;
  evalEvery: number;
  seed: number;
  merge: boolean;
  outDir: string;
  resume: string | undefined;
  backend: string | undefined;
}

/** Parses and checks the --model path's flags; bad input is a UsageError naming the flag. */
export function parseHfFinetuneFlags(args: string[]): HfFinetuneSettings {
  const spec = { ...Object.fromEntries(STRING_FLAGS.map((k) => [k, { type: 'string' as const }])), merge: { type: 'boolean' as const } };
  const { flags, positional } = parseFlags(args, spec);
  if (positional.length > 0) throw new UsageError(`unexpected argument '${positional[0]}': finetune takes only flags`);
  for (const f of ['model', 'data']) {
    if (flags[f] === undefined) throw new UsageError(`--${f} is required with --model: e.g. --model models/gpt2 --data train.jsonl`);
  }
  const resume = flags['resume'] === undefined ? undefined : path.resolve(String(flags['resume']));
  if (resume) {
    for (const f of ['r', 'alpha', 'dropout', 'targets', 'targets-regex', 'seed', 'batch', 'eval-fraction']) {
      if (flags[f] !== undefined) throw new UsageError(`--${f} cannot change on --resume: it comes from the saved run in ${resume}`);
    }
  }
  if (flags['targets'] !== undefined && flags['targets-regex'] !== undefined) {
    throw new UsageError('give --targets or --targets-regex, not both');
  }
  let target_modules: string[] | string | undefined;
  if (flags['targets-regex'] !== undefined) target_modules = String(flags['targets-regex']);
  else if (flags['targets'] !== undefined) {
    const t = String(flags['targets']);
    target_modules = t.toLowerCase() === 'all-linear' ? 'all-linear' : t.split(',').map((s) => s.trim()).filter(Boolean);
    if (Array.isArray(target_modules) && target_modules.length === 0) {
      throw new UsageError('--targets needs at least one module name, e.g. --targets q_proj,v_proj (or all-linear)');
    }
  }
  const dropout = flags['dropout'] === undefined ? DEFAULT_HF_LORA.lora_dropout : Number(flags['dropout']);
  if (!(dropout >= 0 && dropout < 1)) throw new UsageError(`--dropout must be in [0, 1), got '${String(flags['dropout'])}'`);
  const evalFraction = flags['eval-fraction'] === undefined ? HF_FINETUNE_DEFAULTS.evalFraction : Number(flags['eval-fraction']);
  if (!(evalFraction >= 0 && evalFraction < 1)) {
    throw new UsageError(`--eval-fraction must be in [0, 1), got '${String(flags['eval-fraction'])}': e.g. 0.1`);
  }
  const seed = parseIntFlag(flags, 'seed', 0);
  const lora = {
    r: parseIntFlag(flags, 'r', DEFAULT_HF_LORA.r, 1),
    lora_alpha: parseNumberFlag(flags, 'alpha', DEFAULT_HF_LORA.lora_alpha),
    lora_dropout: dropout,
    seed,
    ...(target_modules === undefined ? {} : { target_modules }),
  };
  try {
    loraConfig({ target_modules: ['x'], ...lora }); // r, alpha, regex: the library's checks, as usage errors
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const batchSize = parseIntFlag(flags, 'batch', HF_FINETUNE_DEFAULTS.batch, 1);
  const gradAccum = parseIntFlag(flags, 'grad-accum', 1, 1);
  if (batchSize % gradAccum !== 0) {
    throw new UsageError(`--batch ${batchSize} does not split into --grad-accum ${gradAccum} equal micro-batches: use a multiple of it`);
  }
  return {
    modelDir: path.resolve(String(flags['model'])),
    dataFile: path.resolve(String(flags['data'])),
    evalFile: flags['eval-data'] === undefined ? undefined : path.resolve(String(flags['eval-data'])),
    evalFraction,
    lora,
    epochs: parseIntFlag(flags, 'epochs', HF_FINETUNE_DEFAULTS.epochs, 1),
    steps: flags['steps'] === undefined ? undefined : parseIntFlag(flags, 'steps', 1, 1),
    batchSize,
    gradAccum,
    lr: parseNumberFlag(flags, 'lr', HF_FINETUNE_DEFAULTS.lr),
    maxLength: parseIntFlag(flags, 'max-length', HF_FINETUNE_DEFAULTS.maxLength, 2),
    evalEvery: parseIntFlag(flags, 'eval-every', HF_FINETUNE_DEFAULTS.evalEvery, 1),
    seed,
    merge: flags['merge'] === true,
    outDir: path.resolve(String(flags['out'] ?? 'finetune-out')),
    resume,
    backend: flags['backend'] === undefined ? undefined : String(flags['backend']),
  };
}

/** What the held-out records score, or null without any. */
async function evalLoss(model: Parameters<typeof sftLoss>[0], data: SftData): Promise<number | null> {
  return data.eval.length === 0 ? null : sftLoss(model, data.eval, data.padId);
}

const fmt = (x: number | null) => (x === null ? 'n/a' : x.toFixed(4));

/** Runs `lora-lab finetune --model ...`; resolves to the exit code. */
export async function runHfFinetune(args: string[]): Promise<number> {
  const s = parseHfFinetuneFlags(args);
  const backend = await useBackend(s.backend, { log: null });
  console.log(`backend: ${backend.name} (${backend.reason})`);
  const { model, tokenizer, config, generationConfig } = await loadPretrained(s.modelDir);
  try {
    const params = [...model.layers.values()].flatMap((l) => l.weights).reduce((n, w) => n + w.shape.reduce((a, b) => a! * b!, 1)!, 0);
    console.log(`model: ${config.modelType}, ${params.toLocaleString('en-US')} parameters (${formatBytes(4 * params)} float32) from ${s.modelDir}`);
    const maxLength = Math.min(s.maxLength, config.contextLength);
    const examples = await readJsonl(s.dataFile);
    const evalExamples = s.evalFile === undefined ? undefined : await readJsonl(s.evalFile);
    const data = prepareSftData(tokenizer, examples, {
      maxTokens: maxLength + 1, evalFraction: s.evalFraction, seed: s.seed, source: s.dataFile,
      ...(evalExamples === undefined ? {} : { evalExamples }),
    });
    const learned = data.train.reduce((n, r) => n + learnedTokens(r), 0);
    console.log(
      `data: ${examples.length} examples -> ${data.train.length} to train (${learned.toLocaleString('en-US')} tokens learned), ` +
        `${data.eval.length} held out` + (data.truncated > 0 ? `; ${data.truncated} cut to ${maxLength + 1} tokens` : '') +
        (data.dropped.length > 0 ? `; dropped (nothing to learn within the limit): lines ${data.dropped.join(', ')}` : ''),
    );

    const stop = new AbortController();
    const onSigint = () => stop.abort();
    process.once('SIGINT', onSigint);
    const adapterOut = path.join(s.outDir, 'adapter');
    try {
      let lora: LoraModel | undefined;
      let optimizer: Adam | undefined;
      let settings = s;
      if (s.resume !== undefined) {
        lora = await loadAdapter(model, s.resume);
        optimizer = new Adam(lora.paramGroups());
        const state = await loadTrainingState(s.resume, optimizer);
        settings = { ...s, seed: state.seed, batchSize: Number(state['batch_size']) };
        if (state['train_records'] !== data.train.length) {
          throw new UsageError(`--resume: the saved run trained on ${String(state['train_records'])} records, this data gives ${data.train.length}: pass the same --data`);
        }
        console.log(`resuming ${s.resume} at step ${optimizer.step}`);
      } else {
        let c: LoraConfig;
        try {
          c = loraConfig(withModelDefaults(model, settings.lora));
          resolveTargets(model, c);
        } catch (e) {
          throw new UsageError((e as Error).message);
        }
        lora = injectLora(model, c);
      }
      const steps = settings.steps ?? Math.ceil((settings.epochs * data.train.length) / settings.batchSize);
      if (optimizer !== undefined && optimizer.step >= steps) {
        throw new UsageError(`the saved run already took ${optimizer.step} steps; pass --steps above that to continue`);
      }
      const targets = [...lora.loraLayers().keys()];
      const cfg = lora.config();
      console.log(`LoRA r=${cfg.r} alpha=${cfg.lora_alpha} on ${targets.length} modules: ${targets.slice(0, 4).join(', ')}${targets.length > 4 ? ', ...' : ''}`);
      console.log(lora.report());

      lora.disableAdapters();
      const before = await evalLoss(model, data);
      lora.enableAdapters();
      console.log(`eval loss before: ${fmt(before)} (${data.eval.length} held-out records)`);

      const runState = {
        model: s.modelDir, data: s.dataFile, seed: settings.seed, batch_size: settings.batchSize, lr: settings.lr, steps,
        train_records: data.train.length,
      };
      const t0 = performance.now();
      let ft: FinetuneResult;
      try {
        ft = await finetuneHf(model, data, {
          loraModel: lora, optimizer, steps, batchSize: settings.batchSize, gradAccum: settings.gradAccum, lr: settings.lr, seed: settings.seed,
          evalEvery: settings.evalEvery, onProgress: terminalProgress('lora', 10), signal: stop.signal,
        });
      } catch (e) {
        if (e instanceof NonFiniteLossError) {
          await saveResumable(adapterOut, lora, e.partial.optimizer, { step: e.partial.optimizer.step, ...runState });
          throw new Error(`${e.message} (--lr was ${settings.lr}); the last good adapter is saved in ${adapterOut}`);
        }
        throw e;
      }
      await saveResumable(adapterOut, lora, ft.result.optimizer, { step: ft.result.optimizer.step, ...runState });
      if (ft.result.stopped === 'aborted') {
        console.log(`\ninterrupted at step ${ft.result.optimizer.step}/${steps}: adapter saved to ${adapterOut}; continue with --resume ${adapterOut}`);
        ft.result.optimizer.dispose();
        return 130;
      }
      ft.result.optimizer.dispose();
      const seconds = (performance.now() - t0) / 1000;
      const after = await evalLoss(model, data);
      console.log(`trained ${ft.result.losses.length} steps in ${formatEta(seconds * 1000)} (${ft.result.msPerStep.toFixed(0)} ms/step); eval loss ${fmt(before)} -> ${fmt(after)}`);
      console.log(`adapter -> ${adapterOut}`);

      let mergedOut: string | null = null;
      if (s.merge) {
        mergedOut = path.join(s.outDir, 'merged');
        lora.mergeAndUnload();
        await savePretrained(model, mergedOut, { tokenizerDir: s.modelDir, generationConfig });
        console.log(`merged model -> ${mergedOut} (loads with transformers' from_pretrained and lora-lab's loadPretrained)`);
      }
      const report = {
        model: s.modelDir, model_type: config.modelType, backend: backend.name, data: s.dataFile,
        examples: examples.length, train_records: data.train.length, eval_records: data.eval.length, learned_tokens: learned,
        steps, batch_size: settings.batchSize, lr: settings.lr, seed: settings.seed, max_length: maxLength,
        lora: { r: cfg.r, lora_alpha: cfg.lora_alpha, lora_dropout: cfg.lora_dropout, use_rslora: cfg.use_rslora, target_modules: targets },
        trainable: ft.trainableParams, all: ft.allParams, ms_per_step: ft.result.msPerStep, peak_bytes: ft.result.peakBytes,
        eval_loss_before: before, eval_loss_after: after, final_loss: ft.result.losses.at(-1) ?? null,
        adapter: adapterOut, merged: mergedOut,
      };
      await writeFileAtomic(path.join(s.outDir, 'report.json'), JSON.stringify(report, null, 2) + '\n');
      console.log(`report -> ${path.join(s.outDir, 'report.json')}`);
      return 0;
    } finally {
      process.removeListener('SIGINT', onSigint);
    }
  } finally {
    model.dispose();
  }
}
