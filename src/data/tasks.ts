// The text tasks the GPT learns: strings of made-up lowercase words in, a transformed string out.
// Pretraining teaches `copy` ("abc de" → "abc de"); fine-tuning teaches a related skill the base lacks:
// `shift` each letter one on ("abc de" → "bcd ef"), `repeat` twice ("abc de" → "abc de abc de"), `reverse`
// ("ed cba") or `swap` the words ("de abc"). A record reads `<prompt>=<answer>`; example i of a split is a
// pure function of (task, seed, i).
import { mixSeed, seededRandom, type Random } from './rng.js';

/** Between prompt and answer in every record. */
export const SEPARATOR = '=';

export type TextTaskName = 'copy' | 'shift' | 'repeat' | 'reverse' | 'swap';
export type Split = 'train' | 'val' | 'test';

const LETTERS = 'abcdefghijklmnopqrstuvwxyz';

export interface Example {
  prompt: string;
  answer: string;
}

export interface TextTask {
  readonly name: TextTaskName;
  /** One line for reports and help texts. */
  readonly description: string;
  /** Words per prompt, inclusive range. */
  readonly words: readonly [number, number];
  /** Letters per word, inclusive range. */
  readonly letters: readonly [number, number];
  /** The correct answer for a prompt. */
  answer(prompt: string): string;
}

export const TEXT_TASKS: Readonly<Record<TextTaskName, TextTask>> = {
  copy: {
    name: 'copy',
    description: 'repeat the words (the pretraining task)',
    words: [1, 3],
    letters: [1, 4],
    answer: (p) => p,
  },
  shift: {
    name: 'shift',
    description: 'replace each letter by the next one (z wraps to a)',
    words: [2, 2],
    letters: [2, 4],
    answer: (p) => [...p].map((c) => (c === ' ' ? c : LETTERS[(LETTERS.indexOf(c) + 1) % LETTERS.length])).join(''),
  },
  repeat: {
    name: 'repeat',
    description: 'say it twice',
    words: [2, 2],
    letters: [2, 4],
    answer: (p) => `${p} ${p}`,
  },
  reverse: {
    name: 'reverse',
    description: 'write the whole string backwards',
    words: [2, 2],
    letters: [2, 4],
    answer: (p) => [...p].reverse().join(''),
  },
  swap: {
    name: 'swap',
    description: 'swap the two words',
    words: [2, 2],
    letters: [2, 4],
    answer: (p) => p.split(' ').reverse().join(' '),
  },
};

/** The task by name, or an error listing the names. */
export function textTask(name: string): TextTask {
  const t = (TEXT_TASKS as Record<string, TextTask>)[name];
  if (t === undefined) throw new Error(`unknown task '${name}'; tasks are: ${Object.keys(TEXT_TASKS).join(', ')}`);
  return t;
}

/** Longest prompt a task can produce (characters). */
export function maxPromptLength(task: TextTask): number {
  return task.words[1] * task.letters[1] + task.words[1] - 1;
}

/** Tokens in the longest record: <bos> prompt = answer <eos>. */
export function maxRecordTokens(task: TextTask): number {
  const longest = Array.from({ length: task.words[1] }, () => 'a'.repeat(task.letters[1])).join(' ');
  return longest.length + [...task.answer(longest)].length + 3;
}

/** FNV-1a hash of a prompt: decides its split, so train, val and test never share a prompt. */
function promptHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** Which split a prompt belongs to: 80 % train, 10 % val, 10 % test, by hash (the same for every task). */
export function splitOf(prompt: string): Split {
  const b = promptHash(prompt) % 10;
  return b < 8 ? 'train' : b === 8 ? 'val' : 'test';
}

function randomPrompt(task: TextTask, rng: Random): string {
  const n = rng.range(task.words[0], task.words[1]);
  const words: string[] = [];
  for (let w = 0; w < n; w++) {
    const len = rng.range(task.letters[0], task.letters[1]);
    let word = '';
    for (let c = 0; c < len; c++) word += LETTERS[rng.int(LETTERS.length)];
    words.push(word);
  }
  return words.join(' ');
}

const SPLIT_ID: Record<Split, number> = { train: 1, val: 2, test: 3 };

/** Example `index` of a split: deterministic in (task, seed, split, index), drawn until it lands in `split`. */
export function exampleAt(task: TextTask, seed: number, index: number, split: Split = 'train'): Example {
  const rng = seededRandom(mixSeed(seed, SPLIT_ID[split], index));
  for (;;) {
    const prompt = randomPrompt(task, rng);
    if (splitOf(prompt) === split) return { prompt, answer: task.answer(prompt) };
  }
}

/** `n` examples of a split, indices `start`..`start + n − 1`. */
export function makeExamples(task: TextTask, n: number, seed: number, split: Split = 'train', start = 0): Example[] {
  if (!Number.isInteger(n) || n < 0) throw new Error(`n must be a non-negative integer, got ${n}`);
  return Array.from({ length: n }, (_, i) => exampleAt(task, seed, start + i, split));
}

/** The record as text: `<prompt>=<answer>`. */
export function recordText(e: Example): string {
  return `${e.prompt}${SEPARATOR}${e.answer}`;
}
