// Showing things in a tslab notebook: charts (PNG for every viewer + the Vega-Lite bundle for JupyterLab),
// tables, markdown, and outputs that update in place (live progress). tslab's own display API sends one
// mime type per output; here one output carries several, so each viewer picks the richest it can show.
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { renderPng } from '../charts/render.js';
import type { Row, VegaLiteSpec } from '../charts/spec.js';

/** A mime bundle: text and base64 images as strings, JSON mime types as objects. */
type Bundle = Record<string, unknown>;
/** Per-mime-type display metadata, e.g. { 'image/png': { width, height } }. */
type Metadata = Record<string, unknown>;
interface DisplayMessage {
  data: Bundle;
  metadata: Record<string, unknown>;
  transient: { display_id?: string };
}
type WriteDisplayData = (msg: DisplayMessage, update: boolean) => void;

const requireHere = createRequire(import.meta.url);

function writer(): WriteDisplayData {
  let jupyter: { lastWriteDisplayData: WriteDisplayData | null };
  try {
    jupyter = requireHere('tslab/dist/jupyter.js') as typeof jupyter;
  } catch {
    throw new Error('notebook display needs the tslab kernel (package `tslab`); outside a notebook use saveChart()');
  }
  const write = jupyter.lastWriteDisplayData;
  if (write === null) {
    throw new Error(
      'notebook display works inside a tslab notebook cell only; in a script, save charts with saveChart(spec, "chart.png")',
    );
  }
  return write;
}

/** One output area in the notebook; `update` replaces what it shows (tslab's newDisplay, several mime types). */
export class LiveOutput {
  private readonly id = randomBytes(8).toString('hex');
  private shown = false;

  /** Shows a mime bundle, e.g. { 'text/plain': ..., 'text/html': ... }. */
  show(bundle: Bundle, metadata: Metadata = {}): void {
    writer()({ data: bundle, metadata, transient: { display_id: this.id } }, this.shown);
    this.shown = true;
  }

  text(s: string): void {
    this.show({ 'text/plain': s });
  }

  async chart(spec: VegaLiteSpec): Promise<void> {
    const { data, metadata } = await chartOutput(spec);
    this.show(data, metadata);
  }
}

/** Largest Vega-Lite spec (as JSON text) attached to a chart output beside its PNG. */
export const VEGALITE_MAX_BYTES = 64 * 1024;

/** Pixels per CSS pixel of chart PNGs: sharp on high-density screens, shown at design size through metadata. */
export const CHART_PNG_SCALE = 2;

/** Width and height of a PNG, from its IHDR chunk (bytes 16-23, big-endian). */
export function pngSize(png: Uint8Array): { width: number; height: number } {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

/**
 * The outputs for a chart: PNG (classic Notebook, nbconvert, GitHub), the Vega-Lite spec (JupyterLab), text;
 * and the metadata that shows the PNG, drawn at CHART_PNG_SCALE×, at the chart's design size.
 */
export async function chartOutput(spec: VegaLiteSpec): Promise<{ data: Bundle; metadata: Metadata }> {
  const bytes = await renderPng(spec, { scale: CHART_PNG_SCALE });
  const { width, height } = pngSize(bytes);
  const title = typeof spec['title'] === 'string' ? spec['title'] : 'chart';
  const data: Bundle = { 'image/png': Buffer.from(bytes).toString('base64'), 'text/plain': `<${title}>` };
  // The spec carries its data: for pictures and big heatmaps that is megabytes in the .ipynb for a chart the
  // PNG already shows, so only specs up to VEGALITE_MAX_BYTES travel along for JupyterLab.
  if (JSON.stringify(spec).length <= VEGALITE_MAX_BYTES) data['application/vnd.vegalite.v5+json'] = spec;
  const size = { width: Math.round(width / CHART_PNG_SCALE), height: Math.round(height / CHART_PNG_SCALE) };
  return { data, metadata: { 'image/png': size } };
}

/** Shows a chart in the notebook. */
export async function showChart(spec: VegaLiteSpec): Promise<void> {
  const { data, metadata } = await chartOutput(spec);
  writer()({ data, metadata, transient: {} }, false);
}

/** Shows rows as a table (HTML, with a plain-text fallback). Numbers are shown with `digits` significant digits. */
export function showTable(rows: Row[], options: { digits?: number; title?: string } = {}): void {
  writer()({ data: tableBundle(rows, options), metadata: {}, transient: {} }, false);
}

/** Shows markdown text. */
export function showMarkdown(md: string): void {
  writer()({ data: { 'text/markdown': md, 'text/plain': md }, metadata: {}, transient: {} }, false);
}

export function tableBundle(rows: Row[], options: { digits?: number; title?: string } = {}): Record<string, string> {
  const digits = options.digits ?? 4;
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cell = (v: Row[string] | undefined): string =>
    v === undefined || v === null
      ? ''
      : typeof v === 'number'
        ? Number.isInteger(v)
          ? v.toLocaleString('en-US')
          : Number(v.toPrecision(digits)).toString()
        : String(v);
  const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const head = cols.map((c) => `<th>${esc(c)}</th>`).join('');
  const body = rows.map((r) => `<tr>${cols.map((c) => `<td>${esc(cell(r[c]))}</td>`).join('')}</tr>`).join('\n');
  const caption = options.title ? `<caption>${esc(options.title)}</caption>` : '';
  const html = `<table>${caption}<thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[]): string => vals.map((v, i) => v.padStart(widths[i]!)).join('  ');
  const text = [options.title ?? '', line(cols), ...rows.map((r) => line(cols.map((c) => cell(r[c]))))]
    .filter((l) => l !== '')
    .join('\n');
  return { 'text/html': html, 'text/plain': text };
}
