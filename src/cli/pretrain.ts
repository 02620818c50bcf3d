// `lora-lab pretrain`: makes everything in data/ from scratch, seeded: the tiny GPT pretrained on the copy task,
// the MLP classifier on day-camera animals, and reference LoRA adapters of the GPT for the `shift` and `repeat`
// tasks. `npm run pretrain` runs this.
import path from 'node:path';
import { useBackend } from '../backend/index.js';
import { BUNDLED_ADAPTERS, BUNDLED_CHECKPOINTS, dataPath, loadGpt, saveCheckpoint } from '../models/checkpoint.js';
import { pretrainClassifier, pretrainGpt } from '../train/pretrain.js';
import { DEFAULT_LORA, evaluateTask, finetuneGpt } from '../train/finetune.js';
import { saveAdapter } from '../lora/index.js';
import { formatEta } from '../train/format.js';
import { GPT_PRESETS, type GptPresetName } from '../models/config.js';
import { parseFlags, parseIntFlag, parseNumberFlag, UsageError, type Command } from './command.js';
import { terminalProgress } from './progress.js';

const DEFAULTS = { steps: 5000, batch: 32, lr: 2e-3, seed: 0, preset: 'tiny', clfSteps: 150 } as const;

/** The reference adapters: task → LoRA fine-tuning steps (DEFAULT_LORA: r 8, alpha 16 on q_proj + v_proj; lr 1e-2, batch 16). */
export const REFERENCE_ADAPTERS = { shift: 1000, repeat: 1200 } as const;

