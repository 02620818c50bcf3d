// Builds the tiny Hugging Face fixtures (test/fixtures/hf/make-hf-fixtures.ts) once per test process in a
// temporary folder (models and their PEFT adapters), and reads the golden logits that scripts/hf_reference.py computed
// from the same bytes.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import type { HfCausalLm } from '../../src/models/hf/loader.js';
import { writeHfFixtures } from '../fixtures/hf/make-hf-fixtures.js';

export interface GoldenFixture {
  sha256: Record<string, string>;
  inputs: number[][];
  logits: number[][][];
  /** The fixture's PEFT adapter (folder `<root>/<dir>`), the modules it holds and the adapted logits. */
  adapter: { dir: string; sha256: Record<string, string>; modules: string[]; logits: number[][][] };
}

const here = path.dirname(fileURLToPath(import.meta.url));

export function goldenLogits(): Record<string, GoldenFixture> {
  const g = JSON.parse(readFileSync(path.join(here, '..', 'fixtures', 'hf', 'golden-logits.json'), 'utf8'));
  return g.fixtures;
}

/** A fresh folder with every fixture; call the returned cleanup when done. */
export function buildHfFixtures(): { root: string; cleanup: () => void } {
  const root = mkdtempSync(path.join(os.tmpdir(), 'hf-fixtures-'));
  writeHfFixtures(root);
  return { root, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

/** The largest |a − b| over two [batch, seq, vocab] logit arrays. */
export function maxAbsDiff(a: number[][][], b: number[][][]): number {
  let m = 0;
  a.forEach((s, i) => s.forEach((r, j) => r.forEach((v, k) => (m = Math.max(m, Math.abs(v - b[i]![j]![k]!))))));
  return m;
}

/** A model's logits [batch, seq, vocab] for token ids [batch, seq], as arrays; no tensors kept. */
export async function logitsOf(model: HfCausalLm, ids: number[][]): Promise<number[][][]> {
  const x = tf.tensor2d(ids, undefined, 'int32');
  const y = model.logits(x);
  const out = (await y.array()) as number[][][];
  tf.dispose([x, y]);
  return out;
}
