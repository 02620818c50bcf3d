// Markdown cells to HTML for the book: markdown-it (CommonMark), math rendered at build time by KaTeX with
// Jupyter's delimiters ($…$, $$…$$, \(…\), \[…\], bare \begin{…}…\end{…}), code highlighted by highlight.js,
// headings given Jupyter's anchors (text with spaces as '-'), links to notebooks turned into links to pages.
import MarkdownIt from 'markdown-it';
import katexPluginModule from '@vscode/markdown-it-katex';
import hljs from 'highlight.js/lib/common';
import katex from 'katex';
import type { MimeBundle } from './notebook.js';
import { escapeHtml } from './outputs.js';

export interface Heading {
  level: number;
  text: string;
  id: string;
}

export interface LinkContext {
  /** Page slugs that exist (`01-svd`): `01-svd.ipynb#x` becomes `01-svd.html#x`. */
  pages: ReadonlySet<string>;
  /** A relative image path (as written in the markdown) to its URL inside the site, or undefined if missing. */
  asset?: (href: string) => string | undefined;
  /** The markdown cell's attachments, for `attachment:name` images. */
  attachments?: Record<string, MimeBundle>;
  /** Anchors already used on the page (heading ids are made unique within it). */
  ids?: Set<string>;
  /** Where the text comes from, for error messages: "01-svd.ipynb cell 4". */
  where: string;
}

// The plugin is CommonJS with `exports.default`: under Node's ESM loader the default import is the exports object.
type KatexOptions = { enableBareBlocks?: boolean; throwOnError?: boolean; katex?: typeof katex };
type PluginWithOptions<T> = (md: InstanceType<typeof MarkdownIt>, options?: T) => void;
type Token = ReturnType<InstanceType<typeof MarkdownIt>['parse']>[number];
const katexExports = katexPluginModule as unknown as PluginWithOptions<KatexOptions> & { default?: PluginWithOptions<KatexOptions> };
const markdownItKatex: PluginWithOptions<KatexOptions> = katexExports.default ?? katexExports;

/** Code highlighted as `language` (TypeScript for code cells) into <pre><code>, plain and escaped when unknown. */
export function highlightCode(code: string, language: string): string {
  const lang = hljs.getLanguage(language) ? language : undefined;
  const body = lang ? hljs.highlight(code, { language: lang, ignoreIllegals: true }).value : escapeHtml(code);
  return `<pre class="code hljs"><code${lang ? ` class="language-${lang}"` : ''}>${body}</code></pre>`;
}

/**
 * Jupyter writes inline math as \(…\) and display math as \[…\] too; markdown-it reads `\(` as an escaped
 * parenthesis, so outside code those become $…$ and $$…$$ before parsing.
 */
