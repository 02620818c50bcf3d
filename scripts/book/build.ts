// Builds the book: the committed, executed notebooks (never re-executed) as a static site that works offline,
// from file:// and from any web server: index.html from README.md, one page per notebook, and assets/ holding
// KaTeX's CSS and fonts, highlight.js's theme, Vega + Vega-Lite + vega-embed as classic scripts, the site's CSS
// and JS. Written into a sibling folder first and swapped in whole, so a failed build leaves the old book.
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createMarkdown, highlightCode, type Heading } from './markdown.js';
import { escapeHtml, jsonForScript, outputHtml } from './outputs.js';
import { notebookTitle, readNotebook, type Notebook } from './notebook.js';
import { pageHtml, type PageRef } from './layout.js';
import { linkedNotebooks, readmeParts } from './index-page.js';
import { pictureSliderPlace, pictureSliderSpec } from './picture-slider.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const requireHere = createRequire(import.meta.url);

export interface BuildOptions {
  /** The repository root (README.md, notebooks/). */
  root: string;
  /** Where the site goes. @default <root>/book */
  outDir?: string;
  /** The notebooks, in reading order. @default <root>/notebooks/*.ipynb, sorted by name */
  notebooks?: string[];
  /** README.md whose intro, notebook table and quick start make the front page. @default <root>/README.md */
  readme?: string;
}

export interface BuiltPage extends PageRef {
  /** The notebook the page was built from (absent for index.html). */
  notebook?: string;
  /** The notebook's outputs on the page, the page's live charts, and the charts only the book has. */
  outputs: number;
  charts: number;
  bookOnly: number;
}

export interface BuildResult {
  outDir: string;
  pages: BuiltPage[];
  /** Charts only the book has (the picture slider). */
  bookOnlyCharts: number;
  bytes: number;
}

/** A file inside an installed package, e.g. `vega/build/vega.min.js` (found where Node would find the package,
 * without going through its exports map, which hides the browser builds). */
function packageFile(spec: string): string {
  const parts = spec.split('/');
  const name = spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
  const rest = spec.slice(name.length + 1);
  for (const dir of requireHere.resolve.paths(name) ?? []) {
    const file = path.join(dir, name, rest);
    if (existsSync(file)) return file;
  }
  throw new Error(`${spec} not found: run \`npm install\` (the book bundles it for offline reading)`);
}

function writeAssets(dir: string): void {
  const assets = path.join(dir, 'assets');
  mkdirSync(path.join(assets, 'katex'), { recursive: true });
  const katexDist = path.dirname(packageFile('katex/dist/katex.min.css'));
  cpSync(path.join(katexDist, 'katex.min.css'), path.join(assets, 'katex', 'katex.min.css'));
  cpSync(path.join(katexDist, 'fonts'), path.join(assets, 'katex', 'fonts'), { recursive: true });
  cpSync(packageFile('highlight.js/styles/github.css'), path.join(assets, 'highlight.css'));
  cpSync(packageFile('vega/build/vega.min.js'), path.join(assets, 'vega.min.js'));
  cpSync(packageFile('vega-lite/build/vega-lite.min.js'), path.join(assets, 'vega-lite.min.js'));
  cpSync(packageFile('vega-embed/build/vega-embed.min.js'), path.join(assets, 'vega-embed.min.js'));
  cpSync(path.join(HERE, 'assets', 'site.css'), path.join(assets, 'site.css'));
  cpSync(path.join(HERE, 'assets', 'site.js'), path.join(assets, 'site.js'));
}

function dirBytes(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) n += readFileSync(path.join(e.parentPath, e.name)).length;
  }
  return n;
}

interface Rendered {
  body: string;
  headings: Heading[];
  outputs: number;
  charts: number;
  bookOnly: number;
}

