// `lora-lab finetune --model <hf-dir> --data <jsonl>` end to end (cpu): on a tiny GPT-2 with the real GPT-2 tokenizer
// it writes a PEFT adapter and a merged Hugging Face folder that load back here with the same outputs; chat data on
// a tiny Llama with its template; eval loss before/after on the held-out split; Ctrl-C saves and resume equals an
// uninterrupted run; bad JSONL names the line.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { parseHfFinetuneFlags } from '../src/cli/finetune-hf.js';
import { UsageError } from '../src/cli/command.js';
import { decodeSafetensors } from '../src/io/index.js';
import { parseHfConfig } from '../src/models/hf/config.js';
import { buildPretrained, loadPretrained, type HfCausalLm } from '../src/models/hf/loader.js';
import { randomWeights } from '../src/models/hf/weights.js';
import { savePretrained } from '../src/models/hf/save.js';
import { dataPath } from '../src/models/checkpoint.js';
import { loadAdapter } from '../src/lora/index.js';
import { readJsonl } from '../src/data/jsonl.js';
import { prepareSftData, sftLoss } from '../src/train/sft-data.js';
import { buildHfFixtures } from './helpers/hf-fixtures.js';
import { runFinetune } from './helpers/run-finetune.js';

let root = '';
let gpt2 = '';
let fixtures = { root: '', cleanup: () => {} };
const log = console.log;

const run = runFinetune;

