// The φ heatmap of the LoRA paper's Figures 3–4: cells numbered from 1 as φ(i, j) is, labelled ticks at round
// indices, a fixed 0–1 colour scale, axis titles that say what i and j count; rendered to check the labels show.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { indexTicks, renderSvg, subspaceChart } from '../src/charts/index.js';

const grid = Array.from({ length: 8 }, (_, i) => Array.from({ length: 64 }, (_, j) => Math.min(1, (i + j) / 70)));

describe('subspaceChart', () => {
  it('labels 1 and round steps, at most 9 ticks', () => {
    assert.deepEqual(indexTicks(1), [1]);
    assert.deepEqual(indexTicks(5), [1, 2, 3, 4, 5]);
    assert.deepEqual(indexTicks(8), [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.deepEqual(indexTicks(32), [1, 4, 8, 12, 16, 20, 24, 28, 32]);
    assert.deepEqual(indexTicks(64), [1, 8, 16, 24, 32, 40, 48, 56, 64]);
    assert.throws(() => indexTicks(0), /positive integer count, got 0/);
  });

  it('puts φ(i, j) at i, j counted from 1, on a 0–1 scale, with ticks and titles', () => {
    const spec = subspaceChart(grid, { title: 't', iTitle: 'top-i directions of A (r = 8)', jTitle: 'top-j (r = 64)' });
    const values = (spec['data'] as { values: { i: number; j: number; v: number }[] }).values;
    assert.equal(values.length, 8 * 64);
    assert.deepEqual(values[0], { i: 1, j: 1, v: grid[0]![0] });
    assert.deepEqual(values[8 * 64 - 1], { i: 8, j: 64, v: grid[7]![63] });
    const enc = spec['encoding'] as Record<string, { title?: string; axis?: { values: number[] }; scale?: unknown }>;
    assert.equal(enc['y']!.title, 'top-i directions of A (r = 8)');
    assert.deepEqual(enc['x']!.axis!.values, indexTicks(64));
    assert.deepEqual(enc['y']!.axis!.values, indexTicks(8));
    assert.deepEqual(enc['color']!.scale, { scheme: 'viridis', domain: [0, 1] });
    assert.equal(spec['width'], 64 * 7);
    assert.equal(spec['height'], 160, 'a few rows still get a readable panel');
    assert.equal(subspaceChart(grid.slice(0, 4).map((r) => r.slice(0, 32)), { iTitle: 'i', jTitle: 'j' })['height'], 160);
    const square = Array.from({ length: 32 }, () => new Array<number>(32).fill(0.5));
    assert.equal(subspaceChart(square, { iTitle: 'i', jTitle: 'j' })['height'], 32 * 14);
  });

  it('renders its tick labels and titles', async () => {
    const svg = await renderSvg(subspaceChart(grid, { iTitle: 'top-i of A₈', jTitle: 'top-j of A₆₄' }));
    for (const label of ['>1<', '>8<', '>56<', '>64<', 'top-i of A₈', 'top-j of A₆₄']) assert.ok(svg.includes(label), label);
  });

  it('names a grid that is not rectangular', () => {
    assert.throws(() => subspaceChart([[0.1, 0.2], [0.3]], { iTitle: 'i', jTitle: 'j' }), /rectangular grid/);
    assert.throws(() => subspaceChart([], { iTitle: 'i', jTitle: 'j' }), /non-empty/);
  });
});
