// The book builder without a browser: every output of a notebook lands on its page, math is typeset at build
// time, notebook links become page links, the picture slider's frames are the library's M_k (the last one the
// picture itself), a failed build leaves the previous book alone, and the static server stays in its folder.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { get } from 'node:http';
import { inflateSync } from 'node:zlib';
import { buildBook, type BuildResult } from '../scripts/book/build.js';
import { normaliseMathDelimiters } from '../scripts/book/markdown.js';
import { grayPng } from '../scripts/book/png.js';
import { pictureSliderSpec } from '../scripts/book/picture-slider.js';
import { serveDir } from '../scripts/book/serve.js';
import { demoPicture } from '../src/linalg/index.js';
import { rankSweepSpec, writeBookFixture } from './helpers/book-fixture.js';

/** Decodes the 8-bit grayscale PNGs grayPng writes (filters None and Up) back into rows of bytes. */
function decodeGray(png: Uint8Array): { width: number; height: number; rows: number[][] } {
  const dv = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const width = dv.getUint32(16);
  const height = dv.getUint32(20);
  assert.equal(png[24], 8, 'bit depth 8');
  assert.equal(png[25], 0, 'colour type 0 (gray)');
  const idat: Uint8Array[] = [];
  for (let at = 8; at < png.length; ) {
    const len = dv.getUint32(at);
    const type = Buffer.from(png.subarray(at + 4, at + 8)).toString('latin1');
    if (type === 'IDAT') idat.push(png.subarray(at + 8, at + 8 + len));
    at += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const rows: number[][] = [];
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (width + 1)]!;
    const line = Array.from(raw.subarray(y * (width + 1) + 1, (y + 1) * (width + 1)));
    if (filter === 2) rows.push(line.map((v, x) => (v + rows[y - 1]![x]!) & 255));
    else if (filter === 0) rows.push(line);
    else throw new Error(`unexpected PNG filter ${filter}`);
  }
  return { width, height, rows };
}

