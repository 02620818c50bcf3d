// `lora-lab finetune` end to end on a nano base (cpu): files written, --compare table, Ctrl-C saves a resumable
// adapter, resume equals an uninterrupted run, and bad input is a one-line usage error.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { finetuneCommand, parseFinetuneFlags } from '../src/cli/finetune.js';
import { DEFAULT_LORA } from '../src/train/finetune.js';
import { loraConfig } from '../src/lora/config.js';
import { UsageError } from '../src/cli/command.js';
import { Gpt } from '../src/models/gpt.js';
import { gptConfig } from '../src/models/config.js';
import { loadGpt, saveCheckpoint } from '../src/models/checkpoint.js';
import { CharTokenizer } from '../src/data/tokenizer.js';
import { decodeSafetensors } from '../src/io/index.js';
import { runFinetune } from './helpers/run-finetune.js';

let root: string;
let base: string;
const log = console.log;
before(async () => {
  await tf.setBackend('cpu');
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'lora-lab-finetune-'));
  base = path.join(root, 'base');
  const tok = new CharTokenizer();
  const m = new Gpt(gptConfig({ preset: 'nano', vocabSize: tok.vocabSize }), { seed: 1 });
  await saveCheckpoint(m, base, { tokenizer: tok });
  m.dispose();
});
after(async () => {
  console.log = log;
  await fs.rm(root, { recursive: true, force: true });
});

const run = runFinetune;

const tiny = ['--steps', '3', '--batch', '2', '--eval', '4', '--backend', 'cpu'];
const adapterWeights = async (dir: string) =>
  decodeSafetensors(new Uint8Array(await fs.readFile(path.join(dir, 'adapter_model.safetensors')))).tensors;

test('finetune --compare writes adapter, merged model, report and chart, and prints the comparison', async () => {
  const out = path.join(root, 'run');
  const { code, lines } = await run([...tiny, '--base', base, '--out', out, '--compare', '--task', 'repeat']);
  assert.equal(code, 0, lines.join('\n'));
  for (const f of ['adapter/adapter_config.json', 'adapter/adapter_model.safetensors', 'adapter/optimizer.safetensors', 'adapter/trainer_state.json', 'merged/config.json', 'merged/model.safetensors', 'report.json', 'loss.png']) {
    await fs.access(path.join(out, f));
  }
  const report = JSON.parse(await fs.readFile(path.join(out, 'report.json'), 'utf8'));
  assert.equal(report.task, 'repeat');
  assert.equal(report.lora.trainable, 2 * 2 * 8 * (32 + 32)); // 2 layers × (q, v) × (A [8, 32] + B [32, 8])
  assert.ok(report.full.trainable > report.lora.trainable);
  assert.equal(report.lora.optimizerBytes, 8 * report.lora.trainable);
  assert.ok(report.merge_max_abs_diff < 1e-4);
  assert.ok(lines.some((l) => /^trainable params +\d/.test(l)), lines.join('\n'));
  assert.ok(lines.some((l) => /^LoRA reached .* of full fine-tuning's gain with .* of its trainable parameters$/.test(l)));
  assert.ok(lines.some((l) => /^lora step 3\/3  loss \d\.\d{4}  val \d\.\d{4}  \d+\.\d ms\/step$/.test(l)), lines.join('\n'));
  const merged = await loadGpt(path.join(out, 'merged'));
  merged.model.dispose();
});

test('Ctrl-C saves a resumable adapter; resuming equals an uninterrupted run', async () => {
  const straight = path.join(root, 'straight');
  assert.equal((await run([...tiny, '--base', base, '--out', straight])).code, 0);

  const cut = path.join(root, 'cut');
  // SIGINT as soon as training is about to start: the run stops before step 1 and saves
  const first = await run([...tiny, '--base', base, '--out', cut, '--steps', '2'], (l) => l.startsWith('task ') && process.emit('SIGINT'));
  assert.equal(first.code, 130);
  assert.ok(first.lines.some((l) => /interrupted at step 0\/2: adapter saved to .*; continue with --resume/.test(l)), first.lines.join('\n'));
  // continue twice: to step 2, then to step 3
  assert.equal((await run(['--steps', '2', '--eval', '4', '--backend', 'cpu', '--base', base, '--out', cut, '--resume', path.join(cut, 'adapter')])).code, 0);
  const resumed = path.join(root, 'resumed');
  const r2 = await run(['--steps', '3', '--eval', '4', '--backend', 'cpu', '--base', base, '--out', resumed, '--resume', path.join(cut, 'adapter')]);
  assert.equal(r2.code, 0, r2.lines.join('\n'));
  assert.ok(r2.lines.some((l) => /^resuming .* at step 2\/3/.test(l)));
  const a = await adapterWeights(path.join(straight, 'adapter'));
  const b = await adapterWeights(path.join(resumed, 'adapter'));
  assert.deepEqual([...b.keys()], [...a.keys()]);
  for (const [k, t] of a) assert.deepEqual(b.get(k)!.data, t.data, k);
});

test('a NaN loss stops the run with the step and keeps the last good adapter on disk', async () => {
  const out = path.join(root, 'nan');
  // lr 3e38: B grows to ~1e37, then A·x overflows float32 and attention turns Inf into NaN
  await assert.rejects(run([...tiny, '--base', base, '--out', out, '--lr', '3e38']),
    /became NaN at step 3; training stopped before that update.*\(--lr was 3e\+38\); the last good adapter is saved in .*nan.adapter/);
  const state = JSON.parse(await fs.readFile(path.join(out, 'adapter', 'trainer_state.json'), 'utf8'));
  assert.equal(state.step, 2);
  await fs.access(path.join(out, 'adapter', 'adapter_model.safetensors'));
});

test('bad input: one-line usage errors (exit 2) or a clear error for a missing checkpoint', async () => {
  const bad: [string[], RegExp][] = [
    [['--frobnicate'], /unknown flag '--frobnicate'/],
    [['--r', '0'], /--r must be an integer >= 1, got '0'/],
    [['--task', 'copy'], /--task must be one of shift, repeat, reverse, swap, got 'copy'/],
    [['--dropout', '1.5'], /--dropout must be in \[0, 1\), got '1.5'/],
    [['--preset', 'huge'], /--preset must be one of default, small, got 'huge'/],
    [['--preset', 'small'], /--preset small needs --base/],
    [['--resume', 'x', '--r', '4'], /--r cannot change on --resume/],
    [['--base', base, '--targets', 'w_q', '--backend', 'cpu'], /target.*'w_q'.*matched no layer|w_q/],
  ];
  for (const [args, re] of bad) {
    await assert.rejects(run(args), (e: unknown) => e instanceof UsageError && re.test((e as Error).message) && !(e as Error).message.includes('\n'), `args ${args.join(' ')}`);
  }
  await assert.rejects(run(['--base', path.join(root, 'missing'), '--backend', 'cpu']), /no checkpoint at '.*missing': config\.json not found/);
  assert.match(finetuneCommand.help, /--r N +LoRA rank \(default 8\)/);
  assert.match(finetuneCommand.help, /--alpha X +lora_alpha; scaling = alpha \/ r \(default 16\)/);
  assert.deepEqual(parseFinetuneFlags(['--r', '4']).lora.lora_alpha, DEFAULT_LORA.lora_alpha, 'the documented default, whatever r');
  assert.equal(loraConfig({ target_modules: ['q'] }).lora_alpha, 8, "the config's own default is PEFT's");
});
