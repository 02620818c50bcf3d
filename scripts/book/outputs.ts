// A code cell's outputs as HTML, each shown the richest way a browser can: a Vega-Lite spec as a live chart
// (its PNG inside as the fallback), HTML (tables), images written as files beside the page, markdown, LaTeX,
// plain text; streams and errors as preformatted text. Nothing is dropped: a bundle the book cannot show stops
// the build, naming the notebook and the cell.
import katex from 'katex';
import type { MimeBundle, Output } from './notebook.js';

export interface OutputContext {
  /** "01-svd.ipynb cell 15", for error messages. */
  where: string;
  /** Prefix for ids and file names of this cell's outputs: "01-svd-c15". */
  id: string;
  /** Writes a file into the site (path relative to the site root) and returns the URL a page uses for it. */
  writeAsset: (relPath: string, bytes: Uint8Array) => string;
  /** Markdown renderer for text/markdown outputs. */
  markdown: (src: string) => string;
}

export const VEGALITE_MIME = 'application/vnd.vegalite.v5+json';
const IMAGE_TYPES: Record<string, string> = { 'image/png': 'png', 'image/jpeg': 'jpg', 'image/gif': 'gif' };

export const escapeHtml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Terminal colour codes (tracebacks, coloured logs) have no meaning in a page. */
const stripAnsi = (s: string): string => s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');

/** JSON inside <script type="application/json">: `</script>` and `<!--` must not appear in it. */
export const jsonForScript = (value: unknown): string =>
  JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');

/** Width and height of a PNG from its IHDR chunk. */
export function pngSize(bytes: Uint8Array): { width: number; height: number } | undefined {
  const sig = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (bytes.length < 24 || sig.some((b, i) => bytes[i] !== b)) return undefined;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { width: dv.getUint32(16), height: dv.getUint32(20) };
}

/** A chart output of lora-lab (`<title>` as its text) carries a PNG drawn at twice its CSS size. */
const isLoraLabChart = (data: MimeBundle): boolean => /^<[^\n]*>$/.test(String(data['text/plain'] ?? ''));

function imageHtml(data: MimeBundle, metadata: Record<string, unknown>, mime: string, ctx: OutputContext, n: number): string {
  const b64 = String(data[mime]).replace(/\s+/g, '');
  const bytes = new Uint8Array(Buffer.from(b64, 'base64'));
  if (bytes.length === 0) throw new Error(`${ctx.where}: output ${n} has an empty ${mime}`);
  const url = ctx.writeAsset(`images/${ctx.id}-o${n}.${IMAGE_TYPES[mime]}`, bytes);
  const meta = (metadata[mime] ?? {}) as { width?: number; height?: number };
  let width = meta.width;
  const size = mime === 'image/png' ? pngSize(bytes) : undefined;
  if (width === undefined && size !== undefined && isLoraLabChart(data)) width = Math.round(size.width / 2);
  const alt = String(data['text/plain'] ?? 'output image').replace(/^<|>$/g, '');
  return `<img src="${url}" alt="${escapeHtml(alt)}"${width ? ` width="${width}"` : ''}>`;
}

function bundleHtml(o: Extract<Output, { data: MimeBundle }>, ctx: OutputContext, n: number): string {
  const { data, metadata } = o;
  const imageMime = Object.keys(IMAGE_TYPES).find((m) => m in data);
  if (VEGALITE_MIME in data) {
    const chartId = `chart-${ctx.id}-o${n}`;
    const fallback = imageMime ? imageHtml(data, metadata, imageMime, ctx, n) : '';
    return (
      `<div class="output chart" id="${chartId}" data-chart="${chartId}">` +
      `<script type="application/json" class="chart-spec">${jsonForScript(data[VEGALITE_MIME])}</script>` +
      `<div class="chart-fallback">${fallback}</div></div>`
    );
  }
  if ('text/html' in data) return `<div class="output html">${String(data['text/html'])}</div>`;
  if ('image/svg+xml' in data) {
    const svg = new TextEncoder().encode(String(data['image/svg+xml']));
    return `<div class="output image"><img src="${ctx.writeAsset(`images/${ctx.id}-o${n}.svg`, svg)}" alt="output image"></div>`;
  }
  if (imageMime) return `<div class="output image">${imageHtml(data, metadata, imageMime, ctx, n)}</div>`;
  if ('text/markdown' in data) return `<div class="output markdown">${ctx.markdown(String(data['text/markdown']))}</div>`;
  if ('text/latex' in data) {
    const tex = String(data['text/latex']).trim().replace(/^\$\$?|\$\$?$/g, '');
    try {
      return `<div class="output latex">${katex.renderToString(tex, { displayMode: true, throwOnError: true })}</div>`;
    } catch (e) {
      throw new Error(`${ctx.where}: output ${n}: KaTeX cannot render ${tex} (${(e as Error).message})`);
    }
  }
  if ('text/plain' in data) return `<pre class="output text">${escapeHtml(stripAnsi(String(data['text/plain'])))}</pre>`;
  if ('application/json' in data) {
    return `<pre class="output text">${escapeHtml(JSON.stringify(data['application/json'], null, 2))}</pre>`;
  }
  throw new Error(`${ctx.where}: output ${n} has only ${Object.keys(data).join(', ') || 'no data'}: the book cannot show it`);
}

/** One output as HTML. */
export function outputHtml(o: Output, ctx: OutputContext, n: number): string {
  switch (o.output_type) {
    case 'stream':
      return `<pre class="output stream ${o.name}">${escapeHtml(stripAnsi(o.text))}</pre>`;
    case 'error': {
      const text = o.traceback.length > 0 ? o.traceback.join('\n') : `${o.ename}: ${o.evalue}`;
      return `<pre class="output error">${escapeHtml(stripAnsi(text))}</pre>`;
    }
    default:
      return bundleHtml(o, ctx, n);
  }
}
