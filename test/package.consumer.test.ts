// The acceptance test as a user meets lora-lab: a separate project installs the packed tarball (npm pack) next to its
// own @tensorflow/tfjs (one copy: TF.js is a peer dependency), builds a functional tf.model, injects LoRA into two
// Dense layers and one Embedding with one config, trains with model.fit, saves the adapter, loads it into a fresh copy
// with identical outputs, merges and unloads, and model.save()s a model that plain TF.js (a process that never imports
// lora-lab) reloads with the same outputs. Needs npm and the registry (or its cache); about half a minute.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const repo = process.cwd();
let root: string | undefined;
after(async () => {
  if (root) await fs.rm(root, { recursive: true, force: true });
});

const USER_SCRIPT = `
import * as tf from '@tensorflow/tfjs';
import { injectLora, saveAdapter, loadAdapter, useBackend } from 'lora-lab';
import { writeFileSync } from 'node:fs';
await useBackend('cpu', { log: null });
function build() {
  const init = (k) => tf.initializers.glorotNormal({ seed: k });
  const ids = tf.input({ shape: [6] });
  const e = tf.layers.embedding({ inputDim: 30, outputDim: 8, name: 'tokens', embeddingsInitializer: init(1) }).apply(ids);
  const h = tf.layers.dense({ units: 16, activation: 'relu', name: 'hidden', kernelInitializer: init(2) }).apply(tf.layers.flatten().apply(e));
  const out = tf.layers.dense({ units: 4, activation: 'softmax', name: 'out', kernelInitializer: init(3) }).apply(h);
  return tf.model({ inputs: ids, outputs: out });
}
const x = tf.tensor2d(Array.from({ length: 32 * 6 }, (_, i) => (i * 11) % 30), [32, 6]);
const y = tf.oneHot(tf.tensor1d(Array.from({ length: 32 }, (_, i) => i % 4), 'int32'), 4);
const lm = injectLora(build(), { r: 4, lora_alpha: 8, target_modules: ['tokens', 'hidden', 'out'] });
lm.model.compile({ optimizer: tf.train.adam(0.05), loss: 'categoricalCrossentropy' });
const history = await lm.model.fit(x, y, { epochs: 4, batchSize: 32, verbose: 0 });
const trained = lm.model.predict(x);
await saveAdapter(lm, 'adapter');
const fresh = await loadAdapter(build(), 'adapter');
const reloadDiff = tf.max(tf.abs(fresh.model.predict(x).sub(trained))).dataSync()[0];
const plain = fresh.mergeAndUnload();
const mergedDiff = tf.max(tf.abs(plain.predict(x).sub(trained))).dataSync()[0];
await plain.save('file://merged');
writeFileSync('result.json', JSON.stringify({
  kinds: [...lm.loraLayers().values()].map((l) => l.kind),
  trainable: lm.model.trainableWeights.map((w) => w.name),
  losses: history.history.loss, reloadDiff, mergedDiff, y: await trained.array(), x: await x.array(),
}));
`;

const PLAIN_SCRIPT = `
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
const json = JSON.parse(readFileSync('merged/model.json', 'utf8'));
const bin = readFileSync('merged/weights.bin');
const model = await tf.loadLayersModel(tf.io.fromMemory({
  modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights,
  weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
}));
const { x } = JSON.parse(readFileSync('result.json', 'utf8'));
console.log(JSON.stringify({ y: await model.predict(tf.tensor2d(x)).array(), classes: model.layers.map((l) => l.getClassName()) }));
`;

test('a project that installs the packed tarball: tf.model + LoRA on 2 Dense and 1 Embedding, fit, adapter round trip, merged model for plain TF.js', async (t) => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'lora-lab-consumer-'));
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: repo, stdio: 'pipe' });
  const packed = execFileSync('npm', ['pack', '--silent', '--pack-destination', root], { cwd: repo, encoding: 'utf8' }).trim().split('\n').at(-1)!;
  const project = path.join(root, 'project');
  await fs.mkdir(project);
  const tfVersion = (JSON.parse(await fs.readFile(path.join(repo, 'node_modules/@tensorflow/tfjs/package.json'), 'utf8')) as { version: string }).version;
  await fs.writeFile(path.join(project, 'package.json'), JSON.stringify({
    name: 'consumer', version: '1.0.0', private: true, type: 'module',
    dependencies: { 'lora-lab': `file:${path.join(root, packed)}`, '@tensorflow/tfjs': tfVersion },
  }));
  const install = spawnSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: project, encoding: 'utf8', timeout: 300_000 });
  if (install.status !== 0 && /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT/.test(install.stderr)) {
    t.skip(`npm cannot reach the registry here: ${install.stderr.split('\n').find((l) => /ENOTFOUND|EAI_AGAIN|ECONN|ETIMEDOUT/.test(l))}`);
    return;
  }
  assert.equal(install.status, 0, install.stderr);
  assert.ok(!existsSync(path.join(project, 'node_modules/lora-lab/node_modules/@tensorflow/tfjs')), 'one copy of TF.js (a peer dependency)');

  await fs.writeFile(path.join(project, 'user.mjs'), USER_SCRIPT);
  execFileSync(process.execPath, ['user.mjs'], { cwd: project, stdio: 'pipe' });
  const r = JSON.parse(await fs.readFile(path.join(project, 'result.json'), 'utf8')) as {
    kinds: string[]; trainable: string[]; losses: number[]; reloadDiff: number; mergedDiff: number; y: number[][];
  };
  assert.deepEqual(r.kinds, ['embedding', 'dense', 'dense']);
  assert.equal(r.trainable.length, 6, 'model.fit sees only lora_A and lora_B of the three layers');
  assert.ok(r.trainable.every((n) => /lora_(embedding_)?[AB]/.test(n)));
  assert.ok(r.losses.at(-1)! < r.losses[0]!, `fit lowered the loss: ${r.losses.join(' → ')}`);
  assert.equal(r.reloadDiff, 0, 'the adapter loaded into a fresh copy gives identical outputs');
  assert.ok(r.mergedDiff < 1e-5, 'the merged model gives the same outputs');

  await fs.writeFile(path.join(project, 'plain.mjs'), PLAIN_SCRIPT);
  const plain = JSON.parse(execFileSync(process.execPath, ['plain.mjs'], { cwd: project, encoding: 'utf8' }).trim().split('\n').at(-1)!) as { y: number[][]; classes: string[] };
  assert.deepEqual(plain.classes, ['InputLayer', 'Embedding', 'Flatten', 'Dense', 'Dense']);
  const gap = Math.max(...plain.y.flatMap((row, i) => row.map((v, j) => Math.abs(v - r.y[i]![j]!))));
  assert.ok(gap < 1e-5, `plain TF.js reloads the merged model with the same outputs (max |Δ| ${gap})`);
});