export function normaliseMathDelimiters(md: string): string {
  // Split off fenced blocks and inline code spans: their text is code, not math.
  const parts = md.split(/(^(?:```|~~~)[^\n]*\n[\s\S]*?^(?:```|~~~)[ \t]*$|`+[^`\n]*?`+)/m);
  return parts
    .map((part, i) =>
      i % 2 === 1
        ? part
        : part
            .replace(/\\\[([\s\S]+?)\\\]/g, (_m, tex: string) => `$$${tex}$$`)
            .replace(/\\\(([\s\S]+?)\\\)/g, (_m, tex: string) => `$${tex.trim()}$`),
    )
    .join('');
}

/** Jupyter's heading anchor: the heading's text with runs of whitespace as '-'. */
export const headingId = (text: string): string => text.trim().replace(/\s+/g, '-');

function isRelative(href: string): boolean {
  return !/^[a-z][a-z0-9+.-]*:/i.test(href) && !href.startsWith('//') && !href.startsWith('#');
}

/** A markdown renderer; `render` gives the HTML and the headings it found. */
export function createMarkdown(): { render: (src: string, ctx: LinkContext) => { html: string; headings: Heading[] } } {
  const md = new MarkdownIt({ html: true, linkify: false, typographer: false });
  // KaTeX asked to throw on a bad formula; the plugin turns that into a katex-error span, which render() below
  // reports with the cell it came from (KaTeX's own non-throwing mode would draw the bad command in red instead).
  const strict = { renderToString: (tex: string, o?: katex.KatexOptions) => katex.renderToString(tex, { ...o, throwOnError: true }) };
  md.use(markdownItKatex, { enableBareBlocks: true, throwOnError: false, katex: strict as unknown as typeof katex });
  md.options.highlight = (code: string, lang: string): string => highlightCode(code, lang || 'plaintext');
  // A wide table scrolls in its own box instead of widening the page.
  md.renderer.rules['table_open'] = () => '<div class="table-wrap"><table>\n';
  md.renderer.rules['table_close'] = () => '</table></div>\n';

  const render = (src: string, ctx: LinkContext): { html: string; headings: Heading[] } => {
    const env = {};
    const tokens = md.parse(normaliseMathDelimiters(src), env);
    const headings: Heading[] = [];
    const walk = (list: typeof tokens): void => {
      for (let i = 0; i < list.length; i++) {
        const t = list[i]!;
        if (t.type === 'heading_open') {
          const inline = list[i + 1]!;
          const text = (inline.children ?? []).map((c) => c.content).join('');
          let id = headingId(text);
          // Two headings with the same text on one page: the second gets "-1", as Jupyter Book does.
          for (let n = 1; ctx.ids?.has(id); n++) id = `${headingId(text)}-${n}`;
          ctx.ids?.add(id);
          t.attrSet('id', id);
          headings.push({ level: Number(t.tag.slice(1)), text, id });
        }
        if (t.type === 'link_open') rewriteLink(t, list, i, ctx);
        if (t.type === 'image') rewriteImage(t, ctx);
        if (t.children) walk(t.children);
      }
    };
    walk(tokens);
    const html = md.renderer.render(tokens, md.options, env);
    // The plugin's error element: the formula as its title, KaTeX's message as its text.
    const bad = /class="[^"]*katex-error[^"]*" title="([^"]*)">([^<]*)</.exec(html);
    if (bad) {
      const unescape = (t: string) => t.replace(/&quot;/g, '"').replace(/&#039;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
      throw new Error(`${ctx.where}: KaTeX cannot render ${unescape(bad[1]!)} (${unescape(bad[2]!)}); fix the formula`);
    }
    return { html, headings };
  };
  return { render };
}

function rewriteLink(t: Token, list: Token[], i: number, ctx: LinkContext): void {
  const href = String(t.attrGet('href') ?? '');
  if (/^https?:\/\//i.test(href)) {
    t.attrSet('rel', 'noopener');
    return;
  }
  if (!isRelative(href)) return;
  const m = /^(?:\.\/|\.\.\/|notebooks\/)*([^/#?]+)\.ipynb(#.*)?$/.exec(href);
  if (m && ctx.pages.has(m[1]!)) {
    t.attrSet('href', `${m[1]}.html${m[2] ?? ''}`);
    return;
  }
  // A file of the repository (bench/RESULTS.md, data/README.md): not part of the site, so the text stays and the
  // link goes; its path is kept as a tooltip.
  t.tag = 'span';
  t.attrs = [['class', 'repo-path'], ['title', href]];
  let depth = 0;
  for (let j = i + 1; j < list.length; j++) {
    const u = list[j]!;
    if (u.type === 'link_open') depth++;
    if (u.type === 'link_close') {
      if (depth === 0) {
        u.tag = 'span';
        return;
      }
      depth--;
    }
  }
}

function rewriteImage(t: Token, ctx: LinkContext): void {
  const src = String(t.attrGet('src') ?? '');
  if (src.startsWith('attachment:')) {
    const bundle = ctx.attachments?.[src.slice('attachment:'.length)];
    const mime = bundle && Object.keys(bundle).find((k) => k.startsWith('image/'));
    if (!bundle || !mime) throw new Error(`${ctx.where}: image ${src} is not among the cell's attachments`);
    t.attrSet('src', `data:${mime};base64,${String(bundle[mime]).replace(/\s+/g, '')}`);
  } else if (isRelative(src)) {
    const url = ctx.asset?.(src);
    if (url === undefined) throw new Error(`${ctx.where}: image ${src} not found beside the notebook`);
    t.attrSet('src', url);
  } else if (!src.startsWith('data:')) {
    throw new Error(`${ctx.where}: image ${src} is on the network; the book works offline: save it beside the notebook`);
  }
}
