// Child process of bench/hf.ts: loads a Hugging Face folder with loadPretrained on one backend and prints, as one
// JSON line, how much the process's resident memory peaked above where it stood just before loading (Linux
// VmHWM after resetting it through /proc/self/clear_refs), beside the float32 size of the weights.
// Run: npx tsx bench/lib/hf-load-peak.ts DIR BACKEND
import { readFileSync, writeFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { useBackend, releaseBackend, parseBackendName } from '../../src/backend/index.js';
import { loadPretrained } from '../../src/models/hf/loader.js';

function statusKiB(field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
  if (m === null) throw new Error(`/proc/self/status has no ${field}: this measurement needs Linux`);
  return Number(m[1]) * 1024;
}

const [dir, backend] = process.argv.slice(2);
if (dir === undefined || backend === undefined) throw new Error('usage: hf-load-peak.ts DIR BACKEND');
const name = parseBackendName(backend);
await useBackend(name, { log: null });
// Warm the backend (wasm allocates its heap lazily) so the baseline includes it.
tf.tidy(() => tf.ones([1024, 1024]).sum());
(globalThis as { gc?: () => void }).gc?.();
const rssBefore = statusKiB('VmRSS');
writeFileSync('/proc/self/clear_refs', '5'); // reset the high-water mark to the current RSS
const t0 = performance.now();
const { model } = await loadPretrained(dir);
const loadMs = performance.now() - t0;
const peak = statusKiB('VmHWM');
const weightBytes = [...model.layers.values()].flatMap((l) => l.weights).reduce((n, w) => n + 4 * w.shape.reduce((a, b) => a! * b!, 1)!, 0);
console.log(JSON.stringify({ backend: name, loadMs, rssBefore, peakRss: peak, peakAboveBefore: peak - rssBefore, weightBytes }));
model.dispose();
releaseBackend();
process.exit(0);
