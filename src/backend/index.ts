// The one place that chooses and loads a TF.js backend. Everything else in lora-lab is backend-agnostic.
// Order from fastest to slowest where each exists: node-gpu (libtensorflow + CUDA), node (libtensorflow CPU),
// webgpu (Dawn through the `webgpu` package: Vulkan/Metal/D3D12), wasm (XNNPACK, SIMD), cpu (plain JS).
// On wasm and cpu, matMul runs on our WebAssembly SIMD GEMM (fast-matmul.ts) unless switched off, with large products
// spread over worker threads (gemm-threads.ts; LORA_LAB_THREADS pins how many).
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';
import { installFastMatMul, uninstallFastMatMul } from './fast-matmul.js';
import { startGemmThreads } from './gemm.js';
import { patchWebgpuAddN } from './webgpu-addn.js';
import { isSoftwareAdapter, probeWebgpu } from './webgpu-probe.js';

export { fastMatMulInstalled, installFastMatMul, uninstallFastMatMul, type FastMatMulBackend } from './fast-matmul.js';
export {
  gemm, gemmAvailable, batchMatMulF32, rowMajor, type StridedMatrix,
  gemmThreads, setGemmThreads, startGemmThreads, gemmThreadStats, gemmThreadsReady, THREAD_MIN_FLOPS, type GemmThreadStats,
  type GemmThreadOptions,
} from './gemm.js';
export { threadsFromEnv, defaultThreads, cpuQuota, parseCpuMax, DEFAULT_THREAD_CAP } from './thread-count.js';
export { DEFAULT_WORKER_SPIN_US } from './gemm-threads.js';
export { probeWebgpu, type WebgpuProbe } from './webgpu-probe.js';

export const BACKENDS = ['node-gpu', 'node', 'webgpu', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];

export interface BackendInfo {
  /** Our name for it. */
  readonly name: BackendName;
  /** TF.js's own name (`tf.getBackend()`): 'tensorflow' for node and node-gpu. */
  readonly tfName: string;
  /** Why this one: for `auto`, which were tried and why they were passed over. */
  readonly reason: string;
  /** For webgpu: the adapter's vendor/architecture ('software' = a CPU rasteriser such as lavapipe). */
  readonly adapter?: string;
  /** For wasm and cpu: matMul runs on lora-lab's WebAssembly SIMD GEMM (fast-matmul.ts) rather than the backend's own. */
  readonly fastMatMul?: boolean;
  /** With fastMatMul: the threads a large product runs on (LORA_LAB_THREADS, else the cores up to 8: README). */
  readonly threads?: number;
}

export interface UseBackendOptions {
  /**
   * For webgpu under `auto`: accept a software adapter (lavapipe/SwiftShader). They run the same code path as a
   * GPU but are slower than wasm for small models, so `auto` passes over them unless this is true.
   * @default false
   */
  allowSoftwareGpu?: boolean;
  /** Where `auto` reports its one line. @default console.log; pass null for silence */
  log?: ((line: string) => void) | null;
  /**
   * On wasm and cpu, run matMul (and its gradients) on lora-lab's WebAssembly SIMD GEMM: 20-70× the cpu backend's
   * own and several times wasm's for transposed or batched products (see bench/RESULTS.md).
   * @default true, unless the environment sets LORA_LAB_FAST_MATMUL=0
   */
  fastMatMul?: boolean;
}

/** A backend asked for by name that cannot load: the message names what to install. */
export class BackendUnavailableError extends Error {
  override readonly name = 'BackendUnavailableError';
}

const requireHere = createRequire(import.meta.url);
let current: BackendInfo | undefined;

/** Parses a backend name (from LORA_LAB_BACKEND or --backend); an unknown one lists the valid ones. */
export function parseBackendName(value: string): BackendName | 'auto' {
  const v = value.trim().toLowerCase();
  if (v === 'auto' || (BACKENDS as readonly string[]).includes(v)) return v as BackendName | 'auto';
  throw new Error(`unknown backend '${value}'; valid backends: auto, ${BACKENDS.join(', ')}`);
}

