// The training loop: for step = optimizer.step .. steps−1, loss of that step's batch → gradients for the listed
// variables only → (clip) → Adam/AdamW update. Flat on purpose (nanoGPT's train.py). Never prints: progress
// goes to a callback; Ctrl-C is an AbortSignal; a NaN/Inf loss stops the run with the last good weights kept.
import * as tf from '@tensorflow/tfjs';
import { Adam, type AdamOptions } from './adam.js';
import { asParamGroups, type ParamGroup } from './params.js';
import { PeakMemory } from './memory.js';

/** One line's worth of progress. */
export interface Progress {
  /** Steps completed so far (1-based after the first update). */
  step: number;
  /** The step count the run ends at. */
  steps: number;
  /** Training loss of the step just taken. */
  loss: number;
  /** Validation loss, on steps where it was measured. */
  valLoss?: number;
  /** Mean wall time per step over this run so far. */
  msPerStep: number;
  /** Estimated time to finish. */
  etaMs: number;
  /** Learning rate used for this step. */
  lr: number;
}

export interface TrainOptions extends AdamOptions {
  /** What to train: a flat list (full fine-tuning) or param groups with lrScale (LoRA+). Nothing else changes.
   *  Not needed when `optimizer` is given (it holds its variables). */
  params?: tf.Variable[] | ParamGroup[];
  /**
   * Loss of training step `step` (0-based) on its batch — or, with `accumulate` > 1, on micro-batch `micro` of it.
   * Runs inside gradient recording: build tensors here.
   */
  loss: (step: number, micro: number) => tf.Scalar;
  /**
   * Gradient accumulation (transformers' gradient_accumulation_steps): each step runs this many micro-batches one
   * after another and updates once with the mean of their gradients, so only one micro-batch's activations are alive
   * at a time. The step's loss is the mean of the micro-batch losses. @default 1
   */
  accumulate?: number;
  /** Train until the optimizer has taken this many steps in total. */
  steps: number;
  /** Peak learning rate. */
  lr: number;
  /** Linear warm-up over this many steps, from lr/warmup to lr. @default 0 */
  warmupSteps?: number;
  /** After warm-up: 'constant', or 'cosine' decay to minLrRatio·lr at the last step. @default 'constant' */
  schedule?: 'constant' | 'cosine';
  /** Floor of the cosine schedule as a fraction of lr. @default 0.1 */
  minLrRatio?: number;
  /** Clip the global gradient norm to this (0 = no clipping). @default 1 */
  gradClip?: number;
  /** Continue with this optimizer (its step count and moments); otherwise a fresh Adam over `params`. */
  optimizer?: Adam;
  /** Validation loss, computed every `evalEvery` steps and after the last one. */
  valLoss?: () => tf.Scalar;
  /** @default 50 */
  evalEvery?: number;
  /** Called after every step (or less often, see progressEveryMs). */
  onProgress?: (p: Progress) => void;
  /** Call onProgress at most once per this many ms (always on the last step and when val was measured).
   *  Notebook displays want this: every message a kernel sends costs. @default 0 (every step) */
  progressEveryMs?: number;
  /** Aborting stops before the next step; the run returns normally with stopped = 'aborted'. */
  signal?: AbortSignal;
}

export interface TrainResult {
  /** 'completed' or 'aborted' (by the signal). */
  stopped: 'completed' | 'aborted';
  /** The optimizer (holds the step count and moments: save it to resume; dispose it when done). */
  optimizer: Adam;
  /** Training loss of each step taken in this call, in order. */
  losses: number[];
  /** Validation losses measured in this call. */
  valLosses: { step: number; loss: number }[];
  /** Mean wall time per step in this call. */
  msPerStep: number;
  /** Largest tf.memory().numBytes seen during a step (weights + activations + gradients + optimizer state). */
  peakBytes: number;
}

/** Thrown when the loss or the gradient norm is NaN or infinite. Weights are those after the previous step. */
export class NonFiniteLossError extends Error {
  override readonly name = 'NonFiniteLossError';
  constructor(
    /** The 1-based step whose update was refused. */
    readonly step: number,
    readonly value: number,
    /** What had run up to the failure (optimizer still holds the last good state). */
    readonly partial: TrainResult,
    what: 'loss' | 'gradient norm' = 'loss',
  ) {
    super(
      `${what} became ${value} at step ${step}; training stopped before that update, so the weights are those ` +
        `after step ${step - 1}: lower the learning rate and retry`,
    );
  }
}

/** Learning rate at 0-based step s. */
export function learningRate(s: number, o: Pick<TrainOptions, 'lr' | 'steps' | 'warmupSteps' | 'schedule' | 'minLrRatio'>): number {
  const warm = o.warmupSteps ?? 0;
  if (s < warm) return (o.lr * (s + 1)) / warm;
  if ((o.schedule ?? 'constant') === 'constant') return o.lr;
  const minLr = o.lr * (o.minLrRatio ?? 0.1);
  const progress = Math.min(1, (s - warm) / Math.max(1, o.steps - 1 - warm));
  return minLr + 0.5 * (o.lr - minLr) * (1 + Math.cos(Math.PI * progress));
}

