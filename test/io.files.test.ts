// Atomic writes: the target holds the old content or the new, a failed directory build changes nothing,
// and no temporary files are left behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { replaceDirAtomic, writeFileAtomic } from '../src/io/files.js';

async function tmpRoot(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), 'lora-lab-io-'));
}

test('writeFileAtomic creates parents, replaces content and leaves no temp files', async () => {
  const root = await tmpRoot();
  const file = path.join(root, 'a', 'b', 'x.txt');
  await writeFileAtomic(file, 'first');
  await writeFileAtomic(file, new Uint8Array([104, 105]));
  assert.equal(await fs.readFile(file, 'utf8'), 'hi');
  assert.deepEqual(await fs.readdir(path.dirname(file)), ['x.txt']);
  await fs.rm(root, { recursive: true });
});

test('writeFileAtomic whose final rename fails keeps the old file and leaves no temp file', async () => {
  const root = await tmpRoot();
  const file = path.join(root, 'x.txt');
  await writeFileAtomic(file, 'old');
  // A directory where the file should go makes the final rename fail.
  const blocked = path.join(root, 'dir');
  await fs.mkdir(path.join(blocked, 'inner'), { recursive: true });
  await assert.rejects(writeFileAtomic(blocked, 'new'));
  assert.equal(await fs.readFile(file, 'utf8'), 'old');
  assert.deepEqual((await fs.readdir(root)).sort(), ['dir', 'x.txt']);
  await fs.rm(root, { recursive: true });
});

test('replaceDirAtomic swaps a whole directory in', async () => {
  const root = await tmpRoot();
  const dir = path.join(root, 'adapter');
  await replaceDirAtomic(dir, async (tmp) => {
    await fs.writeFile(path.join(tmp, 'a.txt'), '1');
    await fs.writeFile(path.join(tmp, 'stale.txt'), 'x');
  });
  await replaceDirAtomic(dir, async (tmp) => {
    await fs.writeFile(path.join(tmp, 'a.txt'), '2');
  });
  assert.deepEqual(await fs.readdir(dir), ['a.txt']); // the old directory's files are gone
  assert.equal(await fs.readFile(path.join(dir, 'a.txt'), 'utf8'), '2');
  assert.deepEqual(await fs.readdir(root), ['adapter']);
  await fs.rm(root, { recursive: true });
});

test('replaceDirAtomic leaves the old directory untouched when fill throws', async () => {
  const root = await tmpRoot();
  const dir = path.join(root, 'adapter');
  await replaceDirAtomic(dir, async (tmp) => fs.writeFile(path.join(tmp, 'a.txt'), 'good'));
  await assert.rejects(
    replaceDirAtomic(dir, async (tmp) => {
      await fs.writeFile(path.join(tmp, 'a.txt'), 'half');
      throw new Error('disk full');
    }),
    /disk full/,
  );
  assert.equal(await fs.readFile(path.join(dir, 'a.txt'), 'utf8'), 'good');
  assert.deepEqual(await fs.readdir(root), ['adapter']);
  await fs.rm(root, { recursive: true });
});
