// lora-lab's half of the interop check with transformers + PEFT (scripts/interop-check.py runs the other half where
// they are installed, e.g. on the GPU machine; see scripts/gpu-check.sh):
//   export DIR     writes the tiny Hugging Face fixtures (test/fixtures/hf) with their PEFT-layout adapters, an adapter
//                  saved by lora-lab's saveAdapter (PEFT's default targets) and a merged folder (savePretrained) per
//                  fixture, and a `lora-lab finetune --model ... --merge` run on a tiny GPT-2 with the real tokenizer;
//                  then DIR/interop.json with the logits lora-lab computes for each (model, adapter) and token ids.
//   peft-made DIR  loads the adapters PEFT itself saved (interop-check.py writes DIR/peft-made.json) into lora-lab
//                  and compares the logits with PEFT's. Exit code 1 on any difference above 1e-4.
// Run: npx tsx scripts/interop-export.ts export /tmp/interop   (backend: cpu, float32)
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../src/backend/index.js';
import { injectLora, loadAdapter, saveAdapter } from '../src/lora/index.js';
import { dataPath } from '../src/models/checkpoint.js';
import { parseHfConfig } from '../src/models/hf/config.js';
import { buildPretrained, loadPretrained } from '../src/models/hf/loader.js';
import { savePretrained } from '../src/models/hf/save.js';
import { randomWeights } from '../src/models/hf/weights.js';
import { HfTokenizer } from '../src/models/hf/tokenizer.js';
import { runHfFinetune } from '../src/cli/finetune-hf.js';
import { HF_FIXTURES, writeFixtureAdapter, writeHfFixture } from '../test/fixtures/hf/make-hf-fixtures.js';

/** One forward pass to compare: a model folder, optionally an adapter folder, token ids and lora-lab's logits. */
export interface InteropCase {
  name: string;
  /** What it checks, for the report. */
  what: string;
  model: string;
  adapter: string | null;
  inputs: number[][];
  /** Positions whose logits are kept (all of them for small vocabularies). */
  positions: number[];
  /** [batch][position in `positions`][vocab]. */
  logits: number[][][];
}

export interface InteropSpec {
  about: string;
  backend: string;
  tolerance: number;
  cases: InteropCase[];
  tokenizers: { model: string; text: string; ids: number[] }[];
  /** Adapters saved by lora-lab with PEFT's default targets, for interop-check.py to compare with PEFT's own saves. */
  peftDefaults: { model: string; adapter: string; r: number; lora_alpha: number }[];
}

const TOLERANCE = 1e-4;
const round = (x: number) => Number(x.toPrecision(7));

async function logits(modelDir: string, adapterDir: string | null, inputs: number[][], positions?: number[]) {
  const { model } = await loadPretrained(modelDir);
  try {
    if (adapterDir !== null) await loadAdapter(model, adapterDir);
    const x = tf.tensor2d(inputs, undefined, 'int32');
    const y = model.logits(x); // [B, T, V]
    const all = (await y.array()) as number[][][];
    tf.dispose([x, y]);
    const keep = positions ?? inputs[0]!.map((_, t) => t);
    return { positions: keep, logits: all.map((row) => keep.map((t) => row[t]!.map(round))) };
  } finally {
    model.dispose();
  }
}

