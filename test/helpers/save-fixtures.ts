// The three kinds of folder the crash tests save and read back: a LoRA adapter (PEFT files), a merged-model
// checkpoint, and an adapter with its training state (what --resume needs). Save number v writes the value v into
// every weight (and step v, moments v), so a read can tell a complete save of one version from a mix of two.
import * as tf from '@tensorflow/tfjs';
import { Gpt } from '../../src/models/gpt.js';
import { gptConfig } from '../../src/models/config.js';
import { loadCheckpoint, namedWeights, saveCheckpoint } from '../../src/models/checkpoint.js';
import { CharTokenizer } from '../../src/data/tokenizer.js';
import { injectLora, readAdapter, saveAdapter, type LoraModel } from '../../src/lora/index.js';
import { toFloat32 } from '../../src/io/index.js';
import { Adam } from '../../src/train/adam.js';
import { loadTrainingState, saveResumable } from '../../src/train/state.js';

export const SAVE_KINDS = ['adapter', 'checkpoint', 'resumable'] as const;
export type SaveKind = (typeof SAVE_KINDS)[number];

export interface SaveFixture {
  /** Save number `v` of this kind into `dir`. */
  save(dir: string, v: number): Promise<void>;
  /** Reads `dir` with the library's own reader, checks it is one complete save, and returns its number. */
  read(dir: string): Promise<number>;
  dispose(): void;
}

const tok = new CharTokenizer();
const nano = () => new Gpt(gptConfig({ preset: 'nano', vocabSize: tok.vocabSize }), { seed: 1 });

/** The single value every entry of `values` holds; throws if they differ (a mix of two saves). */
function onlyValue(values: Iterable<number>, where: string): number {
  let v: number | undefined;
  for (const x of values) {
    if (v === undefined) v = x;
    else if (x !== v) throw new Error(`${where}: holds both ${v} and ${x}: not one complete save`);
  }
  if (v === undefined) throw new Error(`${where}: holds no values`);
  return v;
}

function fill(variables: tf.Variable[], v: number): void {
  for (const x of variables) tf.tidy(() => x.assign(tf.fill(x.shape, v)));
}

async function readAdapterVersion(dir: string, expectTensors: number): Promise<number> {
  const ad = await readAdapter(dir);
  if (ad.tensors.size !== expectTensors) throw new Error(`${dir}: ${ad.tensors.size} tensors, expected ${expectTensors}`);
  return onlyValue([...ad.tensors.values()].flatMap((t) => [...toFloat32(t)]), dir);
}

function adapterFixture(): SaveFixture {
  const gpt = nano();
  const lm = injectLora(gpt, { r: 2, lora_alpha: 4, target_modules: ['q_proj', 'v_proj'] });
  const n = lm.trainableVariables().length;
  return {
    async save(dir, v) {
      fill(lm.trainableVariables(), v);
      await saveAdapter(lm, dir);
    },
    read: (dir) => readAdapterVersion(dir, n),
    dispose: () => gpt.dispose(),
  };
}

function checkpointFixture(): SaveFixture {
  const gpt = nano();
  return {
    async save(dir, v) {
      fill(namedWeights(gpt).map((w) => w.variable.read() as tf.Variable), v);
      await saveCheckpoint(gpt, dir, { tokenizer: tok });
    },
    async read(dir) {
      const c = await loadCheckpoint(dir);
      try {
        const values = await Promise.all(namedWeights(c.model).map(async (w) => [...(await w.variable.read().data())]));
        return onlyValue(values.flat(), dir);
      } finally {
        c.model.dispose();
      }
    },
    dispose: () => gpt.dispose(),
  };
}

function resumableFixture(): SaveFixture {
  const gpt = nano();
  const lm: LoraModel = injectLora(gpt, { r: 2, lora_alpha: 4, target_modules: ['q_proj', 'v_proj'] });
  const optimizer = new Adam(lm.paramGroups());
  // The reader restores into an optimizer over variables of the same shapes, as a resumed run would.
  const shadow = optimizer.variables().map((x) => tf.variable(tf.zeros(x.shape)));
  const restored = new Adam(shadow);
  const n = lm.trainableVariables().length;
  return {
    async save(dir, v) {
      fill(lm.trainableVariables(), v);
      const moments = optimizer.variables().map((x) => ({ m: tf.fill(x.shape, v), v: tf.fill(x.shape, v) }));
      optimizer.setState(v, moments);
      tf.dispose(moments.flatMap((m) => [m.m, m.v]));
      await saveResumable(dir, lm, optimizer, { step: v, seed: 0, version: v });
    },
    async read(dir) {
      const weights = await readAdapterVersion(dir, n);
      const state = await loadTrainingState(dir, restored);
      const moments = await Promise.all(restored.stateTensors().flatMap(({ m, v }) => [m.data(), v.data()]));
      const m = onlyValue(moments.flatMap((a) => [...a]), `${dir} (optimizer moments)`);
      const seen = [weights, m, state.step, restored.step, Number(state['version'])];
      return onlyValue(seen, `${dir} (adapter weights, moments, step, trainer_state version)`);
    },
    dispose: () => {
      optimizer.dispose();
      restored.dispose();
      tf.dispose(shadow);
      gpt.dispose();
    },
  };
}

export function makeFixture(kind: SaveKind): SaveFixture {
  if (kind === 'adapter') return adapterFixture();
  if (kind === 'checkpoint') return checkpointFixture();
  return resumableFixture();
}