export const pretrainCommand: Command = {
  name: 'pretrain',
  summary: 'train the bundled base models (tiny GPT on "copy", animal classifier) and save their checkpoints',
  help: [
    'usage: lora-lab pretrain [flags]',
    '',
    'Trains from scratch, seeded, and writes into <out>:',
    `  gpt         -> ${BUNDLED_CHECKPOINTS.gpt}   (copy task, language-model loss)`,
    `  classifier  -> ${BUNDLED_CHECKPOINTS.classifier}   (day-camera animals)`,
    `  adapters    -> ${BUNDLED_ADAPTERS.shift}, ${BUNDLED_ADAPTERS.repeat}   (LoRA of <out>'s gpt; PEFT layout)`,
    '',
    'flags:',
    '  --model gpt|classifier|adapters|all   what to make (default all, in that order)',
    `  --preset NAME                GPT size: ${Object.keys(GPT_PRESETS).join(', ')} (default ${DEFAULTS.preset})`,
    `  --steps N                    GPT optimizer steps (default ${DEFAULTS.steps})`,
    `  --batch N                    GPT records per step (default ${DEFAULTS.batch})`,
    `  --lr X                       GPT peak learning rate (default ${DEFAULTS.lr})`,
    `  --classifier-steps N         classifier full-batch steps (default ${DEFAULTS.clfSteps})`,
    `  --seed N                     seed for init, data order and dropout (default ${DEFAULTS.seed})`,
    '  --out DIR                    the data folder to write into (default: the package\'s data/)',
    '  --backend NAME               auto|node-gpu|node|webgpu|wasm|cpu (default $LORA_LAB_BACKEND or auto)',
  ].join('\n'),
  async run(args) {
    const { flags, positional } = parseFlags(args, {
      model: { type: 'string' },
      preset: { type: 'string' },
      steps: { type: 'string' },
      batch: { type: 'string' },
      lr: { type: 'string' },
      'classifier-steps': { type: 'string' },
      seed: { type: 'string' },
      out: { type: 'string' },
      backend: { type: 'string' },
    });
    if (positional.length > 0) throw new UsageError(`unexpected argument '${positional[0]}': pretrain takes only flags`);
    const which = String(flags['model'] ?? 'all');
    if (!['gpt', 'classifier', 'adapters', 'all'].includes(which)) throw new UsageError(`--model must be gpt, classifier, adapters or all, got '${which}'`);
    const preset = String(flags['preset'] ?? DEFAULTS.preset);
    if (!(preset in GPT_PRESETS)) throw new UsageError(`--preset must be one of ${Object.keys(GPT_PRESETS).join(', ')}, got '${preset}'`);
    const steps = parseIntFlag(flags, 'steps', DEFAULTS.steps, 1);
    const batchSize = parseIntFlag(flags, 'batch', DEFAULTS.batch, 1);
    const lr = parseNumberFlag(flags, 'lr', DEFAULTS.lr);
    const clfSteps = parseIntFlag(flags, 'classifier-steps', DEFAULTS.clfSteps, 1);
    const seed = parseIntFlag(flags, 'seed', DEFAULTS.seed);
    const outRoot = flags['out'] === undefined ? dataPath('.') : path.resolve(String(flags['out']));
    const backend = await useBackend(flags['backend'] === undefined ? undefined : String(flags['backend']), { log: null });
    console.log(`backend: ${backend.name} (${backend.reason})`);

    const stop = new AbortController();
    const onSigint = () => stop.abort();
    process.once('SIGINT', onSigint);
    try {
      if (which === 'gpt' || which === 'all') {
        const t0 = performance.now();
        const r = await pretrainGpt({ preset: preset as GptPresetName, steps, batchSize, lr, seed, onProgress: terminalProgress('gpt'), signal: stop.signal });
        const seconds = (performance.now() - t0) / 1000;
        if (r.result.stopped === 'aborted') {
          console.log(`gpt: interrupted at step ${r.result.losses.length}; nothing saved`);
          r.model.dispose();
          return 130;
        }
        const dir = path.join(outRoot, BUNDLED_CHECKPOINTS.gpt);
        await saveCheckpoint(r.model, dir, {
          tokenizer: r.tokenizer,
          metadata: {
            task: 'copy', preset, steps, batch_size: batchSize, lr, seed, backend: backend.name,
            final_loss: round(r.finalLoss), val_loss: round(r.result.valLosses.at(-1)?.loss ?? NaN),
            copy_exact_match: r.copyExactMatch, seconds: Math.round(seconds),
          },
        });
        console.log(`gpt: ${formatEta(seconds * 1000)}, final loss ${r.finalLoss.toFixed(4)} (all tokens), ` +
          `val ${r.result.valLosses.at(-1)?.loss.toFixed(4)} (answers), copy exact match ${(100 * r.copyExactMatch).toFixed(1)} % -> ${dir}`);
        r.model.dispose();
      }
      if (which === 'classifier' || which === 'all') {
        const t0 = performance.now();
        const r = await pretrainClassifier({ steps: clfSteps, seed, onProgress: terminalProgress('classifier', 100), signal: stop.signal });
        const seconds = (performance.now() - t0) / 1000;
        if (r.result.stopped === 'aborted') {
          console.log(`classifier: interrupted at step ${r.result.losses.length}; nothing saved`);
          r.model.dispose();
          return 130;
        }
        const dir = path.join(outRoot, BUNDLED_CHECKPOINTS.classifier);
        await saveCheckpoint(r.model, dir, {
          metadata: {
            task: 'animals (day camera)', steps: clfSteps, seed, backend: backend.name,
            final_loss: round(r.result.losses.at(-1) ?? NaN), day_accuracy: r.dayAccuracy, night_accuracy: r.nightAccuracy,
            seconds: Math.round(seconds),
          },
        });
        console.log(`classifier: ${formatEta(seconds * 1000)}, final loss ${r.result.losses.at(-1)?.toFixed(4)}, ` +
          `day accuracy ${(100 * r.dayAccuracy).toFixed(1)} %, night ${(100 * r.nightAccuracy).toFixed(1)} % -> ${dir}`);
        r.model.dispose();
      }
      if (which === 'adapters' || which === 'all') {
        for (const [task, taskSteps] of Object.entries(REFERENCE_ADAPTERS) as [keyof typeof REFERENCE_ADAPTERS, number][]) {
          const t0 = performance.now();
          const { model, tokenizer } = await loadGpt(path.join(outRoot, BUNDLED_CHECKPOINTS.gpt));
          const ft = await finetuneGpt(model, tokenizer, {
            task, steps: taskSteps, batchSize: 16, lr: 1e-2, seed, onProgress: terminalProgress(task), signal: stop.signal,
            lora: { base_model_name_or_path: path.basename(BUNDLED_CHECKPOINTS.gpt) }, // recorded in adapter_config.json
          });
          ft.result.optimizer.dispose();
          if (ft.result.stopped === 'aborted') {
            console.log(`${task}: interrupted; nothing saved`);
            model.dispose();
            return 130;
          }
          const em = await evaluateTask(model, tokenizer, task, { n: 200, seed });
          const dir = path.join(outRoot, BUNDLED_ADAPTERS[task]);
          await saveAdapter(ft.lora!, dir);
          const seconds = (performance.now() - t0) / 1000;
          console.log(`${task} adapter (${String(DEFAULT_LORA.target_modules)}, r=${DEFAULT_LORA.r}): ${formatEta(seconds * 1000)}, ` +
            `final loss ${ft.result.losses.at(-1)?.toFixed(4)}, exact match ${(100 * em.accuracy).toFixed(1)} % -> ${dir}`);
          model.dispose();
        }
      }
    } finally {
      process.removeListener('SIGINT', onSigint);
    }
    return 0;
  },
};

function round(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}
