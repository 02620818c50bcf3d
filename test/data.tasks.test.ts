// Task generators and batches: deterministic per seed, correct answers, disjoint splits, and a loss mask that
// covers exactly the answer tokens and <eos>. Also the animal features and their night camera.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CharTokenizer } from '../src/data/tokenizer.js';
import { TEXT_TASKS, makeExamples, exampleAt, splitOf, maxRecordTokens, textTask } from '../src/data/tasks.js';
import { batchAt, lmBatch } from '../src/data/batch.js';
import { animalData, nightCameraDirections, nightCameraMatrix, ANIMAL_FEATURES } from '../src/data/animals.js';
import { mixSeed, seededRandom } from '../src/data/rng.js';

test('generators are deterministic per seed and differ across seeds', () => {
  for (const task of Object.values(TEXT_TASKS)) {
    assert.deepEqual(makeExamples(task, 20, 5), makeExamples(task, 20, 5));
    assert.notDeepEqual(makeExamples(task, 20, 5), makeExamples(task, 20, 6));
    // example i does not depend on how many were drawn before it
    assert.deepEqual(exampleAt(task, 5, 13), makeExamples(task, 20, 5)[13]);
  }
  const r1 = seededRandom(mixSeed(1, 2));
  const r2 = seededRandom(mixSeed(1, 2));
  assert.deepEqual([r1.next(), r1.int(10), r1.normal()], [r2.next(), r2.int(10), r2.normal()]);
  assert.notEqual(mixSeed(1, 2), mixSeed(2, 1));
});

test('answers: copy, reverse and swap, and prompts within each task\'s ranges', () => {
  assert.equal(TEXT_TASKS.reverse.answer('abc de'), 'ed cba');
  assert.equal(TEXT_TASKS.swap.answer('abc de'), 'de abc');
  assert.equal(TEXT_TASKS.copy.answer('abc de'), 'abc de');
  assert.equal(TEXT_TASKS.shift.answer('abz ya'), 'bca zb');
  assert.equal(TEXT_TASKS.repeat.answer('abc de'), 'abc de abc de');
  for (const task of Object.values(TEXT_TASKS)) {
    for (const e of makeExamples(task, 200, 1)) {
      const words = e.prompt.split(' ');
      assert.ok(words.length >= task.words[0] && words.length <= task.words[1], e.prompt);
      for (const w of words) assert.match(w, new RegExp(`^[a-z]{${task.letters[0]},${task.letters[1]}}$`));
      assert.equal(e.answer, task.answer(e.prompt));
    }
  }
  for (const task of Object.values(TEXT_TASKS)) assert.ok(maxRecordTokens(task) <= 33, task.name); // inputs fit contextLength 32
  assert.throws(() => textTask('sort'), /unknown task 'sort'; tasks are: copy, shift, repeat, reverse, swap/);
});

test('train, val and test never share a prompt', () => {
  const train = new Set(makeExamples(TEXT_TASKS.reverse, 3000, 1, 'train').map((e) => e.prompt));
  const test_ = makeExamples(TEXT_TASKS.reverse, 300, 1, 'test');
  assert.ok(test_.every((e) => splitOf(e.prompt) === 'test'));
  assert.equal(test_.filter((e) => train.has(e.prompt)).length, 0);
});

