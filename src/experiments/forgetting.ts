// Forgetting, as Biderman et al. 2024 ("LoRA Learns Less and Forgets Less", arXiv 2405.09673, §3.3, §4.3) measure
// it: how much of what the base could do survives fine-tuning, scored on inputs OUTSIDE the target's domain. A
// prompt the target task also shows would ask for the target's answer, so keeping the base's answer there would be
// failing to learn, not remembering: the probe holds only prompts the target can never produce.
import { exampleAt, type Example, type Split, type TextTask } from '../data/tasks.js';

/**
 * `n` examples of the base's task whose prompts have a number of words the target task never uses (e.g. `copy`
 * prompts of 1 or 3 words when the target always has 2), from `split` (default 'val') in index order.
 */
export function forgettingProbe(
  base: TextTask,
  target: TextTask,
  n: number,
  seed = 1,
  split: Split = 'val',
): Example[] {
  if (!Number.isInteger(n) || n < 1) throw new Error(`n must be a positive integer, got ${n}`);
  const [lo, hi] = target.words;
  const outside = (words: number) => words < lo || words > hi;
  let possible = false;
  for (let w = base.words[0]; w <= base.words[1]; w++) possible ||= outside(w);
  if (!possible) {
    throw new Error(
      `every '${base.name}' prompt has ${base.words[0]}–${base.words[1]} words, inside '${target.name}'s ` +
        `${lo}–${hi}: ` +
        'no prompt lies outside the target, so this probe cannot separate forgetting from learning',
    );
  }
  const out: Example[] = [];
  for (let i = 0; out.length < n; i++) {
    const e = exampleAt(base, seed, i, split);
    if (outside(e.prompt.split(' ').length)) out.push(e);
  }
  return out;
}

/** A point of a learning–forgetting picture: how well the target was learned and how much of the base was kept. */
export interface TradeOffPoint {
  learned: number;
  kept: number;
}

/**
 * The points no other point beats on both axes (higher is better on both): the learning–forgetting frontier, in
 * ascending order of `learned`.
 */
export function paretoFrontier<P extends TradeOffPoint>(points: readonly P[]): P[] {
  const sorted = [...points].sort((a, b) => b.learned - a.learned || b.kept - a.kept);
  const front: P[] = [];
  let bestKept = -Infinity;
  for (const p of sorted) {
    if (p.kept > bestKept) {
      front.push(p);
      bestKept = p.kept;
    }
  }
  return front.reverse();
}
