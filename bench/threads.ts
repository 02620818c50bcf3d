// `npx tsx bench/threads.ts`: the GEMM's worker threads measured on their own — matMul and the bench training step
// at 1 thread vs N, the cut-over scan behind THREAD_MIN_FLOPS, and a per-kernel profile of a step (where the rest of
// a step goes). Rounds interleaved in one process; loads printed beside the figures; JSON next to the tables.
// Run: npx tsx bench/threads.ts [--backend wasm] [--threads N] [--sizes 256,512,1024] [--reps 5] [--spins 0,200]
//                               [--no-profile] [--out f.json]
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gemmThreads, useBackend } from '../src/backend/index.js';
import { benchThreads } from './lib/threads.js';
import { profileStep, type StepProfile } from './lib/profile.js';
import { formatProfile, formatThreads } from './lib/threads-report.js';
import { makeModels } from './lib/training.js';
import { describeMachine, machineSlug } from './lib/machine.js';

interface Args {
  backend: string;
  threads?: number;
  sizes: number[];
  reps: number;
  profile: boolean;
  cutover: boolean;
  train: boolean;
  spins: number[];
  out?: string;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { backend: 'wasm', sizes: [256, 512, 1024], reps: 5, profile: true, cutover: true, train: true, spins: [] };
  const value = (i: number) => {
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) throw new Error(`${argv[i]} needs a value`);
    return v;
  };
  const int = (s: string, flag: string) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} takes a positive integer, got '${s}'`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i]!;
    if (f === '--backend') a.backend = value(i++);
    else if (f === '--threads') a.threads = int(value(i++), f);
    else if (f === '--sizes') a.sizes = value(i++).split(',').map((x) => int(x, f));
    else if (f === '--reps') a.reps = int(value(i++), f);
    else if (f === '--out') a.out = value(i++);
    else if (f === '--spins') a.spins = value(i++).split(',').map((x) => Number(x));
    else if (f === '--no-profile') a.profile = false;
    else if (f === '--no-cutover') a.cutover = false;
    else if (f === '--no-train') a.train = false;
    else if (f === '--help' || f === '-h') {
      console.log('usage: npx tsx bench/threads.ts [--backend wasm|cpu] [--threads N] [--sizes 256,512,1024] [--reps 5]\n' +
        '                               [--spins 0,200,1000] [--no-profile] [--no-cutover] [--no-train] [--out FILE.json]\n' +
        '--threads  N to compare with 1 (default LORA_LAB_THREADS, else the cores up to 8)\n' +
        '--spins    also compare these worker spins (µs before a worker sleeps) at N threads');
      process.exit(0);
    } else throw new Error(`unknown flag '${f}' (see --help)`);
  }
  return a;
}

export async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  const info = await useBackend(args.backend, { log: null });
  if (!info.fastMatMul) throw new Error(`backend '${args.backend}' does not run lora-lab's GEMM: use wasm or cpu`);
  const threads = args.threads ?? gemmThreads();
  if (threads < 2) throw new Error('only 1 thread to compare with 1: pass --threads N (N >= 2) or set LORA_LAB_THREADS');
  const log = (line: string) => console.log(`  … ${line}`);
  if (args.spins.some((x) => !(x >= 0))) throw new Error(`--spins takes µs >= 0, got ${args.spins.join(',')}`);
  const models = args.train || args.profile || args.spins.length > 0 ? makeModels('bench', 32) : null;
  try {
    const r = await benchThreads({ backend: args.backend, threads, sizes: args.sizes, models, train: args.train,
      modelsLabel: "GPT preset 'bench', batch 32", reps: args.reps, cutover: args.cutover, spins: args.spins, log });
    const profiles: StepProfile[] = [];
    if (args.profile) {
      for (const kind of ['full', 'lora'] as const) {
        log(`profile: ${kind} step`);
        profiles.push(await profileStep(models!, kind, threads));
      }
    }
    const machine = describeMachine();
    console.log(`\nmachine: ${machine.cpu}, ${machine.cores} cores, node ${machine.node}, ${new Date().toISOString()}`);
    console.log([...formatThreads(r), ...profiles.flatMap((p) => formatProfile(p))].join('\n'));
    const here = path.dirname(fileURLToPath(import.meta.url));
    const file = args.out ?? path.join(here, 'results', `threads-${machineSlug(machine)}-${new Date().toISOString().slice(0, 10)}.json`);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify({ machine, date: new Date().toISOString(), threads: r, profiles }, null, 2) + '\n');
    console.log(`\nwrote ${file}`);
  } finally {
    models?.dispose();
  }
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      console.error(`bench/threads: ${(e as Error).message}`);
      process.exitCode = 1;
    },
  );
}
