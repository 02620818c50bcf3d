// trainingStepPair: one call is one step of the library's training loop on each model (the base weights of the
// LoRA copy never move, the full copy's do), its FLOP counts are those of gptStepFlops and of the kernels that run,
// and disposing frees every tensor it made.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../src/backend/index.js';
import { trainingStepPair } from '../src/experiments/step-cost.js';
import { profiledMatMuls } from '../src/train/flops.js';

describe('trainingStepPair', () => {
  before(async () => {
    await useBackend('cpu');
  });

  it('steps each model once per call: full moves every weight, LoRA only A and B', async () => {
    const before = tf.memory().numTensors;
    const pair = trainingStepPair({ dModel: 16, nHeads: 2, batchSize: 4, lora: { r: 2 } });
    const q = [...pair.loraModel.loraLayers().values()][0]!;
    const frozen = q.weights.find((w) => !w.trainable)!;
    const frozenBefore = frozen.read().dataSync().slice();
    const losses = [await pair.lora(), await pair.lora(), await pair.full(), await pair.full()];
    assert.ok(losses.every(Number.isFinite), losses.join(', '));
    assert.ok(losses[1]! < losses[0]! && losses[3]! < losses[2]!, `each step lowers the loss on the batch: ${losses.join(', ')}`);
    assert.deepEqual(frozen.read().dataSync(), frozenBefore, 'the LoRA copy keeps its base weights');
    assert.equal(pair.loraModel.trainableVariables().length, 8, 'A and B on q_proj and v_proj of two blocks');
    pair.dispose();
    assert.equal(tf.memory().numTensors, before, 'no tensor left behind');
  });

  it('its FLOP counts are what one step of each kind runs', async () => {
    const pair = trainingStepPair({ dModel: 24, nHeads: 2, dFf: 40, batchSize: 3, lora: { r: 4, target_modules: ['o_proj'] } });
    assert.equal((await profiledMatMuls(() => pair.full().then(() => undefined))).flops, pair.flops.full.total);
    assert.equal((await profiledMatMuls(() => pair.lora().then(() => undefined))).flops, pair.flops.lora.total);
    assert.ok(pair.flops.lora.weightGrads < pair.flops.full.weightGrads / 5);
    assert.equal(pair.config.dFf, 40);
    pair.dispose();
  });
});
