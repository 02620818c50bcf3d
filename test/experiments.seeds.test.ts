// SeedRuns: settings × seeds as rows, seeds reaching both the LoRA init and the data order, identical runs shared
// (not retrained), a learning curve from one run equal to separate shorter runs, and no leaked tensors.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { meanDeltaNorm, runExperiment, type ExperimentOptions } from '../src/experiments/experiment.js';
import { frobeniusNorm } from '../src/linalg/lowrank.js';
import { SeedRuns, seedValues } from '../src/experiments/seeds.js';
import { Gpt } from '../src/models/gpt.js';
import { gptConfig } from '../src/models/config.js';
import { CharTokenizer } from '../src/data/tokenizer.js';
import { textTask } from '../src/data/tasks.js';

describe('SeedRuns', () => {
  const tok = new CharTokenizer();
  let base: ExperimentOptions;
  before(async () => {
    await tf.setBackend('cpu');
    const model = new Gpt(gptConfig({ preset: 'nano', vocabSize: tok.vocabSize, dModel: 16, dFf: 32, nLayers: 1 }), { seed: 3 });
    base = { model, tokenizer: tok, task: textTask('shift'), steps: 6, lr: 2e-2, batchSize: 4, valExamples: 8, exactMatch: true };
  });
  const lora = (r: number) => ({ lora: { r, lora_alpha: 2 * r, target_modules: ['q_proj', 'v_proj'] } });

  it('gives one row per point and seed, each equal to runExperiment with that seed for init and data', async () => {
    const tensors = tf.memory().numTensors;
    const runs = new SeedRuns(base);
    const seen: string[] = [];
    const rows = await runs.rows(
      [{ r: 1 }, { r: 2 }],
      [0, 1, 2],
      (p) => ({ spec: lora(p.r) }),
      (res) => ({ loss: res.valLoss, em: res.accuracy! }),
      { onProgress: (p) => seen.push(`${p.done}/${p.total} r${String(p.point['r'])} s${p.seed}${p.reused ? ' reused' : ''}`) },
    );
    assert.deepEqual(rows.map((x) => [x.r, x.seed]), [[1, 0], [1, 1], [1, 2], [2, 0], [2, 1], [2, 2]]);
    assert.deepEqual(seen, ['1/6 r1 s0', '2/6 r1 s1', '3/6 r1 s2', '4/6 r2 s0', '5/6 r2 s1', '6/6 r2 s2']);
    const direct = await runExperiment({ lora: { ...lora(2).lora, seed: 1 } }, { ...base, seed: 1 });
    assert.equal(seedValues(rows, { r: 2, seed: 1 }, 'loss')[0], direct.valLoss);
    assert.equal(seedValues(rows, { r: 2, seed: 1 }, 'em')[0], direct.accuracy);
    // different seeds are different runs (init and data), the same seed is the same run
    const r2 = seedValues(rows, { r: 2 }, 'loss');
    assert.equal(new Set(r2).size, 3, `losses ${r2}`);
    assert.deepEqual(runs.counts, { trained: 6, reused: 0 });
    assert.equal(tf.memory().numTensors, tensors);
  });

  it('reuses an identical run however its settings are written, and retrains when anything differs', async () => {
    const runs = new SeedRuns(base);
    const a = await runs.run(lora(2), 0);
    const b = await runs.run({ lora: { target_modules: ['q_proj', 'v_proj'], lora_alpha: 4, r: 2 } }, 0, { steps: 6 });
    assert.equal(b.reused, true);
    assert.equal(b.result, a.result);
    const c = await runs.run(lora(2), 0, { steps: 5 }); // another budget
    const d = await runs.run(lora(2), 1); // another seed
    assert.equal(c.reused || d.reused, false);
    assert.deepEqual(runs.counts, { trained: 3, reused: 1 });
    const rows = await runs.rows([{ r: 2 }], [0, 1], (p) => ({ spec: lora(p.r) }), (res) => ({ loss: res.valLoss }));
    assert.deepEqual(rows.map((x) => x.loss), [a.result.valLoss, d.result.valLoss]);
    assert.deepEqual(runs.counts, { trained: 3, reused: 3 });
  });

  it('records a learning curve from one run that matches separately trained shorter runs', async () => {
    const runs = new SeedRuns(base);
    const { result: long } = await runs.run(lora(2), 0, { evalSteps: [0, 3] });
    const { result: short } = await runs.run(lora(2), 0, { steps: 3 });
    const { result: full, reused } = await runs.run(lora(2), 0);
    assert.equal(reused, true);
    assert.deepEqual(long.curve!.map((p) => p.step), [0, 3, 6]);
    assert.ok(Math.abs(long.curve![0]!.valLoss - long.startValLoss) < 1e-6, 'step 0 is the start');
    assert.ok(Math.abs(long.curve![1]!.valLoss - short.valLoss) < 1e-5, `${long.curve![1]!.valLoss} vs ${short.valLoss}`);
    assert.equal(long.curve![2]!.valLoss, long.valLoss);
    assert.ok(Math.abs(long.valLoss - full.valLoss) < 1e-5, `${long.valLoss} vs ${full.valLoss}`);
    assert.deepEqual(long.losses.slice(0, 3), short.losses);
    assert.equal(long.losses.length, 6);
    // the curve only observes the run: the 6-step run with a curve answered the plain 6-step request
    assert.equal(full, long);
    const again = await runs.run(lora(2), 0, { evalSteps: [2] }); // a curve step it lacks: trained again
    assert.equal(again.reused, false);
    assert.deepEqual(again.result.curve!.map((p) => p.step), [2, 6]);
    assert.equal(again.result.valLoss, long.valLoss);
    await assert.rejects(runs.run(lora(2), 0, { evalSteps: [7] }), /evalSteps must be integers in 0\.\.6 \(steps\), got 7/);
  });

  it('meanDeltaNorm is the mean ‖scaling·B·A‖_F over the adapted matrices, and needs kept weights', async () => {
    const runs = new SeedRuns(base);
    const { result } = await runs.run(lora(2), 0, { keepWeights: true });
    const ws = [...result.weights!.values()];
    assert.equal(ws.length, 2); // q_proj and v_proj of the one block
    const byHand = ws.map((w) => frobeniusNorm(w.lora_B.mmul(w.lora_A).mul(2))); // scaling = α/r = 4/2
    assert.ok(Math.abs(meanDeltaNorm(result) - (byHand[0]! + byHand[1]!) / 2) < 1e-6);
    assert.ok(meanDeltaNorm(result) > 0);
    const { result: bare } = await runs.run(lora(2), 0);
    assert.throws(() => meanDeltaNorm(bare), /kept no weights: run it with keepWeights: true/);
  });

  it('names what is wrong: seeds, rows and fields', async () => {
    const runs = new SeedRuns(base);
    const id = (p: { r: number }) => ({ spec: lora(p.r) });
    await assert.rejects(runs.rows([{ r: 1 }], [], id, () => ({})), /needs at least one seed/);
    await assert.rejects(runs.rows([{ r: 1 }], [0, 0], id, () => ({})), /seeds must differ, got \[0,0\]/);
    await assert.rejects(runs.run(lora(1), -1), /seed must be a non-negative integer, got -1/);
    await assert.rejects(runs.rows([{ r: 0 }], [0], id, () => ({})), /run \{"r":0\} at seed 0 failed: /);
    assert.throws(() => seedValues([{ r: 1, loss: 2 }], { r: 3 }, 'loss'), /no row has \{"r":3\}/);
    assert.throws(() => seedValues([{ r: 1, name: 'x' }], { r: 1 }, 'name'), /row field 'name' is "x", not a number/);
  });
});
