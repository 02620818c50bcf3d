// Writes a chart to a file a user keeps: .svg, .png or .json (the spec itself), atomically.
import * as path from 'node:path';
import { writeFileAtomic } from '../io/files.js';
import { renderPng, renderSvg } from './render.js';
import type { VegaLiteSpec } from './spec.js';

/** Saves `spec` to `file`; the extension picks the format: .png, .svg or .json (the Vega-Lite spec). */
export async function saveChart(spec: VegaLiteSpec, file: string): Promise<void> {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.png') return writeFileAtomic(file, await renderPng(spec));
  if (ext === '.svg') return writeFileAtomic(file, await renderSvg(spec));
  if (ext === '.json') return writeFileAtomic(file, JSON.stringify(spec, null, 2) + '\n');
  throw new Error(`cannot save a chart as '${file}': use a .png, .svg or .json file name`);
}
