// SVD timings on the CPU (ml-matrix; no TF.js backend involved): the full SVD against the randomized top-k SVD
// of src/linalg (Halko, Martinsson & Tropp 2011, Alg. 4.4 + 5.1) on a matrix with a known decaying spectrum.
// bench/svd.ts is the detailed study (power iterations, spectra); this is its headline at a few sizes.
import { prescribedSpectrum, randomizedSvd, svd } from '../../src/linalg/index.js';
import { median, timeOnce } from './timing.js';

export interface SvdRow {
  n: number;
  k: number;
  fullMs: number;
  randomizedMs: number;
  /** Largest relative error of the top-k singular values from the randomized SVD. */
  maxRelErr: number;
}

export async function benchSvd(sizes: readonly number[], k = 16, reps = 3): Promise<SvdRow[]> {
  const rows: SvdRow[] = [];
  for (const n of sizes) {
    const sigma = Array.from({ length: n }, (_, i) => 0.9 ** i); // σ_i = 0.9^i
    const { M } = prescribedSpectrum(n, n, sigma, 1);
    randomizedSvd(M, k, { seed: 1 }); // JIT warm-up
    const rs: number[] = [];
    let approx: ArrayLike<number> = [];
    for (let i = 0; i < reps; i++) {
      rs.push(await timeOnce(async () => {
        approx = randomizedSvd(M, k, { seed: 2 + i }).sigma;
      }));
    }
    const fullMs = await timeOnce(async () => {
      svd(M);
    });
    let maxRelErr = 0;
    for (let i = 0; i < k; i++) maxRelErr = Math.max(maxRelErr, Math.abs(approx[i]! - sigma[i]!) / sigma[i]!);
    rows.push({ n, k, fullMs, randomizedMs: median(rs), maxRelErr });
  }
  return rows;
}
