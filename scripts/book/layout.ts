// The HTML frame around every page of the book: head (KaTeX and highlight.js styles, the site's CSS), a sidebar
// with every page and the current page's sections, previous/next links, and the classic scripts (Vega, Vega-Lite,
// vega-embed, the site's own) at the end: no modules and no fetch, so pages work from file:// as from a server.
import { escapeHtml } from './outputs.js';
import type { Heading } from './markdown.js';

export interface PageRef {
  /** File name in the site: `index.html`, `01-svd.html`. */
  href: string;
  /** Short label for the sidebar: "01 · SVD". */
  label: string;
  /** Full title. */
  title: string;
}

export interface PageFrame {
  page: PageRef;
  pages: PageRef[];
  /** The page's own section headings (level 2 and 3 go into the sidebar). */
  headings: Heading[];
  body: string;
  /** Whether the page has live charts (then the chart scripts are loaded). */
  charts: boolean;
  /** A line under the page, e.g. which notebook it was built from. */
  footer: string;
  /** The site's name. */
  siteName: string;
}

function pager(pages: PageRef[], i: number): string {
  const prev = pages[i - 1];
  const next = pages[i + 1];
  const link = (p: PageRef | undefined, rel: 'prev' | 'next'): string =>
    p
      ? `<a class="${rel}" rel="${rel}" href="${p.href}"><span class="dir">${rel === 'prev' ? '← previous' : 'next →'}</span>` +
        `<span class="name">${escapeHtml(p.label)}</span></a>`
      : '<span></span>';
  return `<nav class="pager" aria-label="previous and next page">${link(prev, 'prev')}${link(next, 'next')}</nav>`;
}

function sidebar(f: PageFrame): string {
  const items = f.pages.map((p) => {
    const current = p.href === f.page.href;
    const sections = current
      ? f.headings
          .filter((h) => h.level === 2 || h.level === 3)
          .map((h) => `<li class="h${h.level}"><a href="#${encodeURIComponent(h.id)}">${escapeHtml(h.text)}</a></li>`)
          .join('')
      : '';
    return (
      `<li${current ? ' class="current"' : ''}><a href="${p.href}"${current ? ' aria-current="page"' : ''}>` +
      `${escapeHtml(p.label)}</a>${sections ? `<ul class="sections">${sections}</ul>` : ''}</li>`
    );
  });
  return (
    '<details class="sidebar" open><summary>Contents</summary>' +
    `<nav aria-label="contents"><ul class="pages">${items.join('')}</ul></nav></details>`
  );
}

/** A whole page. */
export function pageHtml(f: PageFrame): string {
  const i = f.pages.findIndex((p) => p.href === f.page.href);
  const scripts = f.charts
    ? ['assets/vega.min.js', 'assets/vega-lite.min.js', 'assets/vega-embed.min.js', 'assets/site.js']
    : ['assets/site.js'];
  const title = f.page.href === 'index.html' ? f.siteName : `${f.page.title} · ${f.siteName}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="assets/katex/katex.min.css">
<link rel="stylesheet" href="assets/highlight.css">
<link rel="stylesheet" href="assets/site.css">
</head>
<body>
<header class="topbar"><a class="home" href="index.html">${escapeHtml(f.siteName)}</a></header>
<div class="layout">
${sidebar(f)}
<main class="content">
${pager(f.pages, i)}
<article>
${f.body}
</article>
${pager(f.pages, i)}
<footer>${f.footer}</footer>
</main>
</div>
${scripts.map((s) => `<script src="${s}"></script>`).join('\n')}
</body>
</html>
`;
}
