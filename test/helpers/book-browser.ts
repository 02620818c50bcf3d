// Checks of one book page in headless Chromium (playwright-core), for test/book.browser.test.ts: what failed to
// load or asked for the network, console errors, images that do not decode, math left as TeX, charts that did
// not draw, and the controls of every chart with bound params (moved; the chart must change).
import type { Page } from 'playwright-core';

export interface PageReport {
  url: string;
  problems: string[];
  /** Element ids on the page, for anchor checks. */
  ids: string[];
  /** Same-site links (absolute URLs) found on the page. */
  links: string[];
  /** Charts whose controls were moved, and which kind of control. */
  moved: { chart: string; control: string }[];
}

/** Waits until every live chart has drawn or failed (site.js sets data-state). */
export async function chartsSettled(page: Page): Promise<void> {
  await page.waitForFunction(
    () => Array.from(document.querySelectorAll('.chart[data-chart]')).every((c) => c.hasAttribute('data-state')),
    null,
    { timeout: 30_000 },
  );
}

/** A fingerprint of a chart's pixels: its canvases' data URLs. */
async function chartPixels(page: Page, id: string): Promise<string> {
  return page.evaluate(
    (chartId) =>
      Array.from(document.getElementById(chartId)?.querySelectorAll('canvas') ?? []).map((c) => c.toDataURL()).join('|'),
    id,
  );
}

/** Polls until the chart's pixels differ from `before` (Vega redraws on the next animation frame). */
async function changed(page: Page, id: string, before: string): Promise<boolean> {
  for (let i = 0; i < 40; i++) {
    await page.waitForTimeout(50);
    if ((await chartPixels(page, id)) !== before) return true;
  }
  return false;
}

/** The in-page part: DOM checks that need no interaction. */
function inspect(): { problems: string[]; ids: string[]; links: string[]; charts: { id: string; inputs: string[]; scales: boolean }[] } {
  const problems: string[] = [];
  const skip = 'pre, code, script, style, .katex, .chart, textarea';
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const tex = /\$[^$\s][^$]*\$|\\\(|\\\[|\\begin\{/;
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (el && !el.closest(skip) && tex.test(n.textContent ?? '')) {
      problems.push(`math left as TeX: "${(n.textContent ?? '').trim().slice(0, 80)}"`);
    }
  }
  for (const e of Array.from(document.querySelectorAll('.katex-error'))) problems.push(`KaTeX error: ${e.getAttribute('title') ?? e.textContent}`);
  const charts = Array.from(document.querySelectorAll<HTMLElement>('.chart[data-chart]')).map((el) => {
    const state = el.getAttribute('data-state');
    if (state !== 'drawn') problems.push(`chart ${el.id} did not draw (state ${state})`);
    const canvases = Array.from(el.querySelectorAll('canvas'));
    if (state === 'drawn' && (canvases.length === 0 || canvases.some((c) => c.width === 0 || c.height === 0))) {
      problems.push(`chart ${el.id} has no canvas with pixels`);
    }
    // Which params the spec binds: to inputs (radio, range, ...) or to the scales (zoom and pan).
    const spec = JSON.parse(el.querySelector('script.chart-spec')?.textContent ?? '{}') as unknown;
    const inputs: string[] = [];
    let scales = false;
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') {
        const o = v as Record<string, unknown>;
        if (Array.isArray(o['params'])) {
          for (const p of o['params'] as { name: string; bind?: unknown }[]) {
            if (p.bind === 'scales') scales = true;
            else if (p.bind && typeof p.bind === 'object' && 'input' in p.bind) inputs.push(`${p.name}:${String(p.bind.input)}`);
          }
        }
        Object.values(o).forEach(walk);
      }
    };
    walk(spec);
    return { id: el.id, inputs, scales };
  });
  const ids = Array.from(document.querySelectorAll('[id]')).map((e) => e.id);
  const links = Array.from(document.querySelectorAll<HTMLAnchorElement>('a[href]'))
    .filter((a) => a.protocol === location.protocol && a.host === location.host)
    .map((a) => a.href);
  return { problems, ids, links, charts };
}