async function scalar(t: tf.Tensor): Promise<number> {
  const v = (await t.data())[0]!;
  t.dispose();
  return v;
}

/** Trains `params` to minimise `loss`. Resolves when done or aborted; rejects with NonFiniteLossError on NaN/Inf. */
export async function train(options: TrainOptions): Promise<TrainResult> {
  const { steps, lr } = options;
  if (!Number.isInteger(steps) || steps < 0) throw new Error(`steps must be a non-negative integer, got ${steps}: use e.g. 300`);
  if (!(lr > 0) || !Number.isFinite(lr)) throw new Error(`lr must be a positive number, got ${lr}: use e.g. 1e-3`);
  const gradClip = options.gradClip ?? 1;
  const accumulate = options.accumulate ?? 1;
  if (!Number.isInteger(accumulate) || accumulate < 1) {
    throw new Error(`accumulate must be a positive integer, got ${accumulate}: use e.g. 4 (1 = no accumulation)`);
  }
  const evalEvery = options.evalEvery ?? 50;
  if (options.optimizer === undefined && options.params === undefined) {
    throw new Error('train: pass `params` (the variables to train) or an `optimizer` that holds them');
  }
  const groups = options.optimizer?.groups ?? asParamGroups(options.params!);
  const frozen = groups.flatMap((g) => g.variables).filter((v) => !v.trainable);
  if (frozen.length > 0) {
    throw new Error(`${frozen.length} listed variable(s) are frozen (trainable = false), e.g. '${frozen[0]!.name}': unfreeze or leave them out`);
  }
  const optimizer = options.optimizer ?? new Adam(groups, options); // after all checks: nothing to dispose on error
  const vars = optimizer.variables();
  const meter = new PeakMemory();
  const losses: number[] = [];
  const valLosses: { step: number; loss: number }[] = [];
  const start = performance.now();
  let lastProgress = -Infinity;
  const result = (stopped: TrainResult['stopped']): TrainResult => ({
    stopped,
    optimizer,
    losses,
    valLosses,
    msPerStep: losses.length ? (performance.now() - start) / losses.length : 0,
    peakBytes: meter.peak,
  });
  const validate = async (): Promise<number | undefined> =>
    options.valLoss ? scalar(tf.tidy(() => options.valLoss!())) : undefined;

  while (optimizer.step < steps) {
    if (options.signal?.aborted) return result('aborted');
    const s = optimizer.step; // 0-based index of the step about to run
    const stepLr = learningRate(s, options);
    let gradList: tf.Tensor[] = [];
    let loss = 0;
    for (let m = 0; m < accumulate; m++) {
      const { value, grads } = tf.variableGrads(() => {
        const l = options.loss(s, m);
        meter.sample(); // activations are alive here: the forward pass's peak
        return l;
      }, vars);
      const g = vars.map((v) => grads[v.name] ?? tf.zerosLike(v)); // a variable the loss ignores gets 0
      meter.sample();
      loss += (await scalar(value)) / accumulate;
      if (m === 0) gradList = g;
      else {
        const sum = gradList.map((a, i) => a.add(g[i]!));
        tf.dispose([...gradList, ...g]);
        gradList = sum;
      }
    }
    if (accumulate > 1) {
      const mean = gradList.map((g) => g.div(accumulate));
      tf.dispose(gradList);
      gradList = mean;
    }
    let gradScale = 1;
    let bad: { v: number; what: 'loss' | 'gradient norm' } | undefined = Number.isFinite(loss) ? undefined : { v: loss, what: 'loss' };
    if (!bad) {
      const norm = await scalar(tf.tidy(() => tf.sqrt(tf.addN(gradList.map((g) => g.square().sum())))));
      if (!Number.isFinite(norm)) bad = { v: norm, what: 'gradient norm' };
      else if (gradClip > 0 && norm > gradClip) gradScale = gradClip / norm;
    }
    if (bad) {
      tf.dispose(gradList);
      throw new NonFiniteLossError(s + 1, bad.v, result('aborted'), bad.what);
    }
    optimizer.apply(gradList, stepLr, gradScale);
    tf.dispose(gradList);
    losses.push(loss);

    const done = optimizer.step;
    let valLoss: number | undefined;
    if (options.valLoss && (done % evalEvery === 0 || done === steps)) {
      valLoss = await validate();
      valLosses.push({ step: done, loss: valLoss! });
    }
    const now = performance.now();
    const msPerStep = (now - start) / losses.length;
    if (done === steps || valLoss !== undefined || now - lastProgress >= (options.progressEveryMs ?? 0)) {
      lastProgress = now;
      options.onProgress?.({ step: done, steps, loss, valLoss, msPerStep, etaMs: msPerStep * (steps - done), lr: stepLr });
    }
  }
  return result('completed');
}
