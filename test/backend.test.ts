// The backend module: named backends load or fail with an install hint (webgpu: test/webgpu.test.ts).
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { BACKENDS, parseBackendName, releaseBackend, useBackend } from '../src/backend/index.js';

describe('backend choice', () => {
  after(() => releaseBackend());

  it('an unknown backend name lists the valid ones', async () => {
    await assert.rejects(useBackend('tpu'), {
      message: "unknown backend 'tpu'; valid backends: auto, node-gpu, node, webgpu, wasm, cpu",
    });
    assert.equal(parseBackendName(' WASM '), 'wasm');
  });

  it("asking for 'node' where tfjs-node is absent is a one-line error naming the fix", async (t) => {
    let installed = true;
    try {
      await import('@tensorflow/tfjs-node' as string);
    } catch {
      installed = false;
    }
    if (installed) return t.skip('@tensorflow/tfjs-node is installed on this machine');
    await assert.rejects(useBackend('node'), (e: Error) => {
      assert.equal(e.name, 'BackendUnavailableError');
      assert.ok(!e.message.includes('\n'), 'one line');
      assert.match(e.message, /npm install @tensorflow\/tfjs-node@4\.22\.0/);
      return true;
    });
  });

  it('cpu and wasm load by name and compute the same matMul', async () => {
    const a = [[1, 2, 3], [4, 5, 6]];
    const b = [[1, 0], [0, 1], [2, -1]];
    const results: number[][][] = [];
    for (const name of ['cpu', 'wasm']) {
      const info = await useBackend(name);
      assert.equal(info.name, name);
      assert.equal(tf.getBackend(), name);
      results.push((await tf.matMul(tf.tensor2d(a), tf.tensor2d(b)).array()) as number[][]);
    }
    assert.deepEqual(results[0], [[7, -1], [16, -1]]);
    assert.deepEqual(results[1], results[0]);
  });

  it('auto picks a backend, says why in one line, and never a software GPU unless allowed', async () => {
    const lines: string[] = [];
    const info = await useBackend('auto', { log: (l) => lines.push(l) });
    assert.ok((BACKENDS as readonly string[]).includes(info.name));
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, new RegExp(`^lora-lab backend: ${info.name} \\(auto; `));
    if (info.name === 'webgpu') assert.ok(!/software|llvmpipe/.test(info.adapter ?? ''), info.adapter);
  });
});
