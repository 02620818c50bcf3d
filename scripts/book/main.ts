// `npm run book [-- --out DIR]`: builds the book (see build.ts) from the committed notebooks, then says where it
// is and how to open it. No notebook is executed and nothing is downloaded.
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from '../lib/jupyter.js';
import { buildBook } from './build.js';

const args = process.argv.slice(2);
const at = args.indexOf('--out');
const unknown = args.filter((a, i) => a !== '--out' && (at < 0 || i !== at + 1));
if (args.includes('--help') || (at >= 0 && !args[at + 1]) || unknown.length > 0) {
  if (unknown.length > 0 && !args.includes('--help')) console.error(`book: unknown argument ${unknown[0]}`);
  console.log('usage: npm run book [-- --out DIR]   builds the book from notebooks/*.ipynb into DIR (default book/)');
  process.exit(args.includes('--help') ? 0 : 2);
}
const t0 = performance.now();
try {
  const r = buildBook({ root: ROOT, ...(at >= 0 ? { outDir: path.resolve(args[at + 1]!) } : {}) });
  const outputs = r.pages.reduce((n, p) => n + p.outputs, 0);
  const charts = r.pages.reduce((n, p) => n + p.charts, 0);
  const mib = (r.bytes / 2 ** 20).toFixed(1);
  const rel = path.relative(process.cwd(), r.outDir);
  const shown = rel === '' ? '.' : rel.startsWith('..') ? r.outDir : rel;
  console.log(
    `book: ${r.pages.length} pages, ${outputs} outputs, ${charts} live charts (${r.bookOnlyCharts} only in the book), ` +
      `${mib} MiB in ${shown} (${((performance.now() - t0) / 1000).toFixed(1)} s)`,
  );
  const serve = at >= 0 ? `npm run book:serve -- ${shown}` : 'npm run book:serve';
  console.log(`open ${pathToFileURL(path.join(r.outDir, 'index.html')).href}  or serve it: ${serve}`);
} catch (e) {
  console.error(`book: ${(e as Error).message}`);
  process.exit(1);
}
