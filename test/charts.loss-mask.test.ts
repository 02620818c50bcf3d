// The loss-mask picture: every cell shows the token predicted at that position and is coloured by whether the SFT
// loss counts it; rows come from a real batch (maskedTargets), and the SVG carries the characters.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { lossMaskChart, renderSvg } from '../src/charts/index.js';
import { cellText, lossMaskCells, LOSS_MASK_KINDS } from '../src/charts/loss-mask.js';
import { lmBatch, maskedTargets } from '../src/data/batch.js';
import { CharTokenizer } from '../src/data/tokenizer.js';

const tok = new CharTokenizer();
const examples = [
  { prompt: 'ab c', answer: 'bc d' },
  { prompt: 'z', answer: 'a' },
];

describe('maskedTargets', () => {
  it('gives each record its targets as text beside the batch mask: answer + <eos> counted, prompt and padding not', () => {
    const batch = lmBatch(examples, tok);
    const rows = maskedTargets(batch, tok);
    assert.equal(rows.length, 2);
    // <bos>ab c=bc d<eos>: targets are the record shifted by one
    assert.deepEqual(rows[0]!.tokens, ['a', 'b', ' ', 'c', '=', 'b', 'c', ' ', 'd', '<eos>']);
    assert.deepEqual(rows[0]!.mask, [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
    assert.deepEqual(rows[1]!.tokens, ['z', '=', 'a', '<eos>', ...Array(6).fill('<pad>')]);
    assert.deepEqual(rows[1]!.mask, [0, 0, 1, 1, 0, 0, 0, 0, 0, 0]);
  });
});

describe('lossMaskChart', () => {
  it('one cell per position, its text the token (␣ for a space, eos for <eos>, blank padding), its kind from the mask', () => {
    const rows = maskedTargets(lmBatch(examples, tok), tok);
    const cells = lossMaskCells(rows);
    assert.equal(cells.length, 2 * 10);
    const at = (record: number, position: number) => cells.find((c) => c['record'] === record && c['position'] === position)!;
    assert.deepEqual(at(0, 2), { record: 0, position: 2, text: '␣', kind: 'not counted (prompt)' });
    assert.deepEqual(at(0, 9), { record: 0, position: 9, text: 'eos', kind: 'counted in the loss' });
    assert.deepEqual(at(1, 2), { record: 1, position: 2, text: 'a', kind: 'counted in the loss' });
    assert.deepEqual(at(1, 7), { record: 1, position: 7, text: '', kind: 'padding' });
    const counted = cells.filter((c) => c['kind'] === 'counted in the loss').length;
    assert.equal(counted, rows.flatMap((r) => r.mask).filter((m) => m === 1).length);
    assert.equal(cellText('<bos>'), 'bos');
  });

  it('colours the kinds in a fixed legend order and renders the characters', async () => {
    const spec = lossMaskChart(maskedTargets(lmBatch(examples, tok), tok), { title: 'mask' });
    const rect = (spec['layer'] as { encoding: { color?: { scale: { domain: string[]; range: string[] } } } }[])[0]!;
    assert.deepEqual(rect.encoding.color!.scale.domain, LOSS_MASK_KINDS.map((k) => k.kind));
    assert.equal(new Set(rect.encoding.color!.scale.range).size, 3, 'three distinct colours');
    const svg = await renderSvg(spec);
    const texts = [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
    for (const t of ['␣', 'eos', 'z', '=', 'counted in the loss', 'not counted (prompt)', 'padding']) {
      assert.ok(texts.includes(t), `'${t}' is drawn (texts: ${texts.join(' ')})`);
    }
  });

  it('refuses rows whose tokens and mask disagree, a mask that is not 0/1, and counted padding', () => {
    assert.throws(() => lossMaskChart([]), /at least one record/);
    assert.throws(() => lossMaskChart([{ tokens: ['a', 'b'], mask: [1] }]), /record 0 has 2 tokens but 1 mask values/);
    assert.throws(() => lossMaskChart([{ tokens: ['a'], mask: [0.5] }]), /mask of record 0 at position 0 is 0\.5; use 0 or 1/);
    assert.throws(() => lossMaskChart([{ tokens: ['<pad>'], mask: [1] }]), /record 0 counts padding at position 0/);
  });
});
