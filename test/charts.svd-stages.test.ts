// The SVD in stages (x → Vᵀx → ΣVᵀx → UΣVᵀx): each panel holds the right points (the last is M applied to the
// circle), arrows at vᵢ, eᵢ, σᵢeᵢ, σᵢuᵢ, rotate/reflect read from the determinants, and in the rendered chart
// each direction's labels share one colour in every panel.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as vega from 'vega';
import { compile } from 'vega-lite';
import { Matrix } from 'ml-matrix';
import { svd } from '../src/linalg/index.js';
import { renderSvg, svdStages, svdStagesChart, SVD_STAGE_COLORS } from '../src/charts/index.js';

const M = new Matrix([
  [2, 1],
  [0.5, 1.5],
]);
const f = svd(M);

describe('svdStages', () => {
  const stages = svdStages(f, 40);

  it('four stages: the circle, Vᵀ of it, Σ·Vᵀ of it (an axis-aligned ellipse), and M of it', () => {
    assert.deepEqual(stages.map((s) => s.name), ['x', 'Vᵀx', 'ΣVᵀx', 'UΣVᵀx']);
    const [s1, s2] = f.sigma;
    for (const [i, [x, y]] of stages[0]!.circle.entries()) {
      assert.ok(Math.abs(Math.hypot(x, y) - 1) < 1e-12, 'input on the unit circle');
      const [rx, ry] = stages[1]!.circle[i]!;
      assert.ok(Math.abs(Math.hypot(rx, ry) - 1) < 1e-12, 'Vᵀ keeps lengths');
      const [ex, ey] = stages[2]!.circle[i]!;
      assert.ok(Math.abs((ex / s1!) ** 2 + (ey / s2!) ** 2 - 1) < 1e-12, 'Σ stretches along the axes');
      const [mx, my] = stages[3]!.circle[i]!;
      const Mx = M.mmul(Matrix.columnVector([x, y]));
      assert.ok(Math.abs(mx - Mx.get(0, 0)) < 1e-12 && Math.abs(my - Mx.get(1, 0)) < 1e-12, 'the last stage is M·x');
    }
  });

  it('arrows: vᵢ, then eᵢ, then σᵢeᵢ, then σᵢuᵢ; the marked arc starts at v₁', () => {
    const at = (s: number, d: number) => stages[s]!.arrows[d]!;
    assert.deepEqual(stages.map((s) => s.arrows.map((a) => a.label)), [
      ['v₁', 'v₂'],
      ['e₁', 'e₂'],
      ['σ₁e₁', 'σ₂e₂'],
      ['σ₁u₁', 'σ₂u₂'],
    ]);
    for (const d of [0, 1]) {
      assert.ok(Math.abs(at(0, d).x - f.V.get(0, d)) < 1e-15 && Math.abs(at(0, d).y - f.V.get(1, d)) < 1e-15);
      assert.ok(Math.abs(at(3, d).x - f.sigma[d]! * f.U.get(0, d)) < 1e-15);
      assert.ok(Math.abs(at(3, d).y - f.sigma[d]! * f.U.get(1, d)) < 1e-15);
      // where the stages take vᵢ is where the arrows are drawn
      const [sx, sy] = [at(2, d).x, at(2, d).y];
      assert.ok(Math.abs(sx - (d === 0 ? f.sigma[0]! : 0)) < 1e-15 && Math.abs(sy - (d === 1 ? f.sigma[1]! : 0)) < 1e-15);
    }
    assert.deepEqual(stages[0]!.circle[0], [f.V.get(0, 0), f.V.get(1, 0)]);
    assert.equal(stages[0]!.quarter, 10);
  });

  it('says rotate or reflect from the sign of det V and det U', () => {
    assert.deepEqual(stages.map((s) => s.title), ['x: the unit circle', 'Vᵀx: rotate', 'ΣVᵀx: stretch by σ₁, σ₂', 'UΣVᵀx = Mx: rotate']);
    // det M < 0: one of U, V must reflect
    const g = svd(new Matrix([[1, 2], [3, 4]]));
    const titles = svdStages(g).map((s) => s.title);
    assert.equal(titles.filter((t) => t.endsWith('reflect')).length, 1, titles.join(' | '));
  });

  it('names bad input', () => {
    assert.throws(() => svdStages({ U: [[1, 0, 0], [0, 1, 0]], sigma: [1, 1], V: [[1, 0], [0, 1]] }), /U must be 2×2/);
    assert.throws(() => svdStages({ U: [[1, 0], [0, 1]], sigma: [1, 2], V: [[1, 0], [0, 1]] }), /σ₁ ≥ σ₂ ≥ 0, got \[1,2\]/);
    assert.throws(() => svdStages(f, 30), /multiple of 4/);
  });
});

describe('svdStagesChart', () => {
  it('renders four panels whose labels keep one colour per direction', async () => {
    const spec = svdStagesChart(f, { title: 'stages' });
    assert.equal((spec['hconcat'] as unknown[]).length, 4);
    const svg = await renderSvg(spec);
    for (const t of ['Vᵀx: rotate', 'ΣVᵀx: stretch by σ₁, σ₂', 'direction 1: v₁ → σ₁u₁']) assert.ok(svg.includes(t), t);
    const view = new vega.View(vega.parse(compile(JSON.parse(JSON.stringify(spec))).spec), { renderer: 'none' });
    await view.runAsync();
    const fill = new Map<string, string>();
    const walk = (node: { marktype?: string; role?: string; items?: unknown[]; text?: unknown; fill?: string }): void => {
      if (node.marktype === 'text' && node.role === 'mark') {
        for (const item of (node.items ?? []) as { text?: unknown; fill?: string }[]) fill.set(String(item.text), String(item.fill));
      }
      for (const child of (node.items ?? []) as object[]) walk(child as typeof node);
    };
    walk((view.scenegraph() as unknown as { root: Parameters<typeof walk>[0] }).root);
    view.finalize();
    for (const label of ['v₁', 'e₁', 'σ₁e₁', 'σ₁u₁']) assert.equal(fill.get(label), SVD_STAGE_COLORS.direction1, label);
    for (const label of ['v₂', 'e₂', 'σ₂e₂', 'σ₂u₂']) assert.equal(fill.get(label), SVD_STAGE_COLORS.direction2, label);
  });

  it('a singular matrix (σ₂ = 0) still draws: the ellipse flattens to a segment', async () => {
    const g = svd(new Matrix([[1, 2], [2, 4]]));
    assert.ok(g.sigma[1]! < 1e-12);
    assert.match(await renderSvg(svdStagesChart(g)), /^<svg/);
  });
});
