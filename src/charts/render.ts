// Renders a Vega-Lite spec headless: Vega-Lite → Vega → SVG (vega's View, renderer 'none'), SVG → PNG
// with resvg (no browser). Text uses the DejaVu Sans file shipped by `dejavu-fonts-ttf`, so PNGs look the
// same on every machine, fonts installed or not.
import { createRequire } from 'node:module';
import * as path from 'node:path';
import * as vega from 'vega';
import { compile } from 'vega-lite';
import { Resvg } from '@resvg/resvg-js';
import type { VegaLiteSpec } from './spec.js';

const requireHere = createRequire(import.meta.url);
let fontFile: string | undefined;

function dejavuSans(): string {
  fontFile ??= path.join(path.dirname(requireHere.resolve('dejavu-fonts-ttf/package.json')), 'ttf', 'DejaVuSans.ttf');
  return fontFile;
}

/** The spec as an SVG document. Throws on an invalid spec with Vega-Lite's message. */
export async function renderSvg(spec: VegaLiteSpec): Promise<string> {
  // A deep copy: vega tags data rows in place (Symbol(vega_id)); the caller's spec and rows stay untouched.
  const copy = JSON.parse(JSON.stringify(spec)) as Parameters<typeof compile>[0];
  let vgSpec: ReturnType<typeof compile>['spec'];
  try {
    vgSpec = compile(copy).spec;
  } catch (e) {
    throw new Error(`invalid Vega-Lite spec: ${(e as Error).message}`);
  }
  const view = new vega.View(vega.parse(vgSpec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export interface PngOptions {
  /** Pixel density: 2 draws a 420px-wide chart as 840 pixels. @default 2 */
  scale?: number;
}

/** The spec as PNG bytes. */
export async function renderPng(spec: VegaLiteSpec, options: PngOptions = {}): Promise<Uint8Array> {
  const svg = await renderSvg(spec);
  return svgToPng(svg, options.scale ?? 2);
}

/** An SVG document as PNG bytes, text drawn with DejaVu Sans. */
export function svgToPng(svg: string, scale = 2): Uint8Array {
  const resvg = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: scale },
    background: 'white',
    font: {
      loadSystemFonts: false,
      fontFiles: [dejavuSans()],
      defaultFontFamily: 'DejaVu Sans',
      sansSerifFamily: 'DejaVu Sans',
    },
  });
  return new Uint8Array(resvg.render().asPng());
}
