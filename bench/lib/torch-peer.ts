// Runs the PyTorch peer (bench/torch_peer.py: the same GPT, batch, LoRA config and step, written from the
// architecture's definition) when a Python with torch is found, so `npm run bench` prints PyTorch beside lora-lab
// from the same run on the same machine and thread count. Python: $LORA_LAB_PYTHON, /usr/bin/python3, python3.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GPT_PRESETS, type GptPresetName } from '../../src/models/config.js';

export interface TorchPeerOptions {
  preset: GptPresetName;
  batchSize: number;
  vocab: number;
  r: number;
  alpha: number;
  targets: readonly string[];
  threads: number;
  reps: number;
  /** Stop planning rounds past this many seconds. */
  budgetS: number;
}

export interface TorchStep {
  ms: number;
  runs: number[];
  tokensPerSec: number;
  trainableParams: number;
}

export interface TorchPeerResult {
  python: string;
  torch: string;
  threads: number;
  reps: number;
  full: TorchStep;
  lora: TorchStep;
  loraOverFull: number;
}

const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'torch_peer.py');

function run(cmd: string, args: string[], timeoutMs: number): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ ok: err === null, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** The first Python that imports torch, or the reason none does. */
export async function findTorchPython(): Promise<{ python: string } | { unavailable: string }> {
  const candidates = [process.env['LORA_LAB_PYTHON'], '/usr/bin/python3', 'python3'].filter((c): c is string => !!c);
  for (const python of candidates) {
    const r = await run(python, ['-c', 'import torch; print(torch.__version__)'], 60_000);
    if (r.ok) return { python };
  }
  return { unavailable: `no Python with torch among ${candidates.join(', ')} (install python3-torch, or set LORA_LAB_PYTHON)` };
}

/** The peer's measurements, or why it could not run. */
export async function runTorchPeer(o: TorchPeerOptions): Promise<TorchPeerResult | { unavailable: string }> {
  const found = await findTorchPython();
  if ('unavailable' in found) return found;
  const p = GPT_PRESETS[o.preset];
  const args = [
    SCRIPT, '--d-model', String(p.dModel), '--layers', String(p.nLayers), '--heads', String(p.nHeads), '--d-ff', String(p.dFf),
    '--ctx', String(p.contextLength), '--batch', String(o.batchSize), '--vocab', String(o.vocab), '--r', String(o.r),
    '--alpha', String(o.alpha), '--targets', o.targets.join(','), '--threads', String(o.threads), '--reps', String(o.reps),
    '--budget-s', String(o.budgetS),
  ];
  const r = await run(found.python, args, (o.budgetS * 3 + 120) * 1000);
  const line = r.stdout.trim().split('\n').at(-1) ?? '';
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return { unavailable: `the PyTorch peer printed no result (${(r.stderr.trim().split('\n').at(-1) ?? 'no output').slice(0, 200)})` };
  }
  if (typeof json['error'] === 'string') return { unavailable: json['error'] };
  return { python: found.python, ...(json as unknown as Omit<TorchPeerResult, 'python'>) };
}
