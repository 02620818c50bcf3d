// One pre-LayerNorm transformer block (Vaswani et al. 2017, https://arxiv.org/abs/1706.03762; GPT-2's layout, as
// models/gpt.ts builds it) with its weight matrices named as PEFT targets them: q_proj, k_proj, v_proj, o_proj and
// the feed-forward network's up_proj, down_proj, each W₀ [d_out, d_in]. The targets LoRA adapts are coloured.
import { chartBase, type ChartOptions, type Row, type VegaLiteSpec } from './spec.js';

/** The block's weight matrices that LoRA can target, bottom to top, with what each one does. */
export const BLOCK_PROJECTIONS = [
  { name: 'q_proj', role: 'query: what this token is looking for' },
  { name: 'k_proj', role: 'key: what each token offers to be found by' },
  { name: 'v_proj', role: 'value: what a token passes on when attended to' },
  { name: 'o_proj', role: 'output: mixes the heads back into the stream' },
  { name: 'up_proj', role: 'FFN up: d → d_ff features, token by token' },
  { name: 'down_proj', role: 'FFN down: d_ff → d, back into the stream' },
] as const;

export type BlockProjection = (typeof BLOCK_PROJECTIONS)[number]['name'];

export interface AttentionBlockOptions extends ChartOptions {
  /** Modules LoRA adapts: names (`q_proj`) or module paths (`layers.0.self_attn.q_proj`).
   *  @default ['q_proj', 'v_proj'] */
  targets?: readonly string[];
  /** d: the residual stream's width; when given, each matrix shows its shape [d_out × d_in]. */
  dModel?: number;
  /** d_ff: the FFN's hidden width. @default 4·dModel */
  dFf?: number;
  /** Attention heads (h, with d_h = d / h); when given, the attention box says so. */
  nHeads?: number;
}

export const BLOCK_KINDS = [
  { kind: 'LoRA: W₀ frozen + B·A trained', colour: '#fdd0a2', stroke: '#c2661a' },
  { kind: 'frozen weight W₀', colour: '#c6dbef', stroke: '#4a78a8' },
  { kind: 'no weight matrix', colour: '#eeeeee', stroke: '#999999' },
] as const;

/** The projection names the targets pick, checked: a name outside the block is an error that lists the names. */
export function blockTargets(targets: readonly string[]): Set<BlockProjection> {
  const names = BLOCK_PROJECTIONS.map((p) => p.name) as readonly string[];
  const out = new Set<BlockProjection>();
  for (const t of targets) {
    const name = t.split('.').at(-1)!;
    if (!names.includes(name)) {
      throw new Error(
        `attentionBlockDiagram: target '${t}' is not a matrix of the block; use some of ${names.join(', ')}`,
      );
    }
    out.add(name as BlockProjection);
  }
  return out;
}

// Drawing units: x and y run over [0, 100], y upwards (x enters at the bottom). The block's boxes sit left of
// TEXT_X, centred on MID; each row's explanation is written right of TEXT_X.
const MID = 22;
const QKV = [7, 22, 37];
const TEXT_X = 47;
const ROWS = {
  input: 2, ln1: 9, qkv: 19, att: 31, o: 43, add1: 50.5, ln2: 57, up: 66, gelu: 74, down: 82, add2: 89.5, out: 96,
};
const H = 3.6; // half the height of a projection's box (two lines: name, shape)

