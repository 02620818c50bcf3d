// With every Vulkan driver hidden (VK_DRIVER_FILES pointing at an empty folder), the webgpu tests skip with one
// line naming the reason and the fix outside CI, and fail under CI=true; `auto` and `lora-lab backends` print
// nothing on stderr either way (Dawn is probed in a child process).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function run(args: string[], env: Record<string, string | undefined>) {
  const merged: NodeJS.ProcessEnv = { ...process.env, ...env };
  delete merged['NODE_TEST_CONTEXT']; // else a nested `node --test` reports to this runner, not to its stdout
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete merged[k];
  return spawnSync(process.execPath, args, { cwd: root, env: merged, encoding: 'utf8', timeout: 120_000 });
}

describe('no Vulkan driver', () => {
  const empty = mkdtempSync(path.join(os.tmpdir(), 'lora-lab-no-icd-'));
  const hidden = { VK_DRIVER_FILES: empty, VK_ICD_FILENAMES: undefined };

  it('outside CI the webgpu tests are skipped with one line naming the reason and the fix', () => {
    const r = run(['--import', 'tsx', '--test', '--test-reporter=spec', 'test/webgpu.test.ts'], { ...hidden, CI: undefined });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const lines = r.stdout.split('\n').filter((l) => /skipped/.test(l) && /WebGPU/.test(l));
    assert.equal(lines.length, 1, r.stdout);
    assert.match(lines[0]!, /no WebGPU adapter \(no Vulkan driver \(ICD\) found\); to run them: unset VK_DRIVER_FILES/);
    assert.match(r.stdout, /ℹ pass 0/);
  });

  it('under CI=true they run and fail, naming the missing adapter', () => {
    const r = run(['--import', 'tsx', '--test', '--test-reporter=spec', 'test/webgpu.test.ts'], { ...hidden, CI: 'true' });
    assert.notEqual(r.status, 0);
    assert.match(r.stdout, /backend 'webgpu' found no GPU adapter: install a Vulkan driver/);
  });

  it('auto and `lora-lab backends` write nothing to stderr', () => {
    const auto = run(['--import', 'tsx', '--input-type=module', '-e',
      "import { useBackend } from './src/backend/index.js'; await useBackend('auto');"], hidden);
    assert.equal(auto.status, 0, auto.stderr);
    assert.equal(auto.stderr, '');
    assert.match(auto.stdout, /^lora-lab backend: \S+ \(auto; .*webgpu: found no GPU adapter/);
    assert.equal(auto.stdout.trim().split('\n').length, 1, auto.stdout);
    const cli = run(['--import', 'tsx', 'src/cli/main.ts', 'backends'], hidden);
    assert.equal(cli.status, 0, cli.stderr);
    assert.equal(cli.stderr, '');
    assert.match(cli.stdout, /^webgpu +no +no GPU adapter: no Vulkan driver \(ICD\) found$/m);
    rmSync(empty, { recursive: true, force: true });
  });

  it('with the drivers visible, auto and `lora-lab backends` write nothing to stderr either', () => {
    const auto = run(['--import', 'tsx', '--input-type=module', '-e',
      "import { useBackend } from './src/backend/index.js'; await useBackend('auto');"], {});
    assert.equal(auto.stderr, '');
    const cli = run(['--import', 'tsx', 'src/cli/main.ts', 'backends'], {});
    assert.equal(cli.stderr, '');
    assert.match(cli.stdout, /^webgpu +(ok|no) /m);
  });
});
