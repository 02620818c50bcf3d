// The whole fine-tune pipeline on the webgpu backend (Mesa lavapipe where there is no GPU): LoRA training, eval,
// merge, save and load run there without synchronous reads, match the cpu backend within stated tolerances, leak
// no tensors, and a process that used webgpu exits by itself after releaseBackend().
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { releaseBackend, useBackend } from '../../src/backend/index.js';
import { Gpt } from '../../src/models/gpt.js';
import { gptConfig } from '../../src/models/config.js';
import { CharTokenizer } from '../../src/data/tokenizer.js';
import { makeExamples, textTask } from '../../src/data/tasks.js';
import { finetuneGpt } from '../../src/train/finetune.js';
import { exactMatch } from '../../src/train/eval.js';
import { loadAdapter, saveAdapter } from '../../src/lora/index.js';

// Tolerances, cpu vs webgpu (float32 both; only the order of summation differs):
const LOSS_TOL = 1e-3; // absolute, on cross-entropy losses of ~3.4 after 4 Adam steps
const LOGIT_TOL = 1e-3; // absolute, on logits of magnitude ~1 after training
const MERGE_TOL = 1e-4; // merged vs unmerged on one backend

const tmp = mkdtempSync(path.join(os.tmpdir(), 'lora-lab-webgpu-'));
const tok = new CharTokenizer();
const probe = [[1, 5, 6, 7, 3, 8, 4]]; // <bos> "cde a b=" as ids: any in-vocabulary row will do

interface Run {
  losses: number[];
  valLoss: number;
  logits: number[];
  mergedLogits: number[];
  exactMatchTotal: number;
}

/** Fine-tunes a nano GPT with LoRA for 4 steps on `backend`, evaluates, merges, saves; returns what it saw. */
async function pipeline(backend: string, dir: string): Promise<Run> {
  await useBackend(backend, { log: null });
  assert.equal(tf.getBackend(), backend);
  // Dawn reports an invalid shader or binding only as a printed validation error: catch them here.
  const device = backend === 'webgpu' ? (tf.backend() as unknown as { device: GPUDevice }).device : undefined;
  device?.pushErrorScope('validation');
  const before = tf.memory().numTensors;
  const model = new Gpt(gptConfig({ preset: 'nano', vocabSize: tok.vocabSize }), { seed: 3 });
  const ft = await finetuneGpt(model, tok, { task: 'reverse', steps: 4, batchSize: 8, lr: 1e-2, warmupSteps: 1, evalEvery: 4, seed: 1 });
  const lora = ft.lora!;
  const x = tf.tensor2d(probe, [1, probe[0]!.length], 'int32'); // [1, T]
  const read = async (t: tf.Tensor) => {
    const v = Array.from(await t.data());
    t.dispose();
    return v;
  };
  const logits = await read(model.logits(x)); // [1, T, V] flattened
  lora.merge();
  const mergedLogits = await read(model.logits(x));
  lora.unmerge();
  const em = await exactMatch(model, tok, makeExamples(textTask('reverse'), 3, 0, 'test'));
  await saveAdapter(lora, dir);
  x.dispose();
  ft.result.optimizer.dispose();
  lora.unload();
  model.dispose();
  assert.equal(tf.memory().numTensors, before, `${backend}: tensors leaked by the pipeline`);
  const gpuError = await device?.popErrorScope();
  assert.equal(gpuError ?? null, null, `webgpu validation error: ${gpuError?.message}`);
  return { losses: ft.result.losses, valLoss: ft.result.valLosses.at(-1)!.loss, logits, mergedLogits, exactMatchTotal: em.total };
}

function maxAbsDiff(a: number[], b: number[]): number {
  assert.equal(a.length, b.length);
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
}

