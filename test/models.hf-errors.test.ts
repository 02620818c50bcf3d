// Every bad Hugging Face folder is a one-line error naming the file, the tensor and the fix, raised before a
// weight is allocated (or with everything freed): unsupported model_type, missing / unexpected tensor, a shape
// that disagrees with config.json, a truncated shard, an index that lists a missing shard, a model too big.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, rmSync, truncateSync, writeFileSync, statSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadPretrained } from '../src/models/hf/loader.js';
import { assertModelFits, WASM_HEAP_BYTES } from '../src/models/hf/fit.js';
import { decodeSafetensors, encodeSafetensors } from '../src/io/safetensors.js';
import { buildLayers, randomWeights } from '../src/models/hf/weights.js';
import { layerSpecs } from '../src/models/hf/loader.js';
import { parseHfConfig } from '../src/models/hf/config.js';
import { buildHfFixtures } from './helpers/hf-fixtures.js';

let root = '';
let cleanup = () => {};
let n = 0;

/** A copy of fixture `name` changed by `edit`, in a new folder. */
function variant(name: string, edit: (dir: string) => void): string {
  const dir = path.join(root, `${name}-bad-${n++}`);
  cpSync(path.join(root, name), dir, { recursive: true });
  edit(dir);
  return dir;
}

function editJson(file: string, f: (j: Record<string, unknown>) => void): void {
  const j = JSON.parse(readFileSync(file, 'utf8'));
  f(j);
  writeFileSync(file, JSON.stringify(j));
}

function editWeights(file: string, f: (t: Map<string, ReturnType<typeof decodeSafetensors>['tensors'] extends Map<string, infer V> ? V : never>) => void): void {
  const { tensors, metadata } = decodeSafetensors(readFileSync(file));
  f(tensors);
  writeFileSync(file, encodeSafetensors(Object.fromEntries(tensors), metadata));
}

/** Loading `dir` fails with one line matching every pattern, and leaves no tensor behind. */
async function failsWith(dir: string, ...patterns: RegExp[]): Promise<void> {
  const before = tf.memory().numTensors;
  await assert.rejects(loadPretrained(dir), (e: Error) => {
    assert.ok(!e.message.includes('\n'), `error is not one line: ${e.message}`);
    for (const p of patterns) assert.match(e.message, p);
    return true;
  });
  assert.equal(tf.memory().numTensors, before, 'a failed load left tensors allocated');
}

