// The book in a real browser: Debian's Chromium driven by playwright-core opens every page of the book built
// from the committed notebooks (and of a fixture book with math, errors and the chart helpers' params) from
// file:// and from a static server on 127.0.0.1. Fails on a console error, a failed or external request, an image
// that does not decode, a broken internal link or anchor, math left as TeX, a chart that did not draw, a chart
// control that moves nothing, or sideways scrolling at 375 px. Screenshots (desktop, phone) go to out/book-screenshots/.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { Server } from 'node:http';
import { buildBook, type BuildResult } from '../scripts/book/build.js';
import { serveDir } from '../scripts/book/serve.js';
import { CHROMIUM_ARGS, findChromium, INSTALL_CHROMIUM_HELP } from '../scripts/lib/chromium.js';
import { brokenLinks, chartsSettled, checkPage, type PageReport } from './helpers/book-browser.js';
import { writeBookFixture } from './helpers/book-fixture.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const WORK = path.join(ROOT, 'out', 'book-test');
const SHOTS = path.join(ROOT, 'out', 'book-screenshots');
const PHONE = { width: 375, height: 740 };
const DESKTOP = { width: 1280, height: 900 };

const executable = findChromium();
const ci = process.env['CI'] === 'true';
const skip = executable === undefined && !ci ? `no Chromium for the book test; install it: ${INSTALL_CHROMIUM_HELP}` : false;