describe('fine-tuning on webgpu', () => {
  after(() => {
    releaseBackend();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('trains, evaluates, merges and saves on webgpu, matching cpu within tolerance', async () => {
    const cpu = await pipeline('cpu', path.join(tmp, 'cpu'));
    const gpu = await pipeline('webgpu', path.join(tmp, 'webgpu'));
    assert.equal(gpu.losses.length, 4);
    gpu.losses.forEach((l, i) => assert.ok(Math.abs(l - cpu.losses[i]!) < LOSS_TOL, `step ${i + 1} loss: webgpu ${l} vs cpu ${cpu.losses[i]}`));
    assert.ok(Math.abs(gpu.valLoss - cpu.valLoss) < LOSS_TOL, `val loss: webgpu ${gpu.valLoss} vs cpu ${cpu.valLoss}`);
    assert.ok(maxAbsDiff(gpu.logits, cpu.logits) < LOGIT_TOL, `logits differ by ${maxAbsDiff(gpu.logits, cpu.logits)}`);
    assert.ok(maxAbsDiff(gpu.mergedLogits, gpu.logits) < MERGE_TOL, `merge changed webgpu logits by ${maxAbsDiff(gpu.mergedLogits, gpu.logits)}`);
    assert.equal(gpu.exactMatchTotal, 3);
    // The loss moved: these were real updates, not a no-op that would match trivially.
    assert.notEqual(cpu.losses[0], cpu.losses[3]);
  });

  it('an adapter saved on cpu loads on webgpu and gives the cpu logits', async () => {
    const dir = path.join(tmp, 'cpu'); // written by the test above
    await useBackend('webgpu', { log: null });
    const before = tf.memory().numTensors;
    const model = new Gpt(gptConfig({ preset: 'nano', vocabSize: tok.vocabSize }), { seed: 3 });
    const loaded = await loadAdapter(model, dir);
    const x = tf.tensor2d(probe, [1, probe[0]!.length], 'int32');
    const y = model.logits(x);
    const onGpu = Array.from(await y.data());
    tf.dispose([x, y]);
    loaded.unload();
    model.dispose();
    assert.equal(tf.memory().numTensors, before);
    // Same base (seed 3) + the cpu-trained adapter = the cpu run's logits.
    await useBackend('cpu', { log: null });
    const ref = new Gpt(gptConfig({ preset: 'nano', vocabSize: tok.vocabSize }), { seed: 3 });
    const refLora = await loadAdapter(ref, dir);
    const xr = tf.tensor2d(probe, [1, probe[0]!.length], 'int32');
    const yr = ref.logits(xr);
    const onCpu = Array.from(await yr.data());
    tf.dispose([xr, yr]);
    refLora.unload();
    ref.dispose();
    assert.ok(maxAbsDiff(onGpu, onCpu) < LOGIT_TOL, `loaded adapter: webgpu vs cpu logits differ by ${maxAbsDiff(onGpu, onCpu)}`);
  });

  it('a process that trained on webgpu exits by itself after releaseBackend()', () => {
    const script = [
      "import { releaseBackend, useBackend } from './src/backend/index.js';",
      "import { Gpt } from './src/models/gpt.js';",
      "import { gptConfig } from './src/models/config.js';",
      "import { CharTokenizer } from './src/data/tokenizer.js';",
      "import { finetuneGpt } from './src/train/finetune.js';",
      "await useBackend('webgpu', { log: null });",
      'const tok = new CharTokenizer();',
      "const model = new Gpt(gptConfig({ preset: 'nano', vocabSize: tok.vocabSize }));",
      'const ft = await finetuneGpt(model, tok, { steps: 1, batchSize: 4, evalEvery: 1 });',
      "console.log('steps', ft.result.losses.length);",
      'releaseBackend();',
    ].join('\n');
    const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: root,
      encoding: 'utf8',
      timeout: 60_000, // a live GPU device would keep it running until killed here
    });
    assert.equal(child.error, undefined, `child did not exit by itself: ${String(child.error)}`);
    assert.equal(child.status, 0, child.stderr);
    assert.match(child.stdout, /^steps 1$/m);
  });
});