describe('book build', () => {
  let dir: string;
  let built: BuildResult;
  const page = (name: string) => readFileSync(path.join(dir, 'site', name), 'utf8');

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'lora-lab-book-'));
    await writeBookFixture(path.join(dir, 'src'));
    built = buildBook({ root: path.join(dir, 'src'), outDir: path.join(dir, 'site') });
  });

  it('builds an index and one page per notebook, with every output on its page', () => {
    assert.deepEqual(built.pages.map((p) => p.href), ['index.html', 'a-first.html', 'b-second.html']);
    assert.deepEqual(built.pages.map((p) => p.outputs), [0, 7, 1]);
    const a = page('a-first.html');
    assert.match(a, /<pre class="output stream stdout">hello\n<\/pre>/);
    assert.match(a, /<pre class="output stream stderr">careful\n<\/pre>/);
    assert.match(a, /<pre class="output error">Error: boom\n {4}at &lt;cell&gt;:1:7<\/pre>/, 'error text, colour codes removed');
    assert.match(a, /<caption>a table<\/caption>/);
    assert.equal((a.match(/class="output chart"/g) ?? []).length, 3);
  });

  it('inlines each chart spec exactly, with its PNG as a file beside the page at its CSS size', () => {
    const a = page('a-first.html');
    const specs = [...a.matchAll(/<script type="application\/json" class="chart-spec">(.*?)<\/script>/g)].map((m) => JSON.parse(m[1]!));
    assert.deepEqual(specs[0], JSON.parse(JSON.stringify(rankSweepSpec())));
    const img = /<div class="chart-fallback"><img src="(images\/a-first-c4-o0\.png)" alt="([^"]*)" width="(\d+)">/.exec(a);
    assert.ok(img, 'the rank sweep PNG is the fallback');
    const png = readFileSync(path.join(dir, 'site', img[1]!));
    assert.equal(Number(img[3]) * 2, png.readUInt32BE(16), 'shown at the design size its metadata gives');
    const old = /<img src="(images\/a-first-c5-o0\.png)" alt="[^"]*" width="(\d+)">/.exec(a);
    assert.ok(old, 'an output without size metadata');
    const oldPng = readFileSync(path.join(dir, 'site', old[1]!));
    assert.equal(Number(old[2]) * 2, oldPng.readUInt32BE(16), 'a lora-lab chart PNG without metadata: drawn at 2×, shown at half');
    assert.ok(existsSync(path.join(dir, 'site', 'images', 'a-first', 'stripes.png')), 'the markdown image is copied');
  });

  it('typesets math at build time in all of Jupyter’s delimiters, leaving code alone', () => {
    const a = page('a-first.html');
    assert.ok((a.match(/class="katex"/g) ?? []).length >= 5, 'inline $, \\(…\\), $$, \\[…\\] and \\begin{align}');
    assert.ok(!/\$\\sigma|\\\(W_0|\\\[ \\\|M|\\begin\{align\}/.test(a.replace(/<annotation[^>]*>[\s\S]*?<\/annotation>/g, '')));
    assert.match(a, /<code>\$not math\$<\/code>/);
    assert.equal(normaliseMathDelimiters('`\\(x\\)` and \\(y\\)'), '`\\(x\\)` and $y$');
  });

  it('turns links to notebooks into links to pages, README’s too', () => {
    assert.match(page('a-first.html'), /href="b-second\.html#Compressing-a-picture"/);
    assert.match(page('b-second.html'), /href="a-first\.html#Display-math"/);
    const index = page('index.html');
    assert.match(index, /<a href="a-first\.html">a-first<\/a><\/td>\s*<td>math, errors, charts with params<\/td>/);
    assert.match(index, /href="b-second\.html">the second notebook<\/a>/);
    assert.match(index, /id="How-to-run-it-yourself"[\s\S]*npm install &amp;&amp; npm start/);
  });

  it('bundles everything a page loads: no address off the site', () => {
    for (const name of readdirSync(path.join(dir, 'site')).filter((f) => f.endsWith('.html'))) {
      const html = page(name);
      const refs = [...html.matchAll(/\b(?:src|href)="([^"#]+)[^"]*"/g)].map((m) => m[1]!);
      for (const ref of refs.filter((r) => !/^(https?:|data:)/.test(r))) {
        assert.ok(existsSync(path.join(dir, 'site', ref)), `${name} refers to ${ref}, which the build did not write`);
      }
      const loaded = [...html.matchAll(/<(?:script|link|img)\b[^>]*\b(?:src|href)="(https?:[^"]*)"/g)].map((m) => m[1]);
      assert.deepEqual(loaded, [], `${name} loads nothing from the network`);
      assert.doesNotMatch(html, /type="module"|fetch\(/, 'file:// runs no modules and no fetch');
    }
  });

  it('a failed build says why and leaves the previous book as it was', async () => {
    const src = path.join(dir, 'src');
    const before = page('a-first.html');
    const bad = JSON.parse(readFileSync(path.join(src, 'notebooks', 'a-first.ipynb'), 'utf8'));
    bad.cells[0].source = 'An unknown macro: $\\nosuchmacro$';
    writeFileSync(path.join(src, 'notebooks', 'a-first.ipynb'), JSON.stringify(bad));
    assert.throws(() => buildBook({ root: src, outDir: path.join(dir, 'site') }), /a-first\.ipynb cell 0: KaTeX cannot render \\nosuchmacro/);
    assert.equal(page('a-first.html'), before);
    assert.deepEqual(readdirSync(dir).filter((f) => f.includes('.tmp-') || f.includes('.old-')), [], 'no staging folder left');
    writeFileSync(path.join(src, 'notebooks', 'c-third.ipynb'), JSON.stringify({ nbformat: 4, cells: [] }));
    assert.throws(() => buildBook({ root: src, outDir: path.join(dir, 'x') }), /README\.md's notebook table has no row for c-third: add one/);
  });

  it('the static server serves the site, 404s what is missing and never leaves its folder', async () => {
    const { server, url } = await serveDir(path.join(dir, 'site'));
    try {
      const index = await fetch(url);
      assert.equal(index.status, 200);
      assert.match(index.headers.get('content-type') ?? '', /^text\/html/);
      assert.equal((await fetch(new URL('assets/vega.min.js', url))).headers.get('content-type'), 'text/javascript; charset=utf-8');
      assert.equal((await fetch(new URL('nope.html', url))).status, 404);
      // a raw request with an encoded slash: URL parsing removes plain ".." segments before the server sees them
      const raw = await new Promise<number>((resolve, reject) => {
        const u = new URL(url);
        get({ host: u.hostname, port: u.port, path: '/..%2fsrc%2fREADME.md' }, (res) => resolve(res.statusCode ?? 0)).on('error', reject);
      });
      assert.equal(raw, 403);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('the picture slider (book-only chart of 01-svd)', () => {
  it('holds M_k for every k from 1 to n; the last frame is the picture itself', () => {
    const size = 24;
    const spec = pictureSliderSpec(size, 5);
    const parts = spec['hconcat'] as { data: { values: Record<string, unknown>[] } }[];
    const frames = parts[0]!.data.values as { k: number; url: string }[];
    assert.deepEqual(frames.map((f) => f.k), Array.from({ length: size }, (_, i) => i + 1));
    const decode = (url: string) => decodeGray(new Uint8Array(Buffer.from(url.split(',')[1]!, 'base64')));
    const last = decode(frames[size - 1]!.url);
    assert.equal(last.width, size * 3);
    const picture = demoPicture(size);
    let worst = 0;
    for (let i = 0; i < size; i++) {
      for (let j = 0; j < size; j++) worst = Math.max(worst, Math.abs(last.rows[3 * i]![3 * j]! - 255 * picture[i]![j]!));
    }
    assert.ok(worst <= 0.5 + 1e-6, `M_n rebuilds the picture to PNG rounding (worst ${worst} of 255)`);
    assert.notDeepEqual(decode(frames[0]!.url).rows, last.rows, 'M_1 is not the picture');
    const curve = parts[1]!.data.values as { k: number; measure: string; value: number }[];
    const err = curve.filter((c) => c.measure.startsWith('relative error')).map((c) => c.value);
    assert.ok(err.every((e, i) => i === 0 || e <= err[i - 1]! + 1e-12), 'the error never grows with k');
    assert.ok(err[size - 1]! < 1e-10);
    const storage = curve.filter((c) => c.measure.startsWith('storage'));
    assert.ok(storage.every((s) => Math.abs(s.value - (s.k * (2 * size + 1)) / (size * size)) < 1e-15));
    assert.deepEqual(spec['params'], [{ name: 'k', value: 5, bind: { input: 'range', min: 1, max: size, step: 1, name: 'k ' } }]);
  });

  it('grayPng writes what it was given, block-scaled', () => {
    const png = decodeGray(grayPng([[0, 0.5], [1, 0.25]], 2));
    assert.deepEqual(png.rows, [[0, 0, 128, 128], [0, 0, 128, 128], [255, 255, 64, 64], [255, 255, 64, 64]]);
    assert.throws(() => grayPng([[0], [0, 1]]), /row 1 has 2 entries, row 0 has 1/);
  });
});