function renderNotebook(
  nb: Notebook,
  site: string,
  md: ReturnType<typeof createMarkdown>,
  pages: ReadonlySet<string>,
): Rendered {
  const name = path.basename(nb.file);
  const ids = new Set<string>();
  const headings: Heading[] = [];
  const html: string[] = [];
  let outputs = 0;
  let charts = 0;
  let bookOnly = 0;
  const writeAsset = (rel: string, bytes: Uint8Array): string => {
    mkdirSync(path.dirname(path.join(site, rel)), { recursive: true });
    writeFileSync(path.join(site, rel), bytes);
    return rel.split(path.sep).join('/');
  };
  const slider = pictureSliderPlace(nb.cells);
  nb.cells.forEach((cell, i) => {
    const where = `${name} cell ${i}`;
    if (cell.cell_type === 'markdown') {
      const asset = (href: string): string | undefined => {
        const file = path.resolve(path.dirname(nb.file), decodeURIComponent(href.split(/[?#]/)[0]!));
        if (!existsSync(file)) return undefined;
        return writeAsset(path.join('images', nb.slug, path.basename(file)), readFileSync(file));
      };
      const r = md.render(cell.source, { pages, where, ids, attachments: cell.attachments, asset });
      headings.push(...r.headings);
      html.push(`<section class="cell markdown">${r.html}</section>`);
      return;
    }
    if (cell.cell_type === 'raw') {
      html.push(`<section class="cell raw"><pre>${escapeHtml(cell.source)}</pre></section>`);
      return;
    }
    const ctx = {
      where,
      id: `${nb.slug}-c${i}`,
      writeAsset,
      markdown: (src: string) => md.render(src, { pages, where, ids }).html,
    };
    const outs = cell.outputs.map((o, n) => outputHtml(o, ctx, n));
    outputs += outs.length;
    charts += outs.filter((o) => o.startsWith('<div class="output chart"')).length;
    if (slider?.cell === i) {
      const id = `chart-${nb.slug}-c${i}-slider`;
      outs.push(
        `<div class="output chart book-only" id="${id}" data-chart="${id}">` +
          '<p class="note">Only in the book: the same picture rebuilt from every k, computed by the library ' +
          '(<code>demoPicture</code>, <code>svd</code>, <code>reconstruct</code>) when the book is built. Drag k.</p>' +
          `<script type="application/json" class="chart-spec">${jsonForScript(pictureSliderSpec(slider.size))}</script></div>`,
      );
      bookOnly++;
    }
    const source = cell.source.trim() === '' ? '' : highlightCode(cell.source, 'typescript');
    html.push(
      `<section class="cell code">${source}${outs.length ? `<div class="outputs">${outs.join('\n')}</div>` : ''}</section>`,
    );
  });
  return { body: html.join('\n'), headings, outputs, charts: charts + bookOnly, bookOnly };
}

/** Builds the site; returns what it wrote. Throws (leaving any previous book in place) on anything it cannot show. */
export function buildBook(options: BuildOptions): BuildResult {
  const root = path.resolve(options.root);
  const outDir = path.resolve(options.outDir ?? path.join(root, 'book'));
  const nbDir = path.join(root, 'notebooks');
  const files =
    options.notebooks ??
    readdirSync(nbDir)
      .filter((f) => f.endsWith('.ipynb'))
      .sort()
      .map((f) => path.join(nbDir, f));
  if (files.length === 0) throw new Error(`no notebooks to build a book from in ${nbDir}`);
  const notebooks = files.map(readNotebook);
  const slugs = new Set(notebooks.map((nb) => nb.slug));
  const readme = readmeParts(readFileSync(options.readme ?? path.join(root, 'README.md'), 'utf8'));
  const listed = linkedNotebooks(readme.notebooks);
  const unlisted = notebooks.filter((nb) => !listed.includes(nb.slug)).map((nb) => nb.slug);
  if (unlisted.length > 0) {
    throw new Error(`README.md's notebook table has no row for ${unlisted.join(', ')}: add one (the book's contents come from it)`);
  }
  const missing = listed.filter((s) => !slugs.has(s));
  if (missing.length > 0) throw new Error(`README.md's notebook table links ${missing.join(', ')}, which is not in ${nbDir}`);

  const staging = `${outDir}.tmp-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  try {
    writeAssets(staging);
    const md = createMarkdown();
    const refs: PageRef[] = [
      { href: 'index.html', label: 'Start here', title: readme.title },
      ...notebooks.map((nb) => ({ href: `${nb.slug}.html`, label: notebookTitle(nb), title: notebookTitle(nb) })),
    ];
    const built: BuiltPage[] = [];
    let bookOnlyCharts = 0;
    notebooks.forEach((nb, k) => {
      const r = renderNotebook(nb, staging, md, slugs);
      bookOnlyCharts += r.bookOnly;
      const rel = path.relative(root, nb.file).split(path.sep).join('/');
      const footer =
        `Built from <span class="repo-path">${escapeHtml(rel)}</span> as committed, outputs included. ` +
        'Run and change it yourself: <a href="index.html#How-to-run-it-yourself">how to run the notebooks</a>.';
      const page = refs[k + 1]!;
      writeFileSync(
        path.join(staging, page.href),
        pageHtml({ page, pages: refs, headings: r.headings, body: r.body, charts: r.charts > 0, footer, siteName: readme.title }),
      );
      built.push({ ...page, notebook: nb.file, outputs: r.outputs, charts: r.charts, bookOnly: r.bookOnly });
    });
    if (bookOnlyCharts === 0) {
      throw new Error('no notebook has a code cell drawing demoPicture(...): the picture slider has no place in the book');
    }

    const ids = new Set<string>(['Contents', 'How-to-run-it-yourself']);
    const where = 'README.md';
    const body = [
      `<h1>${escapeHtml(readme.title)}</h1>`,
      md.render(readme.intro, { pages: slugs, where, ids }).html,
      '<h2 id="Contents">Contents</h2>',
      `<div class="toc">${md.render(readme.notebooks, { pages: slugs, where, ids }).html}</div>`,
      '<h2 id="How-to-run-it-yourself">How to run it yourself</h2>',
      md.render(readme.quickStart, { pages: slugs, where, ids }).html,
    ].join('\n');
    const headings: Heading[] = [
      { level: 2, text: 'Contents', id: 'Contents' },
      { level: 2, text: 'How to run it yourself', id: 'How-to-run-it-yourself' },
    ];
    writeFileSync(
      path.join(staging, 'index.html'),
      pageHtml({
        page: refs[0]!,
        pages: refs,
        headings,
        body,
        charts: false,
        footer: 'Every page is a notebook of this suite as executed and committed, outputs included.',
        siteName: readme.title,
      }),
    );
    built.unshift({ ...refs[0]!, outputs: 0, charts: 0, bookOnly: 0 });

    // Swap the new site in whole.
    const old = `${outDir}.old-${process.pid}`;
    if (existsSync(outDir)) renameSync(outDir, old);
    renameSync(staging, outDir);
    rmSync(old, { recursive: true, force: true });
    return { outDir, pages: built, bookOnlyCharts, bytes: dirBytes(outDir) };
  } catch (e) {
    rmSync(staging, { recursive: true, force: true });
    throw e;
  }
}
