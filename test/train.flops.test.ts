// gptStepFlops (matrix-product FLOPs of a training step, from the shapes) held against the kernels a real step of
// the library's training loop runs, read from tf.profile: full fine-tuning and LoRA on several module sets.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../src/backend/index.js';
import { Gpt } from '../src/models/gpt.js';
import { gptConfig } from '../src/models/config.js';
import { CharTokenizer } from '../src/data/tokenizer.js';
import { batchAt } from '../src/data/batch.js';
import { textTask } from '../src/data/tasks.js';
import { injectLora } from '../src/lora/index.js';
import { train } from '../src/train/loop.js';
import { lmLoss } from '../src/train/sft.js';
import { allVariables } from '../src/train/params.js';
import { gptStepFlops, profiledMatMuls } from '../src/train/flops.js';

const tok = new CharTokenizer();
const config = gptConfig({ preset: 'nano', vocabSize: tok.vocabSize, nLayers: 2, dFf: 96 });
const batch = batchAt(textTask('reverse'), tok, 0, 0, 3);
const shape = { batchSize: batch.batchSize, length: batch.length };

/** FLOPs the kernels of one step of `train` ran (forward, gradients, clipping, Adam). */
async function oneStep(model: Gpt, params: tf.Variable[]): Promise<number> {
  let optimizer: { dispose(): void } | undefined;
  const { flops } = await profiledMatMuls(async () => {
    const run = await train({ params, steps: 1, lr: 1e-3, loss: () => lmLoss(model, batch, { training: true }) });
    optimizer = run.optimizer;
  });
  optimizer!.dispose();
  return flops;
}

describe('gptStepFlops', () => {
  before(async () => {
    await useBackend('cpu');
  });

  it('full fine-tuning: equals the products a training step runs; dW for every product but attention’s', async () => {
    const model = new Gpt(config, { seed: 0 });
    const counted = gptStepFlops(config, shape);
    assert.equal(await oneStep(model, allVariables(model)), counted.total);
    const { flops: forward } = await profiledMatMuls(() => tf.dispose(lmLoss(model, batch)));
    assert.equal(forward, counted.forward);
    const N = shape.batchSize * shape.length;
    const attention = config.nLayers * 4 * shape.batchSize * shape.length ** 2 * config.dModel;
    const lookup = 2 * N * config.vocabSize * config.dModel;
    assert.equal(counted.weightGrads, counted.forward - attention, 'attention has no weights');
    // every product back-propagates to its input but the one-hot lookup; attention's to both of its inputs
    assert.equal(counted.inputGrads, counted.forward - lookup + attention);
    model.dispose();
  });

  const cases: [string, string[], number][] = [
    ['q_proj and v_proj in every block', ['q_proj', 'v_proj'], 4],
    ['only the last down_proj: nothing below it back-propagates', ['layers.1.mlp.down_proj'], 2],
    ['k_proj of block 0 and lm_head', ['layers.0.self_attn.k_proj', 'lm_head'], 3],
    ['every linear layer', ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'up_proj', 'down_proj', 'lm_head'], 8],
  ];
  for (const [what, targets, r] of cases) {
    it(`LoRA on ${what}: equals the products a training step runs`, async () => {
      const model = new Gpt(config, { seed: 1 });
      const lora = injectLora(model, { r, target_modules: targets });
      const counted = gptStepFlops(config, { ...shape, lora: { r, modules: [...lora.loraLayers().keys()] } });
      assert.equal(await oneStep(model, lora.trainableVariables()), counted.total);
      const { flops: forward } = await profiledMatMuls(() => tf.dispose(lmLoss(model, batch, { training: true })));
      assert.equal(forward, counted.forward);
      lora.unload();
      model.dispose();
    });
  }

  it('LoRA removes the frozen weights’ dW and, below the lowest adapted layer, their dx', () => {
    const full = gptStepFlops(config, shape);
    const qv = gptStepFlops(config, { ...shape, lora: { r: 4, modules: ['layers.0.self_attn.q_proj'] } });
    assert.ok(qv.weightGrads < full.weightGrads / 10);
    assert.ok(qv.inputGrads < full.inputGrads, 'k_proj and the lookup of block 0 need no dx');
    assert.ok(qv.forward > full.forward, 'the branch adds to the forward pass');
  });

  it('refuses what is not a linear layer of the model, and bad sizes, naming the value', () => {
    assert.throws(
      () => gptStepFlops(config, { ...shape, lora: { r: 2, modules: ['embed_tokens'] } }),
      /'embed_tokens' is not a linear layer of this 2-block GPT: use paths like 'layers\.0\.self_attn\.q_proj'/,
    );
    assert.throws(() => gptStepFlops(config, { ...shape, lora: { r: 2, modules: ['layers.2.self_attn.q_proj'] } }), /'layers\.2/);
    assert.throws(() => gptStepFlops(config, { ...shape, lora: { r: 0, modules: [] } }), /r must be a positive integer, got 0/);
    assert.throws(() => gptStepFlops(config, { ...shape, length: 2.5 }), /length must be a positive integer, got 2\.5/);
  });
});
