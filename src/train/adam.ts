// Adam and AdamW over explicit parameter groups, with state we can save and restore (for exact resume).
// Kingma & Ba 2015, Alg. 1; decoupled weight decay from Loshchilov & Hutter 2019 (AdamW), as PyTorch does:
//   t ← t+1;  m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;  m̂ = m/(1−β1ᵗ);  v̂ = v/(1−β2ᵗ)
//   θ ← θ − lr·s·wd·θ  (AdamW only);  θ ← θ − lr·s·m̂/(√v̂ + ε)      where s = the group's lrScale (LoRA+).
import * as tf from '@tensorflow/tfjs';
import { asParamGroups, type ParamGroup } from './params.js';

export interface AdamOptions {
  /** Exponential decay of the first moment. @default 0.9 */
  beta1?: number;
  /** Exponential decay of the second moment. @default 0.999 */
  beta2?: number;
  /** Added to √v̂ for stability. @default 1e-8 */
  epsilon?: number;
  /** Decoupled weight decay (AdamW); 0 = plain Adam. @default 0 */
  weightDecay?: number;
}

/** Adam's moments for one variable. */
interface Moments {
  m: tf.Variable;
  v: tf.Variable;
}

export class Adam {
  readonly groups: ParamGroup[];
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly weightDecay: number;
  /** Updates applied so far (t in the formulas); a resumed run continues from here. */
  step = 0;
  private readonly moments: Moments[];

  constructor(params: tf.Variable[] | ParamGroup[], options: AdamOptions = {}) {
    this.groups = asParamGroups(params);
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.epsilon = options.epsilon ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0;
    for (const [k, b] of [['beta1', this.beta1], ['beta2', this.beta2]] as const) {
      if (!(b >= 0 && b < 1)) throw new Error(`${k} must be in [0, 1), got ${b}: use e.g. 0.9 / 0.999`);
    }
    if (!(this.weightDecay >= 0)) throw new Error(`weightDecay must be >= 0, got ${this.weightDecay}: use e.g. 0 or 0.01`);
    for (const g of this.groups) {
      if (!(g.lrScale > 0)) throw new Error(`param group '${g.name}' lrScale must be > 0, got ${g.lrScale}`);
    }
    const zeros = (x: tf.Variable): tf.Variable => {
      const z = tf.zerosLike(x);
      const v = tf.variable(z, false); // shares z's data, so z itself can go
      z.dispose();
      return v;
    };
    this.moments = this.variables().map((x) => ({ m: zeros(x), v: zeros(x) }));
  }

  /** All variables, group by group, in order (the order of `gradients` in apply and of the saved state). */
  variables(): tf.Variable[] {
    return this.groups.flatMap((g) => g.variables);
  }

  /** Floats of state: two (m and v) per trainable parameter. */
  stateSize(): number {
    return 2 * this.variables().reduce((n, x) => n + x.size, 0);
  }

  /**
   * One update. `gradients[i]` belongs to variables()[i]; `gradScale` multiplies every gradient first
   * (global-norm clipping). Does not dispose the gradients.
   */
  apply(gradients: readonly tf.Tensor[], lr: number, gradScale = 1): void {
    const vars = this.variables();
    if (gradients.length !== vars.length) {
      throw new Error(`Adam.apply: ${gradients.length} gradients for ${vars.length} variables`);
    }
    this.step += 1;
    const t = this.step;
    const c1 = 1 - this.beta1 ** t;
    const c2 = 1 - this.beta2 ** t;
    let i = 0;
    for (const group of this.groups) {
      const groupLr = lr * group.lrScale;
      for (const x of group.variables) {
        const { m, v } = this.moments[i]!;
        const g0 = gradients[i]!;
        i++;
        tf.tidy(() => {
          const g = gradScale === 1 ? g0 : g0.mul(gradScale);
          m.assign(m.mul(this.beta1).add(g.mul(1 - this.beta1)));
          v.assign(v.mul(this.beta2).add(g.square().mul(1 - this.beta2)));
          const update = m.div(c1).div(v.div(c2).sqrt().add(this.epsilon)); // m̂ / (√v̂ + ε)
          const decayed = this.weightDecay > 0 ? x.mul(1 - groupLr * this.weightDecay) : x;
          x.assign(decayed.sub(update.mul(groupLr)));
        });
      }
    }
  }

  /** The moments, in variables() order (views of the live state: copy before keeping). */
  stateTensors(): { m: tf.Tensor; v: tf.Tensor }[] {
    return this.moments.map(({ m, v }) => ({ m, v }));
  }

  /** Restores moments and the step count (from a saved run). Shapes must match variables(). */
  setState(step: number, moments: readonly { m: tf.Tensor; v: tf.Tensor }[]): void {
    const vars = this.variables();
    if (!Number.isInteger(step) || step < 0) throw new Error(`optimizer step must be a non-negative integer, got ${step}`);
    if (moments.length !== vars.length) {
      throw new Error(`optimizer state has ${moments.length} entries but ${vars.length} variables are being trained`);
    }
    moments.forEach(({ m, v }, i) => {
      const want = vars[i]!.shape.join(', ');
      if (m.shape.join(', ') !== want || v.shape.join(', ') !== want) {
        throw new Error(`optimizer state ${i}: moments [${m.shape}] / [${v.shape}] do not match variable [${want}]`);
      }
    });
    moments.forEach(({ m, v }, i) => {
      this.moments[i]!.m.assign(m);
      this.moments[i]!.v.assign(v);
    });
    this.step = step;
  }

  dispose(): void {
    for (const { m, v } of this.moments) {
      m.dispose();
      v.dispose();
    }
  }
}
