// What machine a benchmark ran on: CPU model, cores, OS, Node, and the GPU with its driver when there is one,
// so bench/RESULTS.md can keep every figure beside the machine it came from.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  /** The WebGPU adapter (vendor, architecture, device, driver description) when webgpu loaded. */
  webgpuAdapter?: string;
  /** `nvidia-smi` name, driver and memory, when that tool is present. */
  nvidia?: string;
}

function osName(): string {
  try {
    const pretty = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync('/etc/os-release', 'utf8'));
    if (pretty) return `${pretty[1]} (${os.type()} ${os.release()} ${os.arch()})`;
  } catch {
    // not Linux, or no os-release: the kernel line is enough
  }
  return `${os.type()} ${os.release()} ${os.arch()}`;
}

function nvidiaSmi(): string | undefined {
  try {
    const out = execFileSync('nvidia-smi', ['--query-gpu=name,driver_version,memory.total', '--format=csv,noheader'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 10_000,
    });
    return out.trim().split('\n').join('; ') || undefined;
  } catch {
    return undefined;
  }
}

export function describeMachine(webgpuAdapter?: string): MachineInfo {
  const cpus = os.cpus();
  const info: MachineInfo = {
    cpu: cpus[0]?.model.trim() ?? 'unknown CPU',
    cores: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: osName(),
    node: process.version,
  };
  if (webgpuAdapter !== undefined) info.webgpuAdapter = webgpuAdapter;
  const nv = nvidiaSmi();
  if (nv !== undefined) info.nvidia = nv;
  return info;
}

/** A file-name-safe tag such as "amd-epyc-2c" or "nvidia-h100-80gb-hbm3-16c". */
export function machineSlug(m: MachineInfo): string {
  const base = m.nvidia ? m.nvidia.split(',')[0]! : m.cpu;
  const slug = base.toLowerCase().replace(/\(r\)|\(tm\)|cpu|processor|@.*$/g, '').replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
  return `${slug.slice(0, 40) || 'machine'}-${m.cores}c`;
}
