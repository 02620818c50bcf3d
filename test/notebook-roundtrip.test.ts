// A committed notebook, opened in classic Jupyter Notebook (headless Chromium) and saved without edits once its
// kernel has connected, is byte-identical: nothing in the file is left for Jupyter to rewrite (language_info,
// numbers, cell metadata), so a reader's `git status` stays clean.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { CHROMIUM_ARGS, findChromium, INSTALL_CHROMIUM_HELP } from '../scripts/lib/chromium.js';
import { findJupyterPython, jupyterEnv } from '../scripts/lib/jupyter.js';

const root = path.join(import.meta.dirname, '..');
const NOTEBOOKS = ['00-setup.ipynb', '01-svd.ipynb'];
const executable = findChromium();
const ci = process.env['CI'] === 'true';
const skip = executable === undefined && !ci ? `no Chromium for the round-trip test; install it: ${INSTALL_CHROMIUM_HELP}` : false;

describe('notebooks saved back by classic Jupyter Notebook', { skip }, () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lora-lab-roundtrip-'));
  const token = Math.random().toString(36).slice(2);
  const port = 20000 + (process.pid % 20000);
  let server: ChildProcess;
  let browser: Browser;
  let log = '';

  before(async () => {
    if (executable === undefined) throw new Error(`CI=true and no Chromium: ${INSTALL_CHROMIUM_HELP}`);
    const python = findJupyterPython();
    assert.ok(python, 'Jupyter is needed');
    for (const nb of NOTEBOOKS) copyFileSync(path.join(root, 'notebooks', nb), path.join(dir, nb));
    server = spawn(python, ['-m', 'notebook', '--no-browser', `--port=${port}`, '--port-retries=0', `--NotebookApp.token=${token}`,
      '--allow-root', `--notebook-dir=${dir}`], { env: jupyterEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    server.stdout!.on('data', (d) => (log += d));
    server.stderr!.on('data', (d) => (log += d));
    for (let i = 0; i < 100 && !/is running at|Jupyter Notebook .* is running/.test(log); i++) await new Promise((r) => setTimeout(r, 100));
    assert.match(log, /running at/, `the notebook server did not start:\n${log}`);
    browser = await chromium.launch({ executablePath: executable, args: CHROMIUM_ARGS });
  });

  after(async () => {
    await browser?.close();
    server?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const nb of NOTEBOOKS) {
    it(`${nb} comes back byte for byte`, async () => {
      const file = path.join(dir, nb);
      const before = readFileSync(file);
      const mtime = statSync(file).mtimeMs;
      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${port}/notebooks/${nb}?token=${token}`);
      await page.waitForFunction(() => (globalThis as any).Jupyter?.notebook?._fully_loaded === true, null, { timeout: 60_000 });
      // The frontend copies the kernel's language_info into the notebook once the kernel answers kernel_info.
      await page.waitForFunction(() => (globalThis as any).Jupyter.notebook.kernel?.info_reply?.language_info !== undefined, null, { timeout: 60_000 });
      assert.equal(await page.evaluate(() => (globalThis as any).Jupyter.notebook.trusted), true, `${nb} opens "Not Trusted"`);
      await page.evaluate(() => (globalThis as any).Jupyter.notebook.save_notebook());
      for (let i = 0; i < 100 && statSync(file).mtimeMs === mtime; i++) await new Promise((r) => setTimeout(r, 100));
      assert.notEqual(statSync(file).mtimeMs, mtime, 'the notebook was not saved');
      await page.evaluate(() => (globalThis as any).Jupyter.notebook.kernel.kill());
      await page.close();
      const after = readFileSync(file);
      if (!after.equals(before)) {
        const a = before.toString('utf8').split('\n');
        const b = after.toString('utf8').split('\n');
        const i = a.findIndex((l, k) => l !== b[k]);
        assert.fail(`${nb} changed on save; first difference at line ${i + 1}:\n- ${a[i]}\n+ ${b[i]}`);
      }
    });
  }
});