/** The backend in use, once `useBackend` has run. */
export function currentBackend(): BackendInfo | undefined {
  return current;
}

/**
 * Loads and activates a backend. `name` defaults to $LORA_LAB_BACKEND, else 'auto'.
 * By name: that backend or a BackendUnavailableError saying what to install (never a silent fallback).
 * 'auto': the fastest that loads, and one line saying which and why.
 */
export async function useBackend(
  name: string = process.env['LORA_LAB_BACKEND'] ?? 'auto',
  options: UseBackendOptions = {},
): Promise<BackendInfo> {
  const wanted = parseBackendName(name);
  quietCpuGreeting();
  const fast = options.fastMatMul ?? process.env['LORA_LAB_FAST_MATMUL'] !== '0';
  if (wanted !== 'auto') {
    const info = await load(wanted, `asked for by name`);
    if (typeof info === 'string') throw new BackendUnavailableError(info);
    current = withMatMul(info, fast);
    return current;
  }
  const passed: string[] = [];
  for (const candidate of BACKENDS) {
    const info = await load(candidate, '', options.allowSoftwareGpu ?? false, true);
    if (typeof info === 'string') {
      passed.push(`${candidate}: ${shortReason(info)}`);
      continue;
    }
    const reason = passed.length ? `auto; passed over ${passed.join('; ')}` : 'auto; the fastest available';
    current = withMatMul({ ...info, reason }, fast);
    const log = options.log === undefined ? console.log : options.log;
    log?.(`lora-lab backend: ${candidate} (${reason})`);
    return current;
  }
  throw new BackendUnavailableError('no TF.js backend could be loaded, not even cpu');
}

/** Installs (or removes) the fast matMul kernels on wasm/cpu and records which is in use. */
function withMatMul(info: BackendInfo, fast: boolean): BackendInfo {
  if (info.name !== 'wasm' && info.name !== 'cpu') return info;
  if (!fast) {
    uninstallFastMatMul(info.name);
    return { ...info, fastMatMul: false };
  }
  const installed = installFastMatMul(info.name);
  return installed ? { ...info, fastMatMul: true, threads: startGemmThreads().threads } : { ...info, fastMatMul: false };
}

/**
 * Lets the process exit after webgpu was used (a live GPU device keeps Node's event loop alive).
 * Safe to call for any backend.
 */
export function releaseBackend(): void {
  if (current?.name === 'webgpu') {
    tf.engine().reset();
    delete (globalThis as { navigator?: unknown }).navigator;
  }
  current = undefined;
}

/**
 * The cpu backend greets Node users on first use with a console.warn suggesting tfjs-node; `auto` already says
 * which backends were passed over and why, and in a notebook that warning is unexpected stderr.
 */
function quietCpuGreeting(): void {
  const cpu = tf.findBackend('cpu') as { firstUse?: boolean } | null;
  if (cpu !== null && 'firstUse' in cpu) cpu.firstUse = false;
}

function shortReason(message: string): string {
  return message.split(':')[0]!.replace(/^backend '[a-z-]+' /, '');
}

/**
 * Loads one backend. Returns a message (not an error) when it cannot, so `auto` can move on. With `probe`,
 * webgpu is first asked for in a child process (webgpu-probe.ts) and Dawn loads here only if it will be used.
 */
