// smallMultiples: a spread chart repeated per variant renders, one panel per value in the given order, the y
// scale shared; a chart without inline data or without the field is refused.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { renderSvg, smallMultiples, spreadChart } from '../src/charts/index.js';

describe('smallMultiples', () => {
  const rows = ['LoRA', 'DoRA', 'PiSSA'].flatMap((variant, v) =>
    [0, 1, 2].flatMap((seed) => [0, 50, 100].map((step) => ({ variant, seed, step, loss: 3 - step / 50 + v + seed / 10 }))));

  it('draws one panel per value, in order, on one y scale, and renders', async () => {
    const inner = spreadChart(rows, { x: 'step', y: 'loss', title: 'ignored', width: 150, height: 120 });
    const spec = smallMultiples(inner, { field: 'variant', columns: 2, order: ['PiSSA', 'LoRA', 'DoRA'], title: 'curves' });
    assert.deepEqual(spec['facet'], { field: 'variant', type: 'nominal', title: null, sort: ['PiSSA', 'LoRA', 'DoRA'] });
    assert.equal(spec['columns'], 2);
    assert.deepEqual(spec['resolve'], { scale: { y: 'shared' } });
    const view = spec['spec'] as Record<string, unknown>;
    assert.equal(view['width'], 150);
    assert.equal((view['layer'] as unknown[]).length, 3); // band, mean, seeds
    assert.equal(view['data'], undefined); // the data sits on the facet
    const svg = await renderSvg(spec);
    for (const name of ['PiSSA', 'LoRA', 'DoRA', 'curves']) assert.ok(svg.includes(`>${name}<`), `panel title ${name}`);
    assert.equal(smallMultiples(inner, { field: 'variant' })['facet'] && (smallMultiples(inner, { field: 'variant' })['facet'] as { sort: string[] }).sort.join(), 'LoRA,DoRA,PiSSA');
  });

  it('refuses a chart without inline data or rows without the field', () => {
    assert.throws(() => smallMultiples({ mark: 'point' }, { field: 'variant' }), /needs a chart with inline data/);
    assert.throws(() => smallMultiples(spreadChart(rows, { x: 'step', y: 'loss' }), { field: 'nope' }), /no row has the field 'nope'/);
  });
});
