// Any tf.LayersModel through injectLora: a functional model with a layer used twice, a Sequential, and one read back
// with tf.loadLayersModel become LayerTrees; after injection `model.fit` trains only lora_A/lora_B and the library's
// loop trains the same weights; an unmerged model saves and reloads with lora-lab; mergeAndUnload gives a plain
// LayersModel that plain TF.js, in a process that never imported lora-lab, reads back with the same outputs.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { injectLora } from '../src/lora/model.js';
import { isLoraLayer } from '../src/lora/lora-layer.js';
import { saveAdapter, loadAdapter } from '../src/lora/adapter.js';
import { LayersModelTree } from '../src/models/layers-model.js';
import { loadLayersModel, saveLayersModel } from '../src/models/tfjs-files.js';
import { train } from '../src/train/loop.js';

let root: string;
before(async () => {
  await tf.setBackend('cpu');
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'lora-lab-layers-model-'));
});
after(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

/** ids [N, 5] → embedding → flatten → `shared` applied twice (directly, and after `pre`) → add → head [N, 3]. */
function functionalModel(seed = 1): tf.LayersModel {
  const init = (k: number) => tf.initializers.glorotNormal({ seed: seed * 10 + k });
  const ids = tf.input({ shape: [5], name: 'ids' });
  const e = tf.layers.embedding({ inputDim: 20, outputDim: 8, name: 'emb', embeddingsInitializer: init(1) }).apply(ids) as tf.SymbolicTensor;
  const flat = tf.layers.flatten({ name: 'flat' }).apply(e) as tf.SymbolicTensor;
  const shared = tf.layers.dense({ units: 40, name: 'shared', kernelInitializer: init(2) });
  const pre = tf.layers.dense({ units: 40, name: 'pre', kernelInitializer: init(3) }).apply(flat) as tf.SymbolicTensor;
  const sum = tf.layers.add({ name: 'sum' }).apply([shared.apply(flat) as tf.SymbolicTensor, shared.apply(pre) as tf.SymbolicTensor]);
  const out = tf.layers.dense({ units: 3, name: 'head', activation: 'softmax', kernelInitializer: init(4) }).apply(sum as tf.SymbolicTensor);
  return tf.model({ inputs: ids, outputs: out as tf.SymbolicTensor, name: `net${seed}` });
}
const xs = () => tf.tensor2d(Array.from({ length: 16 * 5 }, (_, i) => (i * 7) % 20), [16, 5]); // float ids, as tf.input gives
const ys = () => tf.oneHot(tf.tensor1d(Array.from({ length: 16 }, (_, i) => i % 3), 'int32'), 3);
const diff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
const predict = (m: tf.LayersModel, x: tf.Tensor) => m.predict(x) as tf.Tensor;

test('a functional model with a layer used twice: inject two Dense + one Embedding in one config, model.fit trains only A and B', async () => {
  const model = functionalModel();
  const x = xs();
  const y0 = predict(model, x);
  const frozen = model.weights.map((w) => w.read().dataSync().slice());
  const lm = injectLora(model, { r: 2, lora_alpha: 4, target_modules: ['emb', 'shared', 'head'] });
  assert.deepEqual([...lm.loraLayers()].map(([p, l]) => `${p}:${l.kind}`), ['emb:embedding', 'shared:dense', 'head:dense']);
  const m = lm.model;
  assert.notEqual(m, model, 'a rebuilt graph');
  assert.equal(m.layers.filter((l) => l.name === 'shared.lora').length, 1, 'the shared layer is one wrapper, used at two nodes');
  assert.equal(m.getLayer('shared.lora').inboundNodes.length, 2);
  assert.ok(diff(predict(m, x), y0) < 1e-6, 'equals the base at init');
  assert.deepEqual(m.trainableWeights.map((w) => w.name.replace(/_\d+$/, '')), [
    'emb.lora/lora_embedding_A/default', 'emb.lora/lora_embedding_B/default',
    'shared.lora/lora_A/default', 'shared.lora/lora_B/default', 'head.lora/lora_A/default', 'head.lora/lora_B/default',
  ]);
  m.compile({ optimizer: tf.train.adam(0.05), loss: 'categoricalCrossentropy' });
  const h = await m.fit(x, ys(), { epochs: 5, batchSize: 16, verbose: 0 });
  const losses = h.history['loss'] as number[];
  assert.ok(losses.at(-1)! < losses[0]!, `loss ${losses[0]} → ${losses.at(-1)}`);
  model.weights.forEach((w, i) => assert.deepEqual(w.read().dataSync(), frozen[i], `${w.name} unchanged by fit`));
  assert.ok(diff(predict(m, x), y0) > 1e-4, 'the adapters moved');
  const yFit = predict(m, x);
  // The library's loop trains the same variables through the same graph.
  const loss = () => tf.metrics.categoricalCrossentropy(ys(), m.apply(x, { training: true }) as tf.Tensor).mean() as tf.Scalar;
  const run = await train({ params: lm.paramGroups(), steps: 3, lr: 1e-2, loss });
  run.optimizer.dispose();
  assert.ok(diff(predict(m, x), yFit) > 1e-5, 'train() moved the same weights');
  model.weights.forEach((w, i) => assert.deepEqual(w.read().dataSync(), frozen[i], `${w.name} unchanged by train()`));
  lm.unload();
});

test('an adapter saved from a functional model loads into a fresh copy with identical outputs; merge gives a plain model', async () => {
  const model = functionalModel(2);
  const x = xs();
  const lm = injectLora(model, { r: 2, lora_alpha: 4, target_modules: ['emb', 'shared', 'head'], init_lora_weights: false });
  const yLora = predict(lm.model, x);
  const dir = path.join(root, 'adapter');
  await saveAdapter(lm, dir);
  const fresh = functionalModel(2);
  const lm2 = await loadAdapter(fresh, dir);
  assert.equal(diff(predict(lm2.model, x), yLora), 0, 'identical outputs from the file');
  const plain = lm2.mergeAndUnload();
  assert.equal(plain, fresh, 'the original model object, now holding the merged weights');
  assert.ok(plain.layers.every((l) => !isLoraLayer(l)));
  assert.ok(diff(predict(plain, x), yLora) < 1e-5);
  lm.unload();
});

test('an unmerged LoRA model saves and reloads with lora-lab; the merged one reloads in plain TF.js in another process', async () => {
  const model = functionalModel(3);
  const x = xs();
  const lm = injectLora(model, { r: 2, target_modules: ['emb', 'shared', 'head'], init_lora_weights: false });
  const yLora = predict(lm.model, x);
  const unmergedDir = path.join(root, 'unmerged');
  await saveLayersModel(lm.model, unmergedDir);
  const reloaded = await loadLayersModel(unmergedDir);
  assert.ok(reloaded.layers.some((l) => isLoraLayer(l)), 'the LoRA layers come back (registered classes)');
  assert.equal(diff(predict(reloaded, x), yLora), 0);

  const plain = lm.mergeAndUnload();
  const mergedDir = path.join(root, 'merged');
  await plain.save(`file://${mergedDir}`); // lora-lab answers file:// for plain @tensorflow/tfjs
  const names = (await fs.readdir(mergedDir)).sort();
  assert.deepEqual(names, ['model.json', 'weights.bin']);
  assert.ok(diff(predict(await tf.loadLayersModel(`file://${mergedDir}/model.json`), x), yLora) < 1e-5);
  // A process that imports only @tensorflow/tfjs: no lora-lab classes, no file handler.
  const script = [
    "import * as tf from '@tensorflow/tfjs';",
    "import { readFileSync } from 'node:fs';",
    `const dir = ${JSON.stringify(mergedDir)};`,
    "const json = JSON.parse(readFileSync(dir + '/model.json', 'utf8'));",
    "const bin = readFileSync(dir + '/weights.bin');",
    'const weightData = bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength);',
    "const model = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights, weightData }));",
    `const x = tf.tensor2d(${JSON.stringify(await x.array())});`,
    'console.log(JSON.stringify({ classes: model.layers.map((l) => l.getClassName()), y: await model.predict(x).array() }));',
  ].join('\n');
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: process.cwd(), encoding: 'utf8' });
  const { classes, y } = JSON.parse(out.trim().split('\n').at(-1)!) as { classes: string[]; y: number[][] };
  assert.deepEqual(classes, ['InputLayer', 'Embedding', 'Flatten', 'Dense', 'Dense', 'Add', 'Dense']);
  assert.ok(diff(tf.tensor2d(y), yLora) < 1e-5, 'plain TF.js gives the merged outputs');
});

