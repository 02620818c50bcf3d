// Randomized SVD (Halko, Martinsson & Tropp 2011, Alg. 4.4 + 5.1) against ml-matrix's full SVD on a
// 1024×1024 matrix with a known decaying spectrum: time side by side, accuracy of the top k singular values.
// Run: npx tsx bench/svd.ts [--n 1024] [--k 16]   → prints a table, writes bench/svd.json.
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { prescribedSpectrum, randomizedSvd, svd } from '../src/linalg/index.js';

const args = process.argv.slice(2);
const flag = (name: string, dflt: number): number => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? dflt : Number(args[i + 1]);
};
const n = flag('n', 1024);
const k = flag('k', 16);
const oversampling = 10;
const powerIterations = 2;

const spectra = {
  'geometric 0.9^i': (i: number) => 0.9 ** i,
  'harmonic 1/(i+1)': (i: number) => 1 / (i + 1),
};

function ms(f: () => unknown): number {
  const t0 = performance.now();
  f();
  return performance.now() - t0;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function maxRelErr(approx: ArrayLike<number>, exact: ArrayLike<number>, count: number): number {
  let e = 0;
  for (let i = 0; i < count; i++) e = Math.max(e, Math.abs(approx[i] - exact[i]) / exact[i]);
  return e;
}

const fmt = (x: number, d = 1) => x.toFixed(d).padStart(10);
console.log(`randomized SVD vs full SVD, ${n}×${n}, top k = ${k}, oversampling p = ${oversampling}`);
console.log(`node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? '?'}`);

// 1. The headline: geometric decay, defaults p = 10, q = 2, against the full SVD.
const geo = Array.from({ length: n }, (_, i) => spectra['geometric 0.9^i'](i));
let t0 = performance.now();
const { M } = prescribedSpectrum(n, n, geo, 1);
const genMs = performance.now() - t0;
randomizedSvd(M, k, { oversampling, powerIterations, seed: 2 }); // warm-up (JIT)
const rsvdRuns = [0, 1, 2].map((s) => ms(() => randomizedSvd(M, k, { oversampling, powerIterations, seed: 3 + s })));
const rsvdMs = median(rsvdRuns);
const approx = randomizedSvd(M, k, { oversampling, powerIterations, seed: 2 });
let exact: Float64Array = new Float64Array();
const fullMs = ms(() => {
  exact = svd(M).sigma;
});
const headline = {
  spectrum: 'geometric 0.9^i',
  fullSvdMs: fullMs,
  randomizedSvdMs: rsvdMs,
  speedup: fullMs / rsvdMs,
  maxRelErrVsPrescribed: maxRelErr(approx.sigma, geo, k),
  maxRelErrVsFullSvd: maxRelErr(approx.sigma, exact, k),
  fullSvdMaxRelErrVsPrescribed: maxRelErr(exact, geo, k),
};
console.log('');
console.log('method            time ms   max rel. error of top-k σ (vs prescribed σ)');
console.log(`full SVD       ${fmt(fullMs)}   ${headline.fullSvdMaxRelErrVsPrescribed.toExponential(2)}`);
console.log(`randomized SVD ${fmt(rsvdMs)}   ${headline.maxRelErrVsPrescribed.toExponential(2)}   (q = ${powerIterations})`);
console.log(`speedup        ${fmt(headline.speedup)}×`);
console.log(`(building the test matrix took ${genMs.toFixed(0)} ms, not counted)`);

// 2. Power iterations q on both spectra: slow decay is where q earns its cost.
const sweep: { spectrum: string; q: number; ms: number; maxRelErr: number }[] = [];
console.log('');
console.log('spectrum            q    time ms   max rel. error');
for (const [name, f] of Object.entries(spectra)) {
  const sigma = Array.from({ length: n }, (_, i) => f(i));
  const A = name === 'geometric 0.9^i' ? M : prescribedSpectrum(n, n, sigma, 1).M;
  for (const q of [0, 1, 2, 3, 4]) {
    let r = approx;
    const t = ms(() => {
      r = randomizedSvd(A, k, { oversampling, powerIterations: q, seed: 2 });
    });
    const e = maxRelErr(r.sigma, sigma, k);
    sweep.push({ spectrum: name, q, ms: t, maxRelErr: e });
    console.log(`${name.padEnd(18)} ${String(q).padStart(2)} ${fmt(t)}   ${e.toExponential(2)}`);
  }
}

const result = {
  what: 'randomized SVD (HMT 2011 Alg. 4.4 + 5.1) vs ml-matrix full SVD, top-k singular values',
  date: new Date().toISOString(),
  node: process.version,
  cpu: cpus()[0]?.model ?? 'unknown',
  cores: cpus().length,
  n,
  k,
  oversampling,
  powerIterations,
  headline,
  sweep,
};
writeFileSync(new URL('./svd.json', import.meta.url), JSON.stringify(result, null, 2) + '\n');
console.log('\nwrote bench/svd.json');
