// Saving and restoring a training run so it can resume exactly: Adam's moments in optimizer.safetensors
// (PyTorch's state_dict names: state.{i}.exp_avg / exp_avg_sq) and trainer_state.json (step, seed, settings),
// the files HF's Trainer keeps next to a checkpoint. Same weights + same moments + same step + same seed
// ⇒ the resumed run takes exactly the steps the uninterrupted run would have taken. saveResumable writes them
// with the adapter in one atomic swap, so a crash never leaves an adapter beside another step's moments.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { decodeSafetensors, encodeSafetensors, f32Tensor, toFloat32, type SafeTensor } from '../io/index.js';
import { readDir, replaceDirAtomic, updateDirAtomic } from '../io/files.js';
import { saveAdapter } from '../lora/adapter.js';
import type { LoraModel } from '../lora/model.js';
import type { Adam } from './adam.js';

export const OPTIMIZER_FILE = 'optimizer.safetensors';
export const TRAINER_STATE_FILE = 'trainer_state.json';
const FORMAT = 'lora-lab-adam';

/** What a run needs besides weights and moments to continue; free-form fields are kept as given. */
export interface TrainerState {
  /** Optimizer steps taken (the next step to run is this one, 0-based). */
  step: number;
  /** Seed of the data order and dropout. */
  seed: number;
  [key: string]: unknown;
}

/**
 * Writes the optimizer's moments and step to `dir`/optimizer.safetensors and `state` to trainer_state.json
 * (together, in one atomic save of `dir`). `names` (e.g. adapter keys) are stored and checked on load.
 */
export async function saveTrainingState(dir: string, optimizer: Adam, state: TrainerState, names?: string[]): Promise<void> {
  const vars = optimizer.variables();
  if (names !== undefined && names.length !== vars.length) {
    throw new Error(`saveTrainingState: ${names.length} names for ${vars.length} optimised variables`);
  }
  const tensors: Record<string, SafeTensor> = {};
  const moments = optimizer.stateTensors();
  for (let i = 0; i < moments.length; i++) {
    const { m, v } = moments[i]!;
    tensors[`state.${i}.exp_avg`] = f32Tensor(m.shape, (await m.data()) as Float32Array);
    tensors[`state.${i}.exp_avg_sq`] = f32Tensor(v.shape, (await v.data()) as Float32Array);
  }
  const metadata: Record<string, string> = {
    format: FORMAT,
    step: String(optimizer.step),
    count: String(vars.length),
    betas: JSON.stringify([optimizer.beta1, optimizer.beta2]),
    eps: String(optimizer.epsilon),
    weight_decay: String(optimizer.weightDecay),
    lr_scales: JSON.stringify(optimizer.groups.map((g) => g.lrScale)),
  };
  if (names !== undefined) metadata['names'] = JSON.stringify(names);
  const trainerState = JSON.stringify({ ...state, step: optimizer.step }, null, 2) + '\n';
  const optimizerState = encodeSafetensors(tensors, metadata);
  await updateDirAtomic(dir, { [OPTIMIZER_FILE]: optimizerState, [TRAINER_STATE_FILE]: trainerState });
}

/**
 * Saves what a resume needs into `dir` as one unit: `model`'s active adapter (PEFT files, as saveAdapter writes
 * them) and the training state, swapped in together, so a crash never pairs an adapter with another step's
 * optimizer state.
 */
export async function saveResumable(
  dir: string,
  model: LoraModel,
  optimizer: Adam,
  state: TrainerState,
  names?: string[],
): Promise<void> {
  await replaceDirAtomic(dir, async (tmp) => {
    await saveAdapter(model, tmp);
    await saveTrainingState(tmp, optimizer, state, names);
  });
}

/**
 * Restores moments and step into `optimizer` (built over the same variables, in the same order) and returns
 * trainer_state.json. Everything is checked (count, names, shapes, step agreement) before anything changes.
 */
export async function loadTrainingState(dir: string, optimizer: Adam, names?: string[]): Promise<TrainerState> {
  return readDir(dir, () => restoreTrainingState(dir, optimizer, names)); // one complete save (see io/files.ts)
}

async function restoreTrainingState(dir: string, optimizer: Adam, names?: string[]): Promise<TrainerState> {
  const optFile = path.join(dir, OPTIMIZER_FILE);
  const stateFile = path.join(dir, TRAINER_STATE_FILE);
  const read = async (f: string) => {
    try {
      return await fs.readFile(f);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new Error(`${f} not found: '${dir}' holds no training state to resume from (it is written with the adapter when training stops)`);
      }
      throw e;
    }
  };
  const { tensors, metadata } = decodeSafetensors(new Uint8Array(await read(optFile)), optFile);
  let state: TrainerState;
  try {
    state = JSON.parse((await read(stateFile)).toString('utf8')) as TrainerState;
  } catch (e) {
    throw new Error(`${stateFile}: ${(e as Error).message}`);
  }
  if (metadata['format'] !== FORMAT) throw new Error(`${optFile}: not a lora-lab optimizer state (format '${metadata['format']}')`);
  const step = Number(metadata['step']);
  if (!Number.isInteger(step) || step < 0 || state.step !== step) {
    throw new Error(`${optFile}: step ${metadata['step']} does not match ${TRAINER_STATE_FILE} step ${String(state.step)}`);
  }
  const vars = optimizer.variables();
  if (Number(metadata['count']) !== vars.length) {
    throw new Error(`${optFile}: holds state for ${metadata['count']} variables but ${vars.length} are being trained: resume with the same targets and r`);
  }
  if (names !== undefined && metadata['names'] !== undefined && metadata['names'] !== JSON.stringify(names)) {
    throw new Error(`${optFile}: saved for variables ${metadata['names']}, not ${JSON.stringify(names)}`);
  }
  const moments: { m: Float32Array; v: Float32Array; shape: number[] }[] = [];
  vars.forEach((x, i) => {
    const m = tensors.get(`state.${i}.exp_avg`);
    const v = tensors.get(`state.${i}.exp_avg_sq`);
    if (m === undefined || v === undefined) throw new Error(`${optFile}: missing state.${i}.exp_avg / exp_avg_sq`);
    for (const t of [m, v]) {
      if (t.shape.join(',') !== x.shape.join(',')) {
        throw new Error(`${optFile}: state.${i} has shape [${t.shape.join(', ')}] but variable ${i} is [${x.shape.join(', ')}]`);
      }
    }
    moments.push({ m: toFloat32(m), v: toFloat32(v), shape: x.shape });
  });
  const ts = moments.map(({ m, v, shape }) => ({ m: tf.tensor(m, shape), v: tf.tensor(v, shape) }));
  try {
    optimizer.setState(step, ts);
  } finally {
    for (const { m, v } of ts) tf.dispose([m, v]);
  }
  return state;
}
