// Synthetic "animal photo features" for the classifier story: four classes, 16 features, two cameras.
// Day camera: x = μ_class + σ·ε. Night camera: the same scene seen through R = I − 2·u1·u1ᵀ − 2·u2·u2ᵀ, which
// swaps cat↔dog and fox↔rabbit along two directions, so R − I has rank 2: the fix a model needs is low-rank.
import { mixSeed, seededRandom, type Random } from './rng.js';
import type { Split } from './tasks.js';

export const ANIMALS = ['cat', 'dog', 'fox', 'rabbit'] as const;
export type AnimalDomain = 'day' | 'night';

/** Features per example. */
export const ANIMAL_FEATURES = 16;
/** Noise σ around each class mean. */
const NOISE = 0.6;
/** Distance of each class mean from its pair's centre along u1 / u2. */
const SEPARATION = 1.2;
/** Fixes the class means and the night camera, whatever seed a data set uses. */
const WORLD_SEED = 20240611;

/** Examples, row-major: x [n, dim], y [n] class ids (index into `classes`). */
export interface ClassData {
  readonly x: Float32Array;
  readonly y: Int32Array;
  readonly n: number;
  readonly dim: number;
  readonly classes: readonly string[];
}

function gaussian(rng: Random, d: number): number[] {
  return Array.from({ length: d }, () => rng.normal());
}
const dot = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * b[i]!, 0);
const axpy = (a: number, x: number[], y: number[]) => y.map((v, i) => v + a * x[i]!);
function orthonormalize(vs: number[][]): number[][] {
  const out: number[][] = [];
  for (let v of vs) {
    for (const q of out) v = axpy(-dot(v, q), q, v);
    const n = Math.sqrt(dot(v, v));
    out.push(v.map((x) => x / n));
  }
  return out;
}

interface World {
  means: number[][]; // [4][dim]
  u: number[][]; // the two directions the night camera flips
}

let world: World | undefined;
function getWorld(): World {
  if (world) return world;
  const rng = seededRandom(WORLD_SEED);
  const [u1, u2, a, b] = orthonormalize([0, 1, 2, 3].map(() => gaussian(rng, ANIMAL_FEATURES))) as [number[], number[], number[], number[]];
  const centre = (v: number[]) => v.map((x) => x * 1.5);
  world = {
    u: [u1, u2],
    means: [
      axpy(SEPARATION, u1, centre(a)), // cat
      axpy(-SEPARATION, u1, centre(a)), // dog
      axpy(SEPARATION, u2, centre(b)), // fox
      axpy(-SEPARATION, u2, centre(b)), // rabbit
    ],
  };
  return world;
}

/** R·x for the night camera: flips the components along u1 and u2. */
function nightCamera(x: number[]): number[] {
  let y = x;
  for (const u of getWorld().u) y = axpy(-2 * dot(x, u), u, y);
  return y;
}

const SPLIT_ID: Record<Split, number> = { train: 1, val: 2, test: 3 };

/** `n` labelled examples from a camera: deterministic in (domain, n, seed, split), classes balanced in expectation. */
export function animalData(domain: AnimalDomain, n: number, seed: number, split: Split = 'train'): ClassData {
  if (domain !== 'day' && domain !== 'night') throw new Error(`domain must be 'day' or 'night', got '${String(domain)}'`);
  if (!Number.isInteger(n) || n < 1) throw new Error(`n must be a positive integer, got ${n}`);
  const rng = seededRandom(mixSeed(seed, SPLIT_ID[split], domain === 'day' ? 1 : 2));
  const { means } = getWorld();
  const x = new Float32Array(n * ANIMAL_FEATURES);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = rng.int(ANIMALS.length);
    let v = means[c]!.map((m) => m + NOISE * rng.normal());
    if (domain === 'night') v = nightCamera(v);
    x.set(v, i * ANIMAL_FEATURES);
    y[i] = c;
  }
  return { x, y, n, dim: ANIMAL_FEATURES, classes: ANIMALS };
}

/** The two unit directions u1, u2 [dim] the night camera flips (R − I = −2·u1·u1ᵀ − 2·u2·u2ᵀ): copies. */
export function nightCameraDirections(): number[][] {
  return getWorld().u.map((u) => [...u]);
}

/** The night camera as a matrix R [dim, dim] (R = Rᵀ = R⁻¹), for notebooks that show ΔW's rank. */
export function nightCameraMatrix(): number[][] {
  return Array.from({ length: ANIMAL_FEATURES }, (_, i) => {
    const e = Array.from({ length: ANIMAL_FEATURES }, (_, j) => (i === j ? 1 : 0));
    return nightCamera(e);
  });
}