test('SFT mask is 1 exactly on answer tokens and <eos>; lossOn "all" covers every real token', () => {
  const tok = new CharTokenizer();
  const b = lmBatch([{ prompt: 'ab c', answer: 'c ba' }, { prompt: 'x', answer: 'y' }], tok);
  // row 0 tokens: <bos> a b ␠ c = c ␠ b a <eos>  (11 tokens → 10 positions); row 1: <bos> x = y <eos> (4 positions)
  assert.equal(b.length, 10);
  const row = (a: ArrayLike<number>, r: number) => Array.from(a).slice(r * b.length, (r + 1) * b.length);
  assert.equal(tok.decode(row(b.targets, 0), { keepSpecials: true }), 'ab c=c ba<eos>');
  assert.deepEqual(row(b.mask, 0), [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
  // the masked targets spell the answer and <eos>
  const answerTargets = row(b.targets, 0).filter((_, t) => row(b.mask, 0)[t] === 1);
  assert.equal(tok.decode(answerTargets, { keepSpecials: true }), 'c ba<eos>');
  assert.deepEqual(row(b.mask, 1), [0, 0, 1, 1, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(row(b.inputs, 1).slice(4), [0, 0, 0, 0, 0, 0]); // right padding with <pad>
  const all = lmBatch([{ prompt: 'x', answer: 'y' }], tok, { lossOn: 'all' });
  assert.deepEqual(Array.from(all.mask), [1, 1, 1, 1]);
  assert.throws(() => lmBatch([{ prompt: 'abc', answer: 'cba' }], tok, { length: 3 }), /length 3 is shorter than the longest record \(8 positions\)/);
});

test('batchAt is a pure function of (seed, step)', () => {
  const tok = new CharTokenizer();
  const a = batchAt(TEXT_TASKS.swap, tok, 3, 7, 4);
  const b = batchAt(TEXT_TASKS.swap, tok, 3, 7, 4);
  assert.deepEqual(a, b);
  assert.notDeepEqual(batchAt(TEXT_TASKS.swap, tok, 3, 8, 4).inputs, a.inputs);
});

test('animal data: deterministic, balanced-ish, and night = R·day with R an involution of rank-2 change', () => {
  const d1 = animalData('day', 400, 1);
  assert.deepEqual(animalData('day', 400, 1), d1);
  const counts = [0, 0, 0, 0];
  for (const y of d1.y) counts[y]!++;
  assert.ok(counts.every((c) => c > 60), `class counts ${counts}`);
  const R = nightCameraMatrix();
  // R·R = I (a reflection) and R − I has exactly two eigenvalues −2 (trace(R − I) = −4)
  for (let i = 0; i < ANIMAL_FEATURES; i++) {
    for (let j = 0; j < ANIMAL_FEATURES; j++) {
      const rr = R[i]!.reduce((s, v, k) => s + v * R[k]![j]!, 0);
      assert.ok(Math.abs(rr - (i === j ? 1 : 0)) < 1e-9);
    }
  }
  const trace = R.reduce((s, row, i) => s + row[i]!, 0);
  assert.ok(Math.abs(trace - (ANIMAL_FEATURES - 4)) < 1e-9);
  assert.throws(() => animalData('dusk' as 'day', 3, 1), /domain must be 'day' or 'night', got 'dusk'/);
});

test('the night camera flips exactly its two directions: R = I − 2·u1·u1ᵀ − 2·u2·u2ᵀ, u1 ⟂ u2 unit vectors', () => {
  const u = nightCameraDirections();
  assert.equal(u.length, 2);
  const dot = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * b[i]!, 0);
  assert.ok(Math.abs(dot(u[0]!, u[0]!) - 1) < 1e-12 && Math.abs(dot(u[1]!, u[1]!) - 1) < 1e-12);
  assert.ok(Math.abs(dot(u[0]!, u[1]!)) < 1e-12);
  const R = nightCameraMatrix();
  for (let i = 0; i < ANIMAL_FEATURES; i++) {
    for (let j = 0; j < ANIMAL_FEATURES; j++) {
      const expected = (i === j ? 1 : 0) - 2 * u[0]![i]! * u[0]![j]! - 2 * u[1]![i]! * u[1]![j]!;
      assert.ok(Math.abs(R[i]![j]! - expected) < 1e-12, `R[${i}][${j}]`);
    }
  }
  u[0]![0] = 99; // a copy: the world stays as it was
  assert.notEqual(nightCameraDirections()[0]![0], 99);
});
