// A burst of display updates in a real tslab kernel: its sends overlap, and zeromq refuses an overlapping send
// ("Socket is busy writing"); lora-lab queues them (src/notebook/tslab-sockets.ts), so the notebook runs through.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

describe('tslab socket sends', () => {
  it('2,000 overlapping display updates neither fail the cell nor kill the kernel', () => {
    const root = path.join(import.meta.dirname, '..');
    const nb = path.join(import.meta.dirname, 'fixtures', 'stress', 'overlapping-displays.ipynb');
    const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'scripts', 'notebooks.ts'), 'check', nb, '--no-build', '--timeout', '90'], {
      encoding: 'utf8',
      timeout: 150_000,
      cwd: root,
    });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /ok .*overlapping-displays\.ipynb \(.*1 checks\)/);
  });
});
