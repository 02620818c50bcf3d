// The process the kill test SIGKILLs: from a line on stdin on, saves one kind of folder (save-fixtures.ts) with
// numbers start, start+1, ..., printing `step <name>` after each save step and `saved <v>` after each save.
// usage: save-child <adapter|checkpoint|resumable> <dir> <start> (run bundled by esbuild, or through tsx)
import { mkdtempSync, rmSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setSaveStepHook } from '../../src/io/files.js';
import { makeFixture, SAVE_KINDS, type SaveKind } from './save-fixtures.js';

const [kind, dir, start] = process.argv.slice(2);
if (!SAVE_KINDS.includes(kind as SaveKind) || dir === undefined || !(Number(start) >= 0)) {
  throw new Error(`usage: save-child.ts <${SAVE_KINDS.join('|')}> <dir> <start>, got ${process.argv.slice(2).join(' ')}`);
}
await tf.setBackend('cpu');
const fixture = makeFixture(kind as SaveKind);
// One save elsewhere first, so that the timed saves run warm (a kill then lands inside them, not in start-up).
const scratch = mkdtempSync(path.join(os.tmpdir(), 'lora-lab-warm-'));
await fixture.save(path.join(scratch, 'out'), 0);
rmSync(scratch, { recursive: true });
// Synchronous writes: what the parent reads is exactly what happened before the kill.
setSaveStepHook((step) => {
  writeSync(1, `step ${step}\n`);
});
writeSync(1, 'ready\n');
// Start saving only on `go` from the parent, so it can start this process early while another one runs.
await new Promise<void>((resolve) => process.stdin.once('data', () => resolve()));
for (let v = Number(start); ; v++) {
  await fixture.save(dir, v);
  writeSync(1, `saved ${v}\n`);
}
