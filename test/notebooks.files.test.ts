// The committed notebooks as files: what Jupyter writes back when a reader opens and saves one unchanged must be
// the same bytes (the kernel's own language_info, no whole-number floats: JavaScript saves 1.0 as 1), and every
// code line fits a notebook column.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findJupyterPython, jupyterEnv } from '../scripts/lib/jupyter.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = path.join(root, 'notebooks');
const files = readdirSync(dir).filter((f) => f.endsWith('.ipynb')).sort();
const MAX_CODE_LINE = 100;
// The notebooks that `npm test` must also run with a non-default parameter set (scripts/notebooks.ts overrides).
const WITH_TEST_SET = ['01-', '02-', '03-', '04-', '05-'];

interface Cell {
  cell_type: string;
  source: string | string[];
  metadata?: { tags?: string[] };
}
const read = (f: string) => JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as { metadata: Record<string, unknown>; cells: Cell[] };

/** Number tokens of a JSON text (strings skipped), as written. */
function jsonNumberTokens(text: string): string[] {
  const out: string[] = [];
  const re = /"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g;
  for (const m of text.matchAll(re)) if (m[0][0] !== '"') out.push(m[0]);
  return out;
}

describe('notebook files', () => {
  it('finds the notebooks', () => assert.ok(files.length >= 9, files.join(', ')));

  it("carry exactly the language_info of a live kernel_info reply and the project's kernelspec", () => {
    const python = findJupyterPython();
    assert.ok(python, 'Jupyter is needed (npm test runs the set-up that installs it)');
    const r = spawnSync(python, [path.join(root, 'scripts', 'nbrun.py'), 'info'], { env: jupyterEnv(), encoding: 'utf8', timeout: 90_000 });
    assert.equal(r.status, 0, r.stderr);
    const live = JSON.parse(r.stdout) as { language_info: Record<string, unknown> };
    assert.equal(live.language_info['name'], 'typescript');
    for (const f of files) {
      const nb = read(f);
      assert.deepEqual(nb.metadata['language_info'], live.language_info, `${f}: language_info differs from the kernel's`);
      assert.deepEqual(nb.metadata['kernelspec'], { display_name: 'TypeScript (lora-lab)', language: 'typescript', name: 'lora-lab' }, f);
    }
  });

  it('hold no whole-number float (1.0, 2e+20) that a browser would save as an integer', () => {
    assert.deepEqual(jsonNumberTokens('{"a": 1.0, "b": "2.0", "c": [3, 1.5e-7, 2e+20]}'), ['1.0', '3', '1.5e-7', '2e+20']);
    for (const f of files) {
      const bad = jsonNumberTokens(readFileSync(path.join(dir, f), 'utf8')).filter((t) => /[.eE]/.test(t) && Number.isInteger(Number(t)));
      assert.deepEqual(bad, [], `${f}: whole-number floats`);
    }
  });

  it(`have code lines of at most ${MAX_CODE_LINE} characters`, () => {
    const long: string[] = [];
    for (const f of files) {
      read(f).cells.forEach((c, i) => {
        if (c.cell_type !== 'code') return;
        const src = Array.isArray(c.source) ? c.source.join('') : c.source;
        src.split('\n').forEach((l, j) => {
          if (l.length > MAX_CODE_LINE) long.push(`${f} cell ${i} line ${j + 1}: ${l.length} characters`);
        });
      });
    }
    assert.deepEqual(long, []);
  });
  it('declare their knobs with let in parameters cells, and 01-05 name a test set that changes them', () => {
    const text = (c: Cell) => (Array.isArray(c.source) ? c.source.join('') : c.source);
    const squash = (v: string) => v.replace(/\s+/g, '').replace(/'/g, '"').replace(/,([\]}])/g, '$1');
    const problems: string[] = [];
    for (const f of files) {
      const nb = read(f);
      const params = nb.cells.filter((c) => c.cell_type === 'code' && c.metadata?.tags?.includes('parameters'));
      const defaults = new Map<string, string>();
      for (const c of params) {
        const src = text(c);
        for (const m of src.matchAll(/^const\s+(\w+)\s*=/gm)) problems.push(`${f}: parameter ${m[1]} is a const`);
        // `let name = value;` up to the first `;` that ends a line or precedes a comment
        for (const m of src.matchAll(/^let\s+(\w+)(?:\s*:[^=]+)?\s*=\s*([\s\S]*?);[ \t]*(?:\/\/.*)?$/gm)) {
          defaults.set(m[1]!, m[2]!.replace(/\/\/.*$/gm, ''));
        }
      }
      const set = (nb.metadata['lora_lab'] as { test_parameters?: Record<string, unknown> } | undefined)?.test_parameters;
      if (set === undefined) {
        if (WITH_TEST_SET.some((p) => f.startsWith(p))) problems.push(`${f}: no lora_lab.test_parameters`);
        continue;
      }
      let changed = 0;
      for (const [name, value] of Object.entries(set)) {
        const d = defaults.get(name);
        if (d === undefined) problems.push(`${f}: test parameter ${name} is not declared with let in a parameters cell`);
        else if (squash(d) !== squash(JSON.stringify(value))) changed++;
      }
      if (changed === 0) problems.push(`${f}: the test set changes no default`);
    }
    assert.deepEqual(problems, []);
  });
});
