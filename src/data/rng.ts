// Seeded randomness for the data generators: a mulberry32 stream plus a seed mixer, so example i of a
// data set, or the batch of training step s, is a pure function of (seed, i) or (seed, s).
// mulberry32 and the splitmix32-style finaliser are public-domain constructions (Tommy Ettinger; Steele et al.).

/** A seeded stream of random numbers. */
export interface Random {
  /** Uniform on [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** Uniform integer in [lo, hi] (both inclusive). */
  range(lo: number, hi: number): number;
  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T;
  /** Standard normal N(0, 1) (Box–Muller). */
  normal(): number;
}

function assertSeed(seed: number): void {
  if (!Number.isInteger(seed)) throw new Error(`seed must be an integer, got ${String(seed)}: use e.g. 0 or 42`);
}

/** Mixes integers into one 32-bit seed; different inputs give unrelated streams. */
export function mixSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    assertSeed(p);
    h = Math.imul(h ^ (p >>> 0), 0x85ebca6b) >>> 0;
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35) >>> 0;
    h ^= h >>> 16;
    // the high half of a seed beyond 32 bits still matters
    h = (h + Math.floor(p / 4294967296)) >>> 0;
  }
  return h >>> 0;
}

/** A mulberry32 stream from an integer seed. */
export function seededRandom(seed: number): Random {
  assertSeed(seed);
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => {
    if (!Number.isInteger(n) || n < 1) throw new Error(`int(n) needs a positive integer n, got ${n}`);
    return Math.floor(next() * n);
  };
  return {
    next,
    int,
    range: (lo, hi) => lo + int(hi - lo + 1),
    pick: (items) => {
      if (items.length === 0) throw new Error('pick() needs a non-empty array');
      return items[int(items.length)]!;
    },
    normal: () => {
      const u = 1 - next(); // (0, 1]: log is finite
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
    },
  };
}