test('tf.loadLayersModel models and Sequentials work too; a corrupt save is one clear error', async () => {
  const seq = tf.sequential({ layers: [
    tf.layers.dense({ units: 6, inputShape: [4], activation: 'relu', name: 'fc1', kernelInitializer: tf.initializers.glorotNormal({ seed: 5 }) }),
    tf.layers.dense({ units: 2, name: 'fc2', kernelInitializer: tf.initializers.glorotNormal({ seed: 6 }) }),
  ] });
  const dir = path.join(root, 'seq');
  await saveLayersModel(seq, dir);
  const loaded = await loadLayersModel(dir);
  const x = tf.randomNormal([3, 4], 0, 1, 'float32', 7);
  assert.equal(diff(predict(loaded, x), predict(seq, x)), 0);
  const lm = injectLora(loaded, { r: 2, target_modules: ['fc1', 'fc2'], init_lora_weights: false });
  assert.ok(diff(predict(lm.model, x), predict(seq, x)) > 1e-4);
  assert.ok(lm.base instanceof LayersModelTree);
  const s2 = injectLora(seq, { r: 2, target_modules: 'all-linear', init_lora_weights: false });
  assert.deepEqual([...s2.loraLayers().keys()], ['fc1', 'fc2']);
  assert.equal(predict(s2.model, x).shape.join(), '3,2');
  s2.unload();
  await fs.writeFile(path.join(dir, 'weights.bin'), new Uint8Array(10));
  await assert.rejects(loadLayersModel(dir), /the weights need \d+ bytes but the weight files hold 10: the save is incomplete/);
  await assert.rejects(loadLayersModel(path.join(root, 'nothing')), /model\.json: not found: no saved model there/);
});
