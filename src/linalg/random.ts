// Seeded random matrices, so every notebook figure and test is reproducible: a mulberry32 PRNG with
// Box–Muller normals, Gaussian matrices, random orthogonal matrices (Mezzadri 2007: QR of a Gaussian,
// R's diagonal made positive) and matrices with a prescribed spectrum M = U·diag(σ)·Vᵀ.
import { Matrix } from 'ml-matrix';
import { columnsToMatrix, orthonormalize, type Columns } from './dense.js';
import { assertPositiveInt, assertSpectrum } from './validate.js';

/** A seeded source of random numbers. */
export interface Rng {
  /** Uniform on [0, 1). */
  uniform(): number;
  /** Standard normal N(0, 1). */
  normal(): number;
}

/** A seed (any integer; reduced mod 2³²) or an Rng to draw from (it advances). */
export type SeedOrRng = number | Rng;

/**
 * mulberry32 (Tommy Ettinger, public domain): a 32-bit state PRNG, fast and good enough for test data
 * and initialisation; not for cryptography. Normals by Box–Muller, the second value cached.
 */
export function createRng(seed = 0): Rng {
  if (!Number.isFinite(seed) || !Number.isInteger(seed)) {
    throw new Error(`seed must be an integer, got ${String(seed)}: use e.g. seed 0 or 42`);
  }
  let state = seed >>> 0;
  const uniform = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  let spare: number | undefined;
  const normal = (): number => {
    if (spare !== undefined) {
      const s = spare;
      spare = undefined;
      return s;
    }
    // 1 - u is in (0, 1], so the log is finite.
    const u1 = 1 - uniform();
    const u2 = uniform();
    const radius = Math.sqrt(-2 * Math.log(u1));
    spare = radius * Math.sin(2 * Math.PI * u2);
    return radius * Math.cos(2 * Math.PI * u2);
  };
  return { uniform, normal };
}

export function toRng(seed: SeedOrRng): Rng {
  return typeof seed === 'number' ? createRng(seed) : seed;
}

/** m×n matrix of independent N(0, std²) entries. */
export function randomGaussian(m: number, n: number, seed: SeedOrRng = 0, std = 1): Matrix {
  assertPositiveInt(m, 'm', 8);
  assertPositiveInt(n, 'n', 8);
  if (!Number.isFinite(std) || std < 0) throw new Error(`std must be finite and >= 0, got ${String(std)}: use e.g. std 1`);
  const rng = toRng(seed);
  const M = new Matrix(m, n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) M.set(i, j, std * rng.normal());
  return M;
}

/**
 * Random orthogonal matrix, uniform (Haar) over the orthogonal group: n×n by default, or m×n with
 * orthonormal columns (m >= n) when `cols` is given. QR of a Gaussian with R's diagonal positive.
 */
export function randomOrthogonal(m: number, seed: SeedOrRng = 0, cols = m): Matrix {
  assertPositiveInt(m, 'm', 8);
  assertPositiveInt(cols, 'cols', 8);
  if (cols > m) {
    throw new Error(`cols must be <= m for orthonormal columns, got cols ${cols} > m ${m}: use cols <= ${m}`);
  }
  return columnsToMatrix(orthonormalGaussian(m, cols, toRng(seed)));
}

/**
 * An m×n matrix with exactly the singular values `sigma` (any order; padded with zeros up to min(m, n)):
 * M = U·diag(σ)·Vᵀ with U [m, s], V [n, s] random orthonormal columns, s = sigma.length.
 * Returns the singular vectors too, sorted so that sigma is descending.
 */
export function prescribedSpectrum(
  m: number,
  n: number,
  sigma: ArrayLike<number>,
  seed: SeedOrRng = 0,
): { M: Matrix; U: Matrix; sigma: Float64Array; V: Matrix } {
  assertPositiveInt(m, 'm', 8);
  assertPositiveInt(n, 'n', 8);
  assertSpectrum(sigma);
  const k = Math.min(m, n);
  if (sigma.length > k) {
    throw new Error(
      `sigma has ${sigma.length} values but an ${m}×${n} matrix has at most min(m, n) = ${k}: pass at most ${k}`,
    );
  }
  const s = sigma.length;
  const sorted = Float64Array.from(sigma).sort().reverse();
  const rng = toRng(seed);
  const U = orthonormalGaussian(m, s, rng); // s columns of length m
  const V = orthonormalGaussian(n, s, rng); // s columns of length n
  // M[i, :] = Σ_a U[i, a]·σ_a·V[:, a]ᵀ, accumulated row by row (contiguous inner loop over V's column a).
  const M = new Matrix(m, n);
  const row = new Float64Array(n);
  for (let i = 0; i < m; i++) {
    row.fill(0);
    for (let a = 0; a < s; a++) {
      const w = U[a][i] * sorted[a];
      if (w === 0) continue;
      const v = V[a];
      for (let j = 0; j < n; j++) row[j] += w * v[j];
    }
    M.setRow(i, row);
  }
  return { M, U: columnsToMatrix(U), sigma: sorted, V: columnsToMatrix(V) };
}

/** l orthonormal columns of length m: Gram–Schmidt of a Gaussian [m, l]. */
function orthonormalGaussian(m: number, l: number, rng: Rng): Columns {
  const G: Columns = [];
  for (let c = 0; c < l; c++) {
    const g = new Float64Array(m);
    for (let i = 0; i < m; i++) g[i] = rng.normal();
    G.push(g);
  }
  return orthonormalize(G, rng.normal);
}
