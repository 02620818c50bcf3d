// The backends a benchmark compares: every TF.js backend lora-lab can load, plus wasm and cpu each twice —
// with lora-lab's WebAssembly SIMD matMul (src/backend/fast-matmul.ts, the default) and with TF.js's own kernels
// ("-stock"), so the table shows what the kernel buys side by side.
import { useBackend, type BackendInfo, type BackendName } from '../../src/backend/index.js';

export interface Variant {
  /** Column name in the tables and key in the JSON. */
  readonly id: string;
  readonly backend: BackendName;
  /** lora-lab's GEMM for matMul (wasm and cpu only). */
  readonly fastMatMul: boolean;
  /** Whether a training step on it is fast enough to time in the default run (else only with --all). */
  readonly trainsByDefault: boolean;
}

export const VARIANTS: readonly Variant[] = [
  { id: 'node-gpu', backend: 'node-gpu', fastMatMul: false, trainsByDefault: true },
  { id: 'node', backend: 'node', fastMatMul: false, trainsByDefault: true },
  { id: 'webgpu', backend: 'webgpu', fastMatMul: false, trainsByDefault: true },
  { id: 'wasm', backend: 'wasm', fastMatMul: true, trainsByDefault: true },
  { id: 'wasm-stock', backend: 'wasm', fastMatMul: false, trainsByDefault: true },
  { id: 'cpu', backend: 'cpu', fastMatMul: true, trainsByDefault: true },
  // ~40 s per step of the bench model on 2 cores: three kinds × several rounds would take the whole budget.
  { id: 'cpu-stock', backend: 'cpu', fastMatMul: false, trainsByDefault: false },
];

/** Parses "--backends wasm,webgpu" (ids from VARIANTS; 'all' = every one). */
export function parseVariants(list: string | undefined): Variant[] {
  if (list === undefined || list === 'all') return [...VARIANTS];
  const ids = list.split(',').map((s) => s.trim()).filter(Boolean);
  return ids.map((id) => {
    const v = VARIANTS.find((x) => x.id === id);
    if (v === undefined) throw new Error(`unknown backend '${id}'; valid: ${VARIANTS.map((x) => x.id).join(', ')}, all`);
    return v;
  });
}

/** Activates a variant; resolves to its BackendInfo, or to the reason it cannot load here. */
export async function activate(v: Variant): Promise<BackendInfo | string> {
  try {
    return await useBackend(v.backend, { log: null, fastMatMul: v.fastMatMul });
  } catch (e) {
    return (e as Error).message.split('\n')[0]!;
  }
}