async function exportAll(dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const backend = await useBackend('cpu', { log: null });
  const spec: InteropSpec = {
    about: 'lora-lab logits for scripts/interop-check.py (transformers + PEFT); written by scripts/interop-export.ts',
    backend: backend.name, tolerance: TOLERANCE, cases: [], tokenizers: [], peftDefaults: [],
  };
  const add = async (name: string, what: string, model: string, adapter: string | null, inputs: number[][], positions?: number[]) => {
    const r = await logits(path.join(dir, model), adapter === null ? null : path.join(dir, adapter), inputs, positions);
    spec.cases.push({ name, what, model, adapter, inputs, ...r });
    console.log(`  ${name}: ${what}`);
  };
  for (const f of HF_FIXTURES) {
    writeHfFixture(f, path.join(dir, f.name));
    writeFixtureAdapter(f, path.join(dir, `${f.name}.adapter`));
    await add(`${f.name}/base`, 'the checkpoint alone', f.name, null, f.inputs);
    await add(`${f.name}/peft-layout`, `a PEFT-layout adapter (${f.adapter.about})`, f.name, `${f.name}.adapter`, f.inputs);
    // An adapter saved by lora-lab: PEFT's default targets, B random so it changes the outputs.
    const { model, tokenizer, generationConfig } = await loadPretrained(path.join(dir, f.name));
    const lora = injectLora(model, { r: 4, lora_alpha: 8, init_lora_weights: false, seed: 7 });
    await saveAdapter(lora, path.join(dir, `${f.name}.lora-lab-adapter`));
    lora.mergeAndUnload();
    await savePretrained(model, path.join(dir, `${f.name}.merged`), { generationConfig });
    model.dispose();
    spec.peftDefaults.push({ model: f.name, adapter: `${f.name}.lora-lab-adapter`, r: 4, lora_alpha: 8 });
    await add(`${f.name}/lora-lab-adapter`, "an adapter saved by lora-lab's saveAdapter (PEFT's default targets)", f.name, `${f.name}.lora-lab-adapter`, f.inputs);
    await add(`${f.name}/merged`, 'that adapter merged and saved by savePretrained', `${f.name}.merged`, null, f.inputs);
    const text = f.tokenizer === 'gpt2-300' ? 'Hello world, the lora is here.' : 'the lora is on the row';
    spec.tokenizers.push({ model: f.name, text, ids: tokenizer.encode(text) });
  }

  // The CLI on a tiny GPT-2 with GPT-2's real tokenizer: adapter and merged folder.
  const config = parseHfConfig({ model_type: 'gpt2', architectures: ['GPT2LMHeadModel'], vocab_size: 50257, n_positions: 64, n_embd: 32, n_layer: 2, n_head: 2, bos_token_id: 50256, eos_token_id: 50256 });
  const tiny = await buildPretrained(config, randomWeights(11));
  await savePretrained(tiny, path.join(dir, 'gpt2-tiny'), { tokenizerDir: dataPath('tokenizers/gpt2') });
  tiny.dispose();
  const pairs = [['France', 'Paris'], ['Italy', 'Rome'], ['Spain', 'Madrid'], ['Japan', 'Tokyo'], ['Kenya', 'Nairobi']];
  const jsonl = pairs.map(([c, t]) => JSON.stringify({ prompt: `The capital of ${c} is`, completion: ` ${t}.` })).join('\n') + '\n';
  writeFileSync(path.join(dir, 'capitals.jsonl'), jsonl);
  const code = await runHfFinetune([
    '--model', path.join(dir, 'gpt2-tiny'), '--data', path.join(dir, 'capitals.jsonl'), '--steps', '8', '--lr', '1e-2',
    '--merge', '--out', path.join(dir, 'gpt2-tiny.finetune'), '--backend', 'cpu',
  ]);
  if (code !== 0) throw new Error(`lora-lab finetune --model exited with ${code}`);
  const ids = [[464, 3139, 286, 4881, 318, 6342, 13]]; // "The capital of France is Paris."
  const last = [ids[0]!.length - 1];
  await add('gpt2-tiny/finetune-adapter', "the adapter `lora-lab finetune --model` wrote", 'gpt2-tiny', 'gpt2-tiny.finetune/adapter', ids, last);
  await add('gpt2-tiny/finetune-merged', 'the merged folder `finetune --merge` wrote', 'gpt2-tiny.finetune/merged', null, ids, last);
  const tokenizer = await HfTokenizer.fromDir(path.join(dir, 'gpt2-tiny'));
  const text = 'LoRA adapters move between TypeScript and Python.';
  spec.tokenizers.push({ model: 'gpt2-tiny', text, ids: tokenizer.encode(text) });
  writeFileSync(path.join(dir, 'interop.json'), JSON.stringify(spec) + '\n');
  console.log(`wrote ${path.join(dir, 'interop.json')}: ${spec.cases.length} cases, ${spec.tokenizers.length} tokenizers`);
}

/** interop-check.py's record of the adapters PEFT saved: folder, model, inputs and PEFT's logits. */
interface PeftMade {
  cases: { name: string; model: string; adapter: string; inputs: number[][]; logits: number[][][] }[];
}

async function checkPeftMade(dir: string): Promise<number> {
  await useBackend('cpu', { log: null });
  const made = JSON.parse(readFileSync(path.join(dir, 'peft-made.json'), 'utf8')) as PeftMade;
  let bad = 0;
  for (const c of made.cases) {
    let line: string;
    try {
      const r = await logits(path.join(dir, c.model), path.join(dir, c.adapter), c.inputs);
      let err = 0;
      r.logits.forEach((s, b) => s.forEach((row, t) => row.forEach((v, k) => (err = Math.max(err, Math.abs(v - c.logits[b]![t]![k]!))))));
      const ok = err <= TOLERANCE;
      if (!ok) bad++;
      line = `${ok ? 'ok  ' : 'FAIL'}  ${c.name}: an adapter PEFT saved, loaded by lora-lab: max |Δ logit| ${err.toExponential(2)}`;
    } catch (e) {
      bad++;
      line = `FAIL  ${c.name}: an adapter PEFT saved does not load in lora-lab: ${(e as Error).message}`;
    }
    console.log(line);
  }
  console.log(bad === 0 ? `all ${made.cases.length} PEFT-saved adapters load in lora-lab with PEFT's logits` : `${bad} of ${made.cases.length} failed`);
  return bad === 0 ? 0 : 1;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const [mode, dir] = process.argv.slice(2);
  const usage = 'usage: interop-export.ts export DIR | peft-made DIR';
  const job = mode === 'export' && dir ? exportAll(path.resolve(dir)).then(() => 0)
    : mode === 'peft-made' && dir ? checkPeftMade(path.resolve(dir))
    : Promise.reject(new Error(usage));
  job.then((code) => process.exit(code), (e: unknown) => {
    console.error(`interop-export: ${(e as Error).message}`);
    process.exit(1);
  });
}