describe('the book in a real browser', { skip }, () => {
  let browser: Browser;
  let server: Server;
  let base: string;
  const books: { name: string; result: BuildResult }[] = [];

  before(async () => {
    if (executable === undefined) throw new Error(`CI=true and no Chromium: ${INSTALL_CHROMIUM_HELP}`);
    rmSync(WORK, { recursive: true, force: true });
    books.push({ name: 'book', result: buildBook({ root: ROOT, outDir: path.join(WORK, 'book') }) });
    const fixture = await writeBookFixture(path.join(WORK, 'fixture-src'));
    books.push({ name: 'fixture', result: buildBook({ root: fixture, outDir: path.join(WORK, 'fixture') }) });
    ({ server, url: base } = await serveDir(WORK));
    browser = await chromium.launch({ executablePath: executable, args: CHROMIUM_ARGS });
    rmSync(SHOTS, { recursive: true, force: true });
    mkdirSync(SHOTS, { recursive: true });
  });

  after(async () => {
    await browser?.close();
    server?.closeAllConnections();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  });

  /** A context that lets no request leave the machine and records every request that failed or tried to. */
  async function guardedContext(viewport: { width: number; height: number }, allowed: (url: URL) => boolean) {
    const context: BrowserContext = await browser.newContext({ viewport });
    // tsx compiles this file with esbuild's keepNames, which wraps named functions in __name(): functions handed
    // to page.evaluate need that helper on the page too.
    await context.addInitScript({ content: 'globalThis.__name = globalThis.__name || ((f) => f);' });
    const requests: string[] = [];
    await context.route('**/*', (route) => {
      const url = new URL(route.request().url());
      if (allowed(url)) return route.continue();
      requests.push(`external request: ${url.href.slice(0, 120)}`);
      return route.abort();
    });
    context.on('requestfailed', (r) => requests.push(`failed request: ${r.url().slice(0, 120)} (${r.failure()?.errorText})`));
    context.on('response', (r) => {
      if (r.status() >= 400) requests.push(`HTTP ${r.status()}: ${r.url()}`);
    });
    return { context, requests };
  }

  async function open(context: BrowserContext, url: string): Promise<{ page: Page; errors: string[] }> {
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`console error: ${m.text()}`);
    });
    page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
    await page.goto(url, { waitUntil: 'load' });
    await chartsSettled(page);
    return { page, errors };
  }

  for (const origin of ['file', 'http'] as const) {
    it(`every page from ${origin === 'file' ? 'file://' : 'a static server on 127.0.0.1'}: loads offline, draws, links`, async () => {
      const urlOf = (book: string, href: string) =>
        origin === 'file' ? pathToFileURL(path.join(WORK, book, href)).href : new URL(`${book}/${href}`, base).href;
      const allowed = (u: URL) =>
        u.protocol === 'data:' || u.protocol === 'blob:' ||
        (origin === 'file' ? u.protocol === 'file:' : u.origin === new URL(base).origin);
      const { context, requests } = await guardedContext(DESKTOP, allowed);
      const reports: PageReport[] = [];
      const problems: string[] = [];
      for (const { name, result } of books) {
        for (const p of result.pages) {
          const { page, errors } = await open(context, urlOf(name, p.href));
          const report = await checkPage(page);
          const drawn = await page.locator('.chart[data-state="drawn"]').count();
          if (drawn !== p.charts) problems.push(`${name}/${p.href}: ${drawn} of ${p.charts} charts drew`);
          const outputs = await page.locator('.outputs > .output').count();
          if (outputs !== p.outputs + p.bookOnly) {
            problems.push(`${name}/${p.href}: ${outputs} outputs on the page, ${p.outputs} in the notebook + ${p.bookOnly}`);
          }
          problems.push(...[...errors, ...report.problems].map((e) => `${name}/${p.href}: ${e}`));
          reports.push(report);
          if (origin === 'http') await page.screenshot({ path: path.join(SHOTS, `${name}-${p.href}-desktop.png`), fullPage: true });
          await page.close();
        }
      }
      const exists = (url: string) => {
        const u = new URL(url);
        return origin === 'file' ? existsSync(fileURLToPath(u)) : existsSync(path.join(WORK, decodeURIComponent(u.pathname)));
      };
      problems.push(...brokenLinks(reports, exists), ...requests);
      await context.close();
      assert.deepEqual(problems, [], problems.join('\n'));

      // The controls were really moved: the SVD picture's slider over k, and the fixture's rank sweep radios and
      // training-curve zoom (the notebooks' own specs get them when re-executed; any that have them were moved too).
      const moved = reports.flatMap((r) => r.moved.map((m) => `${path.basename(new URL(r.url).pathname)} ${m.control}`));
      assert.ok(moved.includes('01-svd.html k:range'), `the picture slider moved: ${moved.join(', ')}`);
      assert.ok(moved.includes('a-first.html pick:radio'), 'the rank sweep radio buttons moved their chart');
      assert.ok(moved.includes('a-first.html zoom:wheel'), 'the training curve zoomed');
    });
  }

  it('the checks catch a broken page (each kind of fault once)', async () => {
    const dir = path.join(WORK, 'broken');
    mkdirSync(dir, { recursive: true });
    const spec = JSON.stringify({ params: [{ name: 'k', value: 1, bind: { input: 'range', min: 1, max: 3 } }] });
    writeFileSync(
      path.join(dir, 'index.html'),
      '<!doctype html><html><head><link rel="icon" href="data:,"></head><body>' +
        '<p>Left as TeX: $x^2$ and \\(y\\)</p><img src="missing.png"><img src="https://example.invalid/x.png">' +
        '<a href="#nowhere">a dead anchor</a><a href="gone.html">a dead page</a>' +
        `<div class="chart" id="c1" data-chart="c1" data-state="failed"><script type="application/json" class="chart-spec">${spec}</script></div>` +
        '<div style="width: 2000px">too wide</div><script>console.error("boom")</script></body></html>',
    );
    const { context, requests } = await guardedContext(PHONE, (u) => u.protocol === 'file:' || u.protocol === 'data:');
    const { page, errors } = await open(context, pathToFileURL(path.join(dir, 'index.html')).href);
    const report = await checkPage(page);
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    await context.close();
    const all = [...errors, ...report.problems, ...requests, ...brokenLinks([report], (u) => existsSync(fileURLToPath(u)))];
    const expect = [
      /^console error: boom$/, /^math left as TeX: "Left as TeX/, /^image does not decode: file:.*missing\.png/,
      /^external request: https:\/\/example\.invalid/, /^failed request: file:.*missing\.png/, /^chart c1 did not draw/,
      /^chart c1: its spec binds k:range but the page shows no such control/, /link to .*#nowhere: no element with id/,
      /link to .*gone\.html: no such page/,
    ];
    for (const re of expect) assert.ok(all.some((p) => re.test(p)), `expected a problem matching ${re}; got:\n${all.join('\n')}`);
    assert.ok(width > PHONE.width, 'the overflow is measured');
  });

  it('on a 375-px phone nothing scrolls sideways; screenshots of every page', async () => {
    const origin = new URL(base).origin;
    const { context, requests } = await guardedContext(PHONE, (u) => u.protocol === 'data:' || u.origin === origin);
    const problems: string[] = [];
    for (const { name, result } of books) {
      for (const p of result.pages) {
        const { page, errors } = await open(context, new URL(`${name}/${p.href}`, base).href);
        const width = await page.evaluate(() => document.documentElement.scrollWidth);
        if (width > PHONE.width) {
          const culprit = await page.evaluate((w) => {
            const wide = Array.from(document.querySelectorAll<HTMLElement>('body *')).find((e) => e.getBoundingClientRect().right > w + 1);
            return wide ? `${wide.tagName.toLowerCase()}.${wide.className}` : '?';
          }, PHONE.width);
          problems.push(`${name}/${p.href}: the page is ${width} px wide at ${PHONE.width} px (first too wide: ${culprit})`);
        }
        problems.push(...errors.map((e) => `${name}/${p.href}: ${e}`));
        await page.screenshot({ path: path.join(SHOTS, `${name}-${p.href}-phone.png`), fullPage: true });
        await page.close();
      }
    }
    await context.close();
    problems.push(...requests);
    console.log(`book screenshots (desktop and phone): ${SHOTS}`);
    assert.deepEqual(problems, [], problems.join('\n'));
  });
});
