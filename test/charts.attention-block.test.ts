// The attention-block picture: every LoRA-targetable matrix drawn and explained, the targets coloured as LoRA and
// the rest as frozen, shapes in PyTorch's [d_out × d_in], and targets outside the block refused.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { attentionBlockDiagram, BLOCK_PROJECTIONS, renderSvg, type Row, type VegaLiteSpec } from '../src/charts/index.js';

type Layer = { data: { values: Row[] }; mark: { type: string } };
const layers = (spec: VegaLiteSpec) => spec['layer'] as Layer[];
const boxes = (spec: VegaLiteSpec) => layers(spec).find((l) => l.mark.type === 'rect')!.data.values;
const texts = (spec: VegaLiteSpec) =>
  layers(spec).filter((l) => l.mark.type === 'text').flatMap((l) => l.data.values.map((v) => String(v['text'])));

describe('attentionBlockDiagram', () => {
  it('draws q, k, v, o, up and down, the targets as LoRA and the others as frozen W₀', () => {
    const spec = attentionBlockDiagram({ targets: ['q_proj', 'v_proj'] });
    const kindOf = (name: string) => boxes(spec).find((b) => String(b['label']).startsWith(name))!['kind'];
    for (const { name } of BLOCK_PROJECTIONS) {
      const lora = name === 'q_proj' || name === 'v_proj';
      assert.equal(kindOf(name), lora ? 'LoRA: W₀ frozen + B·A trained' : 'frozen weight W₀', name);
    }
    assert.equal(kindOf('softmax'), 'no weight matrix', 'attention itself has no weight to adapt');
    assert.equal(kindOf('input_layernorm'), 'no weight matrix');
  });

  it('says what each matrix does, and where FFN LoRA goes', () => {
    const t = texts(attentionBlockDiagram());
    for (const { name, role } of BLOCK_PROJECTIONS) assert.ok(t.includes(`${name} – ${role}`), `${name}: ${t.join(' | ')}`);
    assert.ok(t.some((s) => /FFN LoRA/.test(s)));
  });

  it('with sizes, each matrix carries its shape [d_out × d_in]: up_proj d_ff × d, down_proj d × d_ff', () => {
    const spec = attentionBlockDiagram({ dModel: 64, dFf: 200, nHeads: 4, targets: ['layers.0.mlp.up_proj'] });
    const label = (name: string) => String(boxes(spec).find((b) => String(b['label']).startsWith(name))!['label']);
    assert.equal(label('q_proj'), 'q_proj\n64 × 64');
    assert.equal(label('up_proj'), 'up_proj\n200 × 64');
    assert.equal(label('down_proj'), 'down_proj\n64 × 200');
    assert.ok(label('softmax').endsWith('4 heads, d_h = 16'));
    assert.equal(boxes(spec).find((b) => String(b['label']).startsWith('up_proj'))!['kind'], 'LoRA: W₀ frozen + B·A trained');
  });

  it('renders, with its names in the SVG and one legend', async () => {
    const svg = await renderSvg(attentionBlockDiagram({ dModel: 128, nHeads: 4, title: 'block' }));
    for (const s of ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'up_proj', 'down_proj', 'frozen weight W₀']) assert.match(svg, new RegExp(s));
    assert.equal([...svg.matchAll(/role-legend"/g)].length, 1);
  });

  it('refuses a target that is not a matrix of the block, listing the ones that are', () => {
    assert.throws(
      () => attentionBlockDiagram({ targets: ['q_proj', 'lm_head'] }),
      /target 'lm_head' is not a matrix of the block; use some of q_proj, k_proj, v_proj, o_proj, up_proj, down_proj/,
    );
  });
});
