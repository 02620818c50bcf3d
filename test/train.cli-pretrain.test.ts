// `lora-lab pretrain`: a tiny run writes loadable checkpoints; bad flags are one-line usage errors.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { pretrainCommand } from '../src/cli/pretrain.js';
import { UsageError } from '../src/cli/command.js';
import { loadClassifier } from '../src/models/checkpoint.js';

let root: string;
const log = console.log;
before(async () => {
  await tf.setBackend('cpu');
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'lora-lab-pretrain-'));
});
after(async () => {
  console.log = log;
  await fs.rm(root, { recursive: true, force: true });
});

test('pretrain --model classifier writes a checkpoint with its metrics', async () => {
  const lines: string[] = [];
  console.log = (...a: unknown[]) => void lines.push(a.join(' '));
  const code = await pretrainCommand.run(['--model', 'classifier', '--classifier-steps', '3', '--out', root, '--backend', 'cpu']);
  console.log = log;
  assert.equal(code, 0);
  assert.ok(lines.some((l) => /^classifier: .*day accuracy .* %, night .* % -> /.test(l)), lines.join('\n'));
  const c = await loadClassifier(path.join(root, 'checkpoints', 'mlp-animals-day'));
  assert.equal(c.metadata['steps'], 3);
  assert.equal(typeof c.metadata['day_accuracy'], 'number');
  c.model.dispose();
});

test('bad flags are usage errors naming the flag and value', async () => {
  const bad: [string[], RegExp][] = [
    [['--steps', '0'], /--steps must be an integer >= 1, got '0'/],
    [['--model', 'bert'], /--model must be gpt, classifier, adapters or all, got 'bert'/],
    [['--preset', 'huge'], /--preset must be one of nano, tiny, small, bench, got 'huge'/],
    [['--lr', '-1'], /--lr must be a positive number, got '-1'/],
    [['--frobnicate'], /unknown flag '--frobnicate'/],
    [['extra'], /unexpected argument 'extra'/],
  ];
  for (const [args, re] of bad) {
    await assert.rejects(pretrainCommand.run(args), (e: unknown) => e instanceof UsageError && re.test((e as Error).message));
  }
  assert.match(pretrainCommand.help, /--steps N .*\(default 5000\)/);
});
