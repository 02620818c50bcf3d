// Reading an executed notebook (nbformat 4, https://nbformat.readthedocs.io/en/latest/format_description.html)
// for the book: cells, sources joined into strings, outputs as nbformat stores them. Validated on read, so a
// malformed file stops the build with its name and the cell instead of becoming a half-empty page.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

/** A mime bundle: text as string (nbformat may store it as a list of lines), JSON mime types as objects. */
export type MimeBundle = Record<string, unknown>;

export type Output =
  | { output_type: 'stream'; name: 'stdout' | 'stderr'; text: string }
  | { output_type: 'display_data' | 'execute_result'; data: MimeBundle; metadata: Record<string, unknown> }
  | { output_type: 'error'; ename: string; evalue: string; traceback: string[] };

export interface Cell {
  cell_type: 'markdown' | 'code' | 'raw';
  source: string;
  outputs: Output[];
  /** Images attached to a markdown cell (`attachment:name` links), by name, as mime bundles. */
  attachments: Record<string, MimeBundle>;
}

export interface Notebook {
  /** File name without `.ipynb`, e.g. `01-svd`: the page is `01-svd.html`. */
  slug: string;
  file: string;
  cells: Cell[];
}

const joined = (v: unknown): string => (Array.isArray(v) ? v.join('') : typeof v === 'string' ? v : '');

/** Text mime types may be a list of lines in the file; JSON ones stay objects. */
function normaliseBundle(data: unknown): MimeBundle {
  const out: MimeBundle = {};
  for (const [mime, value] of Object.entries((data ?? {}) as Record<string, unknown>)) {
    out[mime] = mime.endsWith('json') && !Array.isArray(value) ? value : joined(value);
  }
  return out;
}

function readOutput(o: unknown, where: string): Output {
  const out = o as Record<string, unknown>;
  switch (out['output_type']) {
    case 'stream':
      return { output_type: 'stream', name: out['name'] === 'stderr' ? 'stderr' : 'stdout', text: joined(out['text']) };
    case 'display_data':
    case 'execute_result':
      return {
        output_type: out['output_type'],
        data: normaliseBundle(out['data']),
        metadata: (out['metadata'] ?? {}) as Record<string, unknown>,
      };
    case 'error':
      return {
        output_type: 'error',
        ename: String(out['ename'] ?? 'Error'),
        evalue: String(out['evalue'] ?? ''),
        traceback: Array.isArray(out['traceback']) ? out['traceback'].map(String) : [],
      };
    default:
      throw new Error(`${where}: unknown output_type ${JSON.stringify(out['output_type'])}: is this an nbformat 4 notebook?`);
  }
}

/** Reads and checks one notebook file. */
export function readNotebook(file: string): Notebook {
  const name = path.basename(file);
  let nb: Record<string, unknown>;
  try {
    nb = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${file}: not a readable notebook (${(e as Error).message}); restore it from git`);
  }
  if (nb['nbformat'] !== 4 || !Array.isArray(nb['cells'])) {
    throw new Error(`${file}: nbformat ${String(nb['nbformat'])} without a cells list; the book reads nbformat 4 only`);
  }
  const cells = (nb['cells'] as Record<string, unknown>[]).map((c, i): Cell => {
    const where = `${name} cell ${i}`;
    const type = c['cell_type'];
    if (type !== 'markdown' && type !== 'code' && type !== 'raw') {
      throw new Error(`${where}: unknown cell_type ${JSON.stringify(type)}`);
    }
    const outputs = type === 'code' && Array.isArray(c['outputs']) ? c['outputs'].map((o) => readOutput(o, where)) : [];
    const attachments: Record<string, MimeBundle> = {};
    for (const [k, v] of Object.entries((c['attachments'] ?? {}) as Record<string, unknown>)) {
      attachments[k] = normaliseBundle(v);
    }
    return { cell_type: type, source: joined(c['source']), outputs, attachments };
  });
  return { slug: name.replace(/\.ipynb$/, ''), file, cells };
}

/** The notebook's title: its first `# heading`, else its slug. */
export function notebookTitle(nb: Notebook): string {
  for (const c of nb.cells) {
    if (c.cell_type !== 'markdown') continue;
    const m = /^#\s+(.+?)\s*#*\s*$/m.exec(c.source);
    if (m) return m[1]!;
  }
  return nb.slug;
}