/** Moves one control of a chart: another radio button, the slider to its other end, the next option. */
async function moveControl(page: Page, chartId: string, kind: string): Promise<boolean> {
  return page.evaluate(
    ({ id, kind }) => {
      const root = document.getElementById(id)!;
      const fire = (el: HTMLElement) => {
        el.dispatchEvent(new Event('input', { bubbles: true }));
        el.dispatchEvent(new Event('change', { bubbles: true }));
      };
      if (kind === 'radio') {
        const radios = Array.from(root.querySelectorAll<HTMLInputElement>('.vega-bindings input[type=radio]'));
        const target = radios.find((r) => !r.checked && radios.indexOf(r) === Math.floor(radios.length / 2)) ?? radios.find((r) => !r.checked);
        if (!target) return false;
        target.click();
        return true;
      }
      if (kind === 'range') {
        const input = root.querySelector<HTMLInputElement>('.vega-bindings input[type=range]');
        if (!input) return false;
        input.value = Number(input.value) === Number(input.min) ? input.max : input.min;
        fire(input);
        return true;
      }
      if (kind === 'select') {
        const select = root.querySelector<HTMLSelectElement>('.vega-bindings select');
        if (!select || select.options.length < 2) return false;
        select.selectedIndex = (select.selectedIndex + 1) % select.options.length;
        fire(select);
        return true;
      }
      const box = root.querySelector<HTMLInputElement>('.vega-bindings input[type=checkbox]');
      if (!box) return false;
      box.click();
      return true;
    },
    { id: chartId, kind },
  );
}

/** Runs every check on an open page (loaded, charts settled). */
export async function checkPage(page: Page): Promise<PageReport> {
  const url = page.url();
  const r = await page.evaluate(inspect);
  const problems = [...r.problems];
  // Images: every <img> decodes (hidden PNG fallbacks too).
  const bad = await page.evaluate(async () => {
    const out: string[] = [];
    for (const img of Array.from(document.querySelectorAll('img'))) {
      try {
        await img.decode();
        if (img.naturalWidth === 0) out.push(img.src.slice(0, 100));
      } catch {
        out.push(img.src.slice(0, 100));
      }
    }
    return out;
  });
  problems.push(...bad.map((src) => `image does not decode: ${src}`));
  const moved: PageReport['moved'] = [];
  for (const chart of r.charts) {
    for (const input of chart.inputs) {
      const kind = input.split(':')[1]!;
      await page.locator(`[id="${chart.id}"]`).scrollIntoViewIfNeeded();
      const before = await chartPixels(page, chart.id);
      if (!(await moveControl(page, chart.id, kind))) {
        problems.push(`chart ${chart.id}: its spec binds ${input} but the page shows no such control`);
      } else if (!(await changed(page, chart.id, before))) {
        problems.push(`chart ${chart.id}: moving ${input} did not change the chart`);
      } else {
        moved.push({ chart: chart.id, control: input });
      }
    }
    if (chart.scales) {
      const canvas = page.locator(`[id="${chart.id}"] canvas`).first();
      await canvas.scrollIntoViewIfNeeded();
      const box = await canvas.boundingBox();
      const before = await chartPixels(page, chart.id);
      if (box === null) {
        problems.push(`chart ${chart.id}: no canvas to zoom`);
        continue;
      }
      await page.mouse.move(box.x + box.width * 0.4, box.y + box.height * 0.5);
      await page.mouse.wheel(0, -240);
      if (!(await changed(page, chart.id, before))) problems.push(`chart ${chart.id}: the wheel did not zoom it`);
      else moved.push({ chart: chart.id, control: 'zoom:wheel' });
      await page.mouse.move(0, 0);
    }
  }
  return { url, problems, ids: r.ids, links: r.links, moved };
}

/** Broken same-site links: a page that was not visited (or does not exist) or an anchor it does not have. */
export function brokenLinks(reports: PageReport[], exists: (url: string) => boolean): string[] {
  const byPage = new Map(reports.map((r) => [r.url.split('#')[0]!, new Set(r.ids)]));
  const out: string[] = [];
  for (const r of reports) {
    for (const link of r.links) {
      const [target, hash] = link.split('#') as [string, string | undefined];
      const ids = byPage.get(target);
      if (ids === undefined) {
        if (!exists(target)) out.push(`${r.url}: link to ${link}: no such page`);
        continue;
      }
      if (hash !== undefined && hash !== '' && !ids.has(decodeURIComponent(hash))) {
        out.push(`${r.url}: link to ${link}: no element with id "${decodeURIComponent(hash)}"`);
      }
    }
  }
  return out;
}