async function logitsOf(model: HfCausalLm, ids: number[][]): Promise<Float32Array> {
  const x = tf.tensor2d(ids, undefined, 'int32');
  const y = model.logits(x);
  const out = (await y.data()) as Float32Array;
  tf.dispose([x, y]);
  return out;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const CITIES = [['France', 'Paris'], ['Italy', 'Rome'], ['Spain', 'Madrid'], ['Japan', 'Tokyo'], ['Egypt', 'Cairo'], ['Peru', 'Lima']];
const promptCompletion = CITIES.map(([c, t]) => JSON.stringify({ prompt: `The capital of ${c} is`, completion: ` ${t}.` })).join('\n') + '\n';

describe('lora-lab finetune --model', () => {
  before(async () => {
    await tf.setBackend('cpu');
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'finetune-hf-'));
    // A tiny random GPT-2 with the real GPT-2 tokenizer, written as a Hugging Face folder.
    const config = parseHfConfig({ model_type: 'gpt2', vocab_size: 50257, n_positions: 64, n_embd: 16, n_layer: 2, n_head: 2, bos_token_id: 50256, eos_token_id: 50256 });
    const model = await buildPretrained(config, randomWeights(3));
    gpt2 = path.join(root, 'gpt2-tiny');
    await savePretrained(model, gpt2, { tokenizerDir: dataPath('tokenizers/gpt2') });
    model.dispose();
    await fs.writeFile(path.join(root, 'train.jsonl'), promptCompletion);
    fixtures = buildHfFixtures();
  });
  after(async () => {
    console.log = log;
    fixtures.cleanup();
    await fs.rm(root, { recursive: true, force: true });
  });

  it('writes a PEFT adapter and a merged folder that load back with the same outputs', async () => {
    const out = path.join(root, 'run');
    const data = path.join(root, 'train.jsonl');
    const { code, lines } = await run(['--model', gpt2, '--data', data, '--steps', '4', '--lr', '1e-2', '--merge', '--out', out, '--backend', 'cpu']);
    assert.equal(code, 0, lines.join('\n'));
    assert.ok(lines.some((l) => /^data: 6 examples -> 5 to train \(\d+ tokens learned\), 1 held out$/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /^LoRA r=8 alpha=16 on 2 modules: transformer\.h\.0\.attn\.c_attn, transformer\.h\.1\.attn\.c_attn$/.test(l)));
    assert.ok(lines.some((l) => /^lora step 4\/4  loss \d+\.\d{4}  val \d+\.\d{4}  \d+\.\d ms\/step$/.test(l)), lines.join('\n'));
    const cfg = JSON.parse(await fs.readFile(path.join(out, 'adapter', 'adapter_config.json'), 'utf8'));
    assert.deepEqual([cfg.peft_type, cfg.task_type, cfg.fan_in_fan_out, cfg.target_modules, cfg.base_model_name_or_path], ['LORA', 'CAUSAL_LM', true, ['c_attn'], gpt2]);
    const { tensors, metadata } = decodeSafetensors(new Uint8Array(await fs.readFile(path.join(out, 'adapter', 'adapter_model.safetensors'))));
    assert.deepEqual(metadata, { format: 'pt' });
    assert.deepEqual([...tensors.keys()].sort(), [0, 1].flatMap((i) => ['A', 'B'].map((p) => `base_model.model.transformer.h.${i}.attn.c_attn.lora_${p}.weight`)));
    for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']) await fs.access(path.join(out, 'merged', f));

    // The base + the adapter, and the merged folder, loaded fresh: the same logits; and the adapter is not a no-op.
    const ids = [[464, 3139, 286, 4881, 318, 6342, 13, 50256]];
    const base = await loadPretrained(gpt2);
    const merged = await loadPretrained(path.join(out, 'merged'));
    try {
      const plain = await logitsOf(base.model, ids);
      await loadAdapter(base.model, path.join(out, 'adapter'));
      const adapted = await logitsOf(base.model, ids);
      assert.ok(maxAbsDiff(await logitsOf(merged.model, ids), adapted) <= 1e-4, 'merged folder = base + adapter');
      assert.ok(maxAbsDiff(adapted, plain) > 1e-3, 'training changed the model');
    } finally {
      base.model.dispose();
      merged.model.dispose();
    }

    // The eval loss before is the base model's loss on the held-out record, computed here independently.
    const report = JSON.parse(await fs.readFile(path.join(out, 'report.json'), 'utf8'));
    const fresh = await loadPretrained(gpt2);
    try {
      const split = prepareSftData(fresh.tokenizer, await readJsonl(data), { maxTokens: 65, evalFraction: 0.1, seed: 0 });
      assert.ok(Math.abs(report.eval_loss_before - (await sftLoss(fresh.model, split.eval, split.padId))) < 1e-5);
    } finally {
      fresh.model.dispose();
    }
    assert.equal(report.steps, 4);
    assert.equal(report.trainable, 2 * 8 * (16 + 48));
    assert.ok(report.eval_loss_after !== report.eval_loss_before && Number.isFinite(report.eval_loss_after));
  });

  it('chat data on a Llama runs through its chat template, PEFT default q_proj, v_proj, with gradient accumulation', async () => {
    const llama = path.join(fixtures.root, 'llama-gqa-bf16');
    const chat = [
      { messages: [{ role: 'user', content: 'hello' }, { role: 'assistant', content: 'hi there' }] },
      { messages: [{ role: 'user', content: 'the lora' }, { role: 'assistant', content: 'is low rank' }] },
      { messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'why' }, { role: 'assistant', content: 'so' }] },
      { messages: [{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }] },
    ].map((x) => JSON.stringify(x)).join('\n');
    const data = path.join(root, 'chat.jsonl');
    await fs.writeFile(data, chat);
    const out = path.join(root, 'chat');
    const { code, lines } = await run(['--model', llama, '--data', data, '--epochs', '2', '--batch', '2', '--grad-accum', '2', '--out', out, '--backend', 'cpu']);
    assert.equal(code, 0, lines.join('\n'));
    // Line 3 renders past the 32-token context before its assistant turn: dropped, and said so.
    assert.ok(lines.some((l) => /^data: 4 examples -> 2 to train .*, 1 held out; 1 cut to 33 tokens; dropped .*: lines 3$/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /^LoRA r=8 alpha=16 on 4 modules: model\.layers\.0\.self_attn\.q_proj, model\.layers\.0\.self_attn\.v_proj/.test(l)), lines.join('\n'));
    const cfg = JSON.parse(await fs.readFile(path.join(out, 'adapter', 'adapter_config.json'), 'utf8'));
    assert.deepEqual([cfg.target_modules, cfg.fan_in_fan_out], [['q_proj', 'v_proj'], false]);
    const report = JSON.parse(await fs.readFile(path.join(out, 'report.json'), 'utf8'));
    assert.equal(report.steps, 2, '2 epochs × 2 training records (1 of 3 held out) / batch 2');
  });

  it('Ctrl-C saves a resumable adapter; resuming equals an uninterrupted run', async () => {
    const data = path.join(root, 'train.jsonl');
    const common = ['--model', gpt2, '--data', data, '--lr', '1e-2', '--backend', 'cpu'];
    const straight = path.join(root, 'straight');
    assert.equal((await run([...common, '--steps', '3', '--out', straight])).code, 0);
    const cut = path.join(root, 'cut');
    const first = await run([...common, '--steps', '3', '--out', cut], (l) => l.startsWith('eval loss before') && process.emit('SIGINT'));
    assert.equal(first.code, 130);
    assert.ok(first.lines.some((l) => /interrupted at step 0\/3: adapter saved to .*; continue with --resume/.test(l)), first.lines.join('\n'));
    const resumed = path.join(root, 'resumed');
    const r = await run([...common, '--steps', '3', '--out', resumed, '--resume', path.join(cut, 'adapter')]);
    assert.equal(r.code, 0, r.lines.join('\n'));
    const weights = async (d: string) => decodeSafetensors(new Uint8Array(await fs.readFile(path.join(d, 'adapter', 'adapter_model.safetensors')))).tensors;
    const a = await weights(straight);
    const b = await weights(resumed);
    for (const [k, t] of a) assert.deepEqual(b.get(k)!.data, t.data, k);
  });

  it('bad JSONL names the file and line; bad flags are one-line usage errors', async () => {
    const cases: [string, RegExp][] = [
      ['{"prompt": "a", "completion": "b"}\n{"prompt": "a", "completion": "b"\n', /bad1\.jsonl:2: not valid JSON \(.*\): each line must be one JSON object/],
      ['{"prompt": "a"}\n', /bad2\.jsonl:1: has "prompt" but no "completion"/],
      ['\n\n', /bad3\.jsonl is empty: write one JSON object per line/],
      ['{"text": "ok"}\n{"input": "x"}\n', /bad4\.jsonl:2: expected .*; this line has keys "input"/],
      ['{"messages": [{"role": "user", "content": "x"}]}\n', /bad5\.jsonl:1: no "assistant" message/],
      ['{"completion": 3, "prompt": ""}\n', /bad6\.jsonl:1: "completion" must be a string, got 3/],
    ];
    for (const [i, [text, re]] of cases.entries()) {
      const file = path.join(root, `bad${i + 1}.jsonl`);
      await fs.writeFile(file, text);
      await assert.rejects(run(['--model', gpt2, '--data', file, '--backend', 'cpu', '--out', path.join(root, 'bad')]), re);
    }
    await assert.rejects(run(['--model', gpt2, '--data', path.join(root, 'missing.jsonl'), '--backend', 'cpu']), /missing\.jsonl: cannot read \(ENOENT\)/);
    const usage: [string[], RegExp][] = [
      [['--model', gpt2], /--data is required with --model/],
      [['--model', gpt2, '--data', 'x', '--targets', 'a', '--targets-regex', 'b'], /--targets or --targets-regex, not both/],
      [['--model', gpt2, '--data', 'x', '--eval-fraction', '1'], /--eval-fraction must be in \[0, 1\)/],
      [['--model', gpt2, '--data', 'x', '--task', 'shift'], /unknown flag '--task'/],
      [['--model', gpt2, '--data', 'x', '--batch', '4', '--grad-accum', '3'], /--batch 4 does not split into --grad-accum 3 equal micro-batches/],
    ];
    for (const [args, re] of usage) {
      await assert.rejects(run(args), (e: unknown) => e instanceof UsageError && re.test((e as Error).message), args.join(' '));
    }
    await assert.rejects(run(['--model', gpt2, '--data', path.join(root, 'train.jsonl'), '--targets', 'q_proj', '--backend', 'cpu']),
      (e: unknown) => e instanceof UsageError && /LoRA target 'q_proj' matched no layer; layers are: transformer\.wte/.test((e as Error).message));
    assert.deepEqual(parseHfFinetuneFlags(['--model', 'm', '--data', 'd', '--targets', 'all-linear']).lora.target_modules, 'all-linear');
    assert.equal(parseHfFinetuneFlags(['--model', 'm', '--data', 'd']).lora.target_modules, undefined, "PEFT's default");
  });
});