describe('loadPretrained: bad folders', () => {
  before(async () => {
    await tf.setBackend('cpu');
    ({ root, cleanup } = buildHfFixtures());
  });
  after(() => cleanup());

  it('an unsupported model_type names it and the supported ones', async () => {
    const dir = variant('llama-gqa-bf16', (d) => editJson(path.join(d, 'config.json'), (j) => (j['model_type'] = 'mamba')));
    await failsWith(dir, /config\.json/, /model_type "mamba" is not supported; supported: gpt2, llama, qwen2/);
  });

  it('a missing tensor names it, the files and the sizes config.json gives', async () => {
    const dir = variant('llama-gqa-bf16', (d) =>
      editWeights(path.join(d, 'model.safetensors'), (t) => t.delete('model.layers.1.mlp.up_proj.weight')));
    await failsWith(dir, /tensor 'model\.layers\.1\.mlp\.up_proj\.weight' is missing from model\.safetensors/, /num_hidden_layers 2/,
      /incomplete or from a different model/);
  });

  it('an unexpected tensor names the file and the tensor', async () => {
    const dir = variant('gpt2-prefix-f16', (d) =>
      editWeights(path.join(d, 'model.safetensors'), (t) => t.set('transformer.h.2.ln_1.weight', t.get('transformer.h.0.ln_1.weight')!)));
    await failsWith(dir, /gpt2-prefix-f16-bad-\d+\/model\.safetensors: unexpected tensor 'transformer\.h\.2\.ln_1\.weight'/, /n_layer 2/,
      /use the config\.json that came with these weights/);
  });

  it('a shape that disagrees with config.json names both shapes', async () => {
    const dir = variant('llama-tied-f32-llama3rope', (d) => editJson(path.join(d, 'config.json'), (j) => (j['intermediate_size'] = 48)));
    await failsWith(dir, /tensor 'model\.layers\.0\.mlp\.(gate|up|down)_proj\.weight' is \[(40, 32|32, 40)\] but config\.json/,
      /intermediate_size 48/, /implies \[(48, 32|32, 48)\]/, /different models/);
  });

  it('a truncated shard is refused before any weight is made', async () => {
    const dir = variant('gpt2-bare-f32-sharded', (d) => {
      const f = path.join(d, 'model-00002-of-00002.safetensors');
      truncateSync(f, statSync(f).size - 100);
    });
    await failsWith(dir, /model-00002-of-00002\.safetensors/, /truncated/);
  });

  it('an index that names a shard that is not there, or a tensor it does not hold', async () => {
    const gone = variant('gpt2-bare-f32-sharded', (d) => rmSync(path.join(d, 'model-00001-of-00002.safetensors')));
    await failsWith(gone, /model-00001-of-00002\.safetensors is missing \(listed in model\.safetensors\.index\.json\): download every shard/);
    const wrong = variant('gpt2-bare-f32-sharded', (d) =>
      editJson(path.join(d, 'model.safetensors.index.json'), (j) => {
        (j['weight_map'] as Record<string, string>)['ln_f.weight'] = 'model-00001-of-00002.safetensors';
      }));
    await failsWith(wrong, /has no tensor 'ln_f\.weight' though model\.safetensors\.index\.json lists it there/);
  });

  it('a folder without weights says what it has', async () => {
    const dir = variant('qwen2-bias-f32', (d) => {
      rmSync(path.join(d, 'model.safetensors'));
      writeFileSync(path.join(d, 'pytorch_model.bin'), '');
    });
    await failsWith(dir, /has neither model\.safetensors nor model\.safetensors\.index\.json/, /safe_serialization=True/);
    await failsWith(path.join(root, 'nope'), /is not a directory/);
  });

  it('a missing tokenizer.json names the file and what to copy', async () => {
    const dir = variant('qwen2-bias-f32', (d) => rmSync(path.join(d, 'tokenizer.json')));
    await failsWith(dir, /tokenizer\.json is missing: copy the model's tokenizer files/);
  });

  it('a bad config value names the key and the fix', async () => {
    const dir = variant('llama-gqa-bf16', (d) => editJson(path.join(d, 'config.json'), (j) => (j['num_key_value_heads'] = 3)));
    await failsWith(dir, /num_attention_heads 4 must be divisible by num_key_value_heads 3: fix config\.json/);
    const rope = variant('llama-gqa-bf16', (d) => editJson(path.join(d, 'config.json'), (j) => (j['rope_scaling'] = { rope_type: 'yarn', factor: 4 })));
    await failsWith(rope, /rope type "yarn" is not supported; supported: default, linear, llama3/);
  });

  it('a model bigger than the backend can hold is refused before anything is allocated', async () => {
    const before = tf.memory().numTensors;
    await assert.rejects(loadPretrained(path.join(root, 'qwen2-bias-f32'), { headroomBytes: 2 ** 50 }), (e: Error) => {
      assert.match(e.message, /qwen2-bias-f32 \(qwen2, [\d,]+ parameters\) needs 0\.\d\d GiB of float32 weights/);
      assert.match(e.message, /more than this machine's [\d.]+ GiB of RAM/);
      return true;
    });
    assert.equal(tf.memory().numTensors, before);
  });

  it('a weight source that fails half-way leaves no tensor behind', async () => {
    const specs = layerSpecs(parseHfConfig({ model_type: 'llama', vocab_size: 40, hidden_size: 16, intermediate_size: 24,
      num_hidden_layers: 2, num_attention_heads: 2 }));
    const random = randomWeights(0);
    const before = tf.memory().numTensors;
    // Fail at every read in turn: an embedding, norms, linears, the head.
    for (let failAt = 1; failAt <= 21; failAt += 2) {
      let n = 0;
      await assert.rejects(buildLayers(specs, { read: async (t) => {
        if (++n === failAt) throw new Error(`disk error reading ${t.key}`);
        return random.read(t);
      } }), /disk error reading (model|lm_head)/);
      assert.equal(tf.memory().numTensors, before, `failure at read ${failAt} left tensors`);
    }
  });

  it('the wasm heap limit names the size, the limit and the backends that can', () => {
    // Llama 3.2 1B: 1,235,814,400 float32 parameters.
    const weightBytes = 1_235_814_400 * 4;
    assert.throws(
      () => assertModelFits({ what: 'Llama-3.2-1B', weightBytes, largestTensorBytes: 128256 * 2048 * 4, backend: 'wasm' }),
      (e: Error) => {
        assert.match(e.message, /^Llama-3\.2-1B needs 4\.6 GiB of float32 weights \+ 0\.46 GiB working memory/);
        assert.match(e.message, /more than the wasm backend's 4 GiB heap: load it on 'webgpu' or 'node-gpu' \(a GPU with ≥ 5\.1 GiB of memory\)/);
        return true;
      },
    );
    // GPT-2 small fits.
    assert.ok(assertModelFits({ what: 'gpt2', weightBytes: 124_439_808 * 4, largestTensorBytes: 50257 * 768 * 4, backend: 'wasm' }) < WASM_HEAP_BYTES);
  });
});