export function attentionBlockDiagram(o: AttentionBlockOptions = {}): VegaLiteSpec {
  const targets = blockTargets(o.targets ?? ['q_proj', 'v_proj']);
  const d = o.dModel;
  const dFf = o.dFf ?? (d === undefined ? undefined : 4 * d);
  const shapes: Record<BlockProjection, string> = {
    q_proj: `${d} × ${d}`, k_proj: `${d} × ${d}`, v_proj: `${d} × ${d}`, o_proj: `${d} × ${d}`,
    up_proj: `${dFf} × ${d}`, down_proj: `${d} × ${dFf}`,
  };
  const kindOf = (p: BlockProjection) => BLOCK_KINDS[targets.has(p) ? 0 : 1].kind;
  const box = (label: string, cx: number, cy: number, w: number, kind: string, h: number): Row => ({
    label, x: cx - w / 2, x2: cx + w / 2, y: cy - h, y2: cy + h, cx, cy, kind,
  });
  const proj = (p: BlockProjection, cx: number, cy: number): Row =>
    box(d === undefined ? p : `${p}\n${shapes[p]}`, cx, cy, 13, kindOf(p), d === undefined ? 2.6 : H);
  const none = BLOCK_KINDS[2].kind;
  const heads = o.nHeads === undefined || d === undefined ? 'per head' : `${o.nHeads} heads, d_h = ${d / o.nHeads}`;
  const boxes: Row[] = [
    box('input_layernorm', MID, ROWS.ln1, 30, none, 2.4),
    proj('q_proj', QKV[0]!, ROWS.qkv),
    proj('k_proj', QKV[1]!, ROWS.qkv),
    proj('v_proj', QKV[2]!, ROWS.qkv),
    box(`softmax(q·kᵀ/√d_h + mask)·v\n${heads}`, MID, ROWS.att, 40, none, H),
    proj('o_proj', MID, ROWS.o),
    box('post_attention_layernorm', MID, ROWS.ln2, 30, none, 2.4),
    proj('up_proj', MID, ROWS.up),
    box('GELU', MID, ROWS.gelu, 9, none, 2.2),
    proj('down_proj', MID, ROWS.down),
  ];
  const top = (r: Row) => Number(r['y2']);
  const bottom = (r: Row) => Number(r['y']);
  const [ln1, q, , , att, oProj, ln2, up, gelu, down] = boxes as [Row, Row, Row, Row, Row, Row, Row, Row, Row, Row];
  const hProj = Number(q['y2']) - Number(q['cy']);
  const up1 = (x: number, y: number, y2: number): Row => ({ x, y, x2: x, y2 });
  // Arrows up the block, and the residual stream on the left that the two branches add into.
  const arrows: Row[] = [
    up1(MID, ROWS.input + 1.6, bottom(ln1)),
    ...QKV.map((x) => up1(x, top(ln1), ROWS.qkv - hProj)),
    ...QKV.map((x) => up1(x, ROWS.qkv + hProj, bottom(att))),
    up1(MID, top(att), bottom(oProj)),
    up1(MID, top(oProj), ROWS.add1 - 1.4),
    up1(MID, ROWS.add1 + 1.4, bottom(ln2)),
    up1(MID, top(ln2), bottom(up)),
    up1(MID, top(up), bottom(gelu)),
    up1(MID, top(gelu), bottom(down)),
    up1(MID, top(down), ROWS.add2 - 1.4),
    up1(MID, ROWS.add2 + 1.4, ROWS.out - 1.6),
  ];
  const split = ROWS.input + 3.5;
  const residual: Row[] = [
    { x: MID, y: split, x2: -1, y2: split },
    { x: -1, y: split, x2: -1, y2: ROWS.add2 },
    { x: -1, y: ROWS.add1, x2: MID - 1.2, y2: ROWS.add1 },
    { x: -1, y: ROWS.add2, x2: MID - 1.2, y2: ROWS.add2 },
  ];
  const sums: Row[] = [ROWS.add1, ROWS.add2].map((y) => ({ x: MID, y, text: '+' }));
  const roleOf = (p: BlockProjection) => BLOCK_PROJECTIONS.find((r) => r.name === p)!.role;
  const notes: Row[] = [
    { x: MID + 2, y: ROWS.input, text: 'x: the residual stream, one d-vector per token' },
    { x: MID + 2, y: ROWS.out, text: 'to the next block' },
    { x: TEXT_X, y: ROWS.qkv + 3.5, text: `q_proj – ${roleOf('q_proj')}` },
    { x: TEXT_X, y: ROWS.qkv, text: `k_proj – ${roleOf('k_proj')}` },
    { x: TEXT_X, y: ROWS.qkv - 3.5, text: `v_proj – ${roleOf('v_proj')}` },
    {
      x: TEXT_X,
      y: ROWS.att,
      text: "each token takes a mix of earlier tokens' v,\nweighted by how well its q matches their k",
    },
    { x: TEXT_X, y: ROWS.o, text: `o_proj – ${roleOf('o_proj')}` },
    { x: TEXT_X, y: ROWS.up, text: `up_proj – ${roleOf('up_proj')}` },
    { x: TEXT_X, y: ROWS.gelu, text: "LoRA on these two is FFN LoRA (part of 'all-linear')" },
    { x: TEXT_X, y: ROWS.down, text: `down_proj – ${roleOf('down_proj')}` },
    { x: -2.8, y: (ROWS.add1 + ROWS.add2) / 2, text: 'residual stream', angle: 270 },
  ];
  const pos = (field: string, domain: [number, number]) => ({
    field, type: 'quantitative', scale: { domain, nice: false, zero: false }, axis: null,
  });
  const X = pos('x', [-4, 100]);
  const Y = pos('y', [0, 98]);
  const rule = (rows: Row[], extra: Record<string, unknown>): VegaLiteSpec => ({
    data: { values: rows },
    mark: { type: 'rule', color: '#666666', strokeWidth: 1.2, ...extra },
    encoding: { x: X, y: Y, x2: { field: 'x2' }, y2: { field: 'y2' } },
  });
  const kinds = { domain: BLOCK_KINDS.map((k) => k.kind) };
  const text = (rows: Row[], mark: Record<string, unknown>, x = X, y = Y): VegaLiteSpec => ({
    data: { values: rows },
    mark: { type: 'text', fontSize: 11, color: '#222222', baseline: 'middle', lineBreak: '\n', ...mark },
    encoding: { x, y, text: { field: 'text', type: 'nominal' } },
  });
  return {
    ...chartBase({ width: 720, height: 460, ...o }),
    layer: [
      rule(residual, { strokeDash: [4, 3], color: '#999999' }),
      rule(arrows, {}),
      {
        data: { values: boxes },
        mark: { type: 'rect', strokeWidth: 1.2, cornerRadius: 3 },
        encoding: {
          x: X, x2: { field: 'x2' }, y: Y, y2: { field: 'y2' },
          // fill and stroke share one field and domain, so Vega-Lite draws one legend with both
          fill: {
            field: 'kind', type: 'nominal', title: null,
            scale: { ...kinds, range: BLOCK_KINDS.map((k) => k.colour) },
            legend: { orient: 'bottom', direction: 'horizontal', labelLimit: 0 },
          },
          stroke: {
            field: 'kind', type: 'nominal', title: null, scale: { ...kinds, range: BLOCK_KINDS.map((k) => k.stroke) },
          },
        },
      },
      ...[false, true].map((two) =>
        text(
          boxes.filter((b) => String(b['label']).includes('\n') === two).map((b) => ({ ...b, text: b['label']! })),
          { align: 'center', dy: two ? -7 : 0 }, // two lines: the pair is centred, not its first line
          { ...X, field: 'cx' },
          { ...Y, field: 'cy' },
        )),
      text(sums, { align: 'center', fontSize: 18, color: '#444444' }),
      ...[false, true].map((two) =>
        text(notes.filter((n) => n['angle'] === undefined && String(n['text']).includes('\n') === two), {
          align: 'left', color: '#333333', dy: two ? -7 : 0,
        })),
      text(notes.filter((n) => n['angle'] !== undefined), {
        align: 'center', angle: 270, color: '#888888', fontSize: 10,
      }),
    ],
  };
}