async function load(
  name: BackendName,
  reason: string,
  allowSoftwareGpu = true,
  probe = false,
): Promise<BackendInfo | string> {
  switch (name) {
    case 'node-gpu':
    case 'node': {
      const pkg = name === 'node-gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
      try {
        requireHere(pkg); // registers the 'tensorflow' backend on the shared tfjs-core
      } catch (e) {
        const why = (e as Error).message.split('\n')[0];
        const extra =
          name === 'node-gpu'
            ? ' (needs CUDA 11.2 + cuDNN 8.1; its install downloads libtensorflow, so it needs internet)'
            : ' (its install downloads libtensorflow, so it needs internet)';
        return `backend '${name}' not installed: run \`npm install ${pkg}@4.22.0\`${extra}; load error: ${why}`;
      }
      if (!(await tf.setBackend('tensorflow'))) return `backend '${name}' installed but failed to initialise`;
      return { name, tfName: 'tensorflow', reason };
    }
    case 'webgpu': {
      const g = globalThis as { navigator?: { gpu?: GPU } };
      if (probe && g.navigator?.gpu === undefined) {
        const p = await probeWebgpu();
        if (p.adapter === null) return `backend 'webgpu' found no GPU adapter: ${p.reason}`;
        if (p.software && !allowSoftwareGpu) return softwareMessage(p.adapter);
      }
      const gpuInfo = await loadWebgpu(allowSoftwareGpu);
      if (typeof gpuInfo === 'string') return gpuInfo;
      if (!(await tf.setBackend('webgpu'))) return `backend 'webgpu' failed to initialise on ${gpuInfo.adapter}`;
      patchWebgpuAddN(); // tf.addN of > 7 tensors is otherwise an invalid shader there (gradient norms)
      return { name, tfName: 'webgpu', reason, adapter: gpuInfo.adapter };
    }
    case 'wasm': {
      try {
        await import('@tensorflow/tfjs-backend-wasm');
      } catch (e) {
        return `backend 'wasm' not installed: run \`npm install @tensorflow/tfjs-backend-wasm@4.22.0\`: ${(e as Error).message}`;
      }
      if (!(await tf.setBackend('wasm'))) return `backend 'wasm' failed to initialise`;
      return { name, tfName: 'wasm', reason };
    }
    case 'cpu':
      await tf.setBackend('cpu');
      return { name, tfName: 'cpu', reason };
  }
}

function softwareMessage(adapter: string): string {
  return `backend 'webgpu' adapter is ${adapter}: a CPU rasteriser, slower than wasm for small models`;
}

/**
 * Makes `navigator.gpu` exist (Dawn) before the TF.js webgpu backend is imported: that backend registers itself
 * only if it sees navigator.gpu at import time. Returns the adapter's description or why it cannot.
 */
async function loadWebgpu(allowSoftware: boolean): Promise<{ adapter: string } | string> {
  const g = globalThis as { navigator?: { gpu?: GPU } };
  if (g.navigator?.gpu === undefined) {
    let webgpu: { create: (flags: string[]) => GPU; globals: object };
    try {
      webgpu = (await import('webgpu')) as unknown as typeof webgpu;
    } catch (e) {
      return `backend 'webgpu' not installed: run \`npm install webgpu\`: ${(e as Error).message}`;
    }
    Object.assign(globalThis, webgpu.globals);
    // Node 21+ defines a read-only navigator; keep its fields and add gpu.
    const gpu = webgpu.create([]);
    if (g.navigator === undefined) g.navigator = { gpu };
    else Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
  }
  const adapter = await g.navigator!.gpu!.requestAdapter();
  if (adapter === null) {
    return (
      "backend 'webgpu' found no GPU adapter: install a Vulkan driver " +
      '(Debian/Ubuntu without a GPU: libvulkan1 + mesa-vulkan-drivers, from bookworm-backports on Debian 12; ' +
      'see README "No Vulkan")'
    );
  }
  const info = (adapter as unknown as { info?: GPUAdapterInfo }).info;
  const desc = info ? [info.vendor, info.architecture, info.description].filter(Boolean).join(' ') : 'unknown adapter';
  if (isSoftwareAdapter(info?.architecture, desc) && !allowSoftware) return softwareMessage(desc);
  try {
    await import('@tensorflow/tfjs-backend-webgpu');
  } catch (e) {
    return `backend 'webgpu' not installed: run \`npm install @tensorflow/tfjs-backend-webgpu@4.22.0\`: ${(e as Error).message}`;
  }
  return { adapter: desc || 'unknown adapter' };
}
