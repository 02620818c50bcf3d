// Runs the PyTorch peer (bench/torch_peer.py: the same GPT, batch, LoRA config and step, written from the
// architecture's definition) when a Python with torch is found, so `npm run bench` prints PyTorch beside lora-lab
// from the same run on the same machine and thread count; and bench/torch_peer_gpt2.py, the peer of bench --hf's
// GPT-2-small LoRA step (hand-written, and transformers + PEFT where installed). Python: $LORA_LAB_PYTHON,
// /usr/bin/python3, python3.
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

const GPT2_SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'torch_peer_gpt2.py');

/** The shape of bench --hf's training step (GPT-2 small unless a test passes a tiny one). */
export interface TorchGpt2PeerOptions {
  nEmbd: number;
  layers: number;
  heads: number;
  vocab: number;
  positions: number;
  ctx: number;
  batch: number;
  r: number;
  alpha: number;
  threads: number;
  reps: number;
  /** torch device: 'cpu' or 'cuda'. */
  device: string;
  /** Also time transformers + PEFT (reported as unavailable where they do not import). */
  peft: boolean;
  timeoutS: number;
}

export interface TorchGpt2Step extends TorchStep {
  allParams: number;
  peakBytes: number;
  peakKind: string;
}

export interface TorchGpt2PeerResult {
  python: string;
  torch: string;
  device: string;
  gpu: string | null;
  threads: number;
  reps: number;
  lora: TorchGpt2Step;
  peft?: TorchGpt2Step | { unavailable: string };
}

/** bench/torch_peer_gpt2.py's measurements (hand-written GPT-2 + LoRA, and PEFT when asked), or why it did not run. */
export async function runTorchGpt2Peer(o: TorchGpt2PeerOptions): Promise<TorchGpt2PeerResult | { unavailable: string }> {
  const found = await findTorchPython();
  if ('unavailable' in found) return found;
  const args = [
    GPT2_SCRIPT, '--n-embd', String(o.nEmbd), '--layers', String(o.layers), '--heads', String(o.heads), '--vocab', String(o.vocab),
    '--positions', String(o.positions), '--ctx', String(o.ctx), '--batch', String(o.batch), '--r', String(o.r),
    '--alpha', String(o.alpha), '--threads', String(o.threads), '--reps', String(o.reps), '--device', o.device,
    ...(o.peft ? ['--peft'] : []),
  ];
  const r = await run(found.python, args, o.timeoutS * 1000);
  const line = r.stdout.trim().split('\n').at(-1) ?? '';
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return { unavailable: `the PyTorch GPT-2 peer printed no result (${(r.stderr.trim().split('\n').at(-1) ?? 'no output').slice(0, 200)})` };
  }
  if (typeof json['error'] === 'string') return { unavailable: json['error'] };
  return { python: found.python, ...(json as unknown as Omit<TorchGpt2PeerResult, 'python'>) };
}
