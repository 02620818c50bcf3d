// Atomic writes: the target holds the old content or the new, a failed directory build changes nothing, no
// temporary files are left behind, crash leftovers are recovered or removed, and the lock serialises writers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readDir, recoverDir, replaceDirAtomic, updateDirAtomic, writeFileAtomic } from '../src/io/files.js';

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

/** Above Linux's PID_MAX_LIMIT (2^22): no process has this pid, so it stands for a writer that died. */
const DEAD_PID = 4194305;

/** A live process other than this one, for siblings and locks that must be left alone. */
async function liveProcess(): Promise<{ pid: number; stop: () => Promise<void> }> {
  const p = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 120000)'], { stdio: 'ignore' });
  await new Promise((resolve) => p.once('spawn', resolve));
  const exited = new Promise((resolve) => p.once('exit', resolve));
  return {
    pid: p.pid!,
    stop: async () => {
      p.kill('SIGKILL');
      await exited; // reaped: the pid is gone now
    },
  };
}

const lockFor = (pid: number, host = os.hostname()) => JSON.stringify({ pid, host, token: 'abcd' }) + '\n';

async function saveText(dir: string, files: Record<string, string>, options = {}): Promise<void> {
  await replaceDirAtomic(dir, async (tmp) => {
    for (const [name, text] of Object.entries(files)) await fs.writeFile(path.join(tmp, name), text);
  }, options);
}

test('a folder whose .old- sibling is the only copy is recovered by the next load and by the next save', async () => {
  const root = await tmpRoot();
  const dir = path.join(root, 'out');
  await saveText(dir, { 'a.txt': 'kept' });
  // As a writer killed after moving the folder aside leaves it (and its lock):
  await fs.rename(dir, `${dir}.old-${DEAD_PID}-0a1b2c3d`);
  await fs.writeFile(`${dir}.lock`, lockFor(DEAD_PID));
  const copy = await tmpRoot();
  await fs.cp(root, copy, { recursive: true });
  await recoverDir(dir);
  assert.deepEqual(await fs.readdir(root), ['out']);
  assert.equal(await fs.readFile(path.join(dir, 'a.txt'), 'utf8'), 'kept');
  // A save that keeps the folder's other files sees the recovered copy.
  await updateDirAtomic(path.join(copy, 'out'), { 'b.txt': 'new' });
  assert.deepEqual((await fs.readdir(copy)).sort(), ['out']);
  assert.deepEqual((await fs.readdir(path.join(copy, 'out'))).sort(), ['a.txt', 'b.txt']);
  await fs.rm(root, { recursive: true });
  await fs.rm(copy, { recursive: true });
});

test('with .new- and .old- siblings and no folder, the new one (the save under way) wins', async () => {
  const root = await tmpRoot();
  const dir = path.join(root, 'out');
  await saveText(`${dir}.old-${DEAD_PID}-00000001`, { 'v.txt': 'old' });
  await saveText(`${dir}.new-${DEAD_PID}-00000002`, { 'v.txt': 'new' });
  await saveText(`${dir}.tmp-${DEAD_PID}-00000003`, { 'v.txt': 'half' });
  await recoverDir(dir);
  assert.equal(await fs.readFile(path.join(dir, 'v.txt'), 'utf8'), 'new');
  assert.deepEqual(await fs.readdir(root), ['out']);
  await fs.rm(root, { recursive: true });
});

test("loads and saves remove dead writers' siblings but never a live process's", async () => {
  const root = await tmpRoot();
  const dir = path.join(root, 'out');
  const live = await liveProcess();
  try {
    await saveText(dir, { 'a.txt': '1' });
    const dead = [`out.tmp-${DEAD_PID}-aa`, `out.old-${DEAD_PID}-bb`, `out.new-${DEAD_PID}-cc`];
    dead.push(`out.tmp-${DEAD_PID}-dd.tmp-${DEAD_PID}-ee`); // a sibling of a sibling (a nested save's)
    const alive = [`out.tmp-${live.pid}-aa`, `out.old-${live.pid}-bb`];
    for (const n of [...dead, ...alive]) await fs.mkdir(path.join(root, n));
    await fs.writeFile(path.join(root, 'out.other'), 'not a sibling'); // a name that only starts alike
    await recoverDir(dir);
    assert.deepEqual((await fs.readdir(root)).sort(), ['out', 'out.other', ...alive].sort());
    for (const n of dead) await fs.mkdir(path.join(root, n));
    await saveText(dir, { 'a.txt': '2' });
    assert.deepEqual((await fs.readdir(root)).sort(), ['out', 'out.other', ...alive].sort());
    await live.stop();
    await saveText(dir, { 'a.txt': '3' });
    assert.deepEqual((await fs.readdir(root)).sort(), ['out', 'out.other']);
    assert.equal(await fs.readFile(path.join(dir, 'a.txt'), 'utf8'), '3');
  } finally {
    await live.stop();
    await fs.rm(root, { recursive: true });
  }
});

test("a second writer waits for a live owner's lock, then fails naming its pid; a dead owner's lock is broken", async () => {
  const root = await tmpRoot();
  const dir = path.join(root, 'out');
  const live = await liveProcess();
  try {
    await saveText(dir, { 'a.txt': '1' });
    await fs.writeFile(`${dir}.lock`, lockFor(live.pid));
    const t0 = Date.now();
    await assert.rejects(
      saveText(dir, { 'a.txt': '2' }, { lockTimeoutMs: 300 }),
      new RegExp(`'${dir}' is being saved by process ${live.pid} on host .*gave up after 0\\.3 s`),
    );
    assert.ok(Date.now() - t0 >= 300, 'it waited for the timeout');
    assert.equal(await fs.readFile(path.join(dir, 'a.txt'), 'utf8'), '1');
    assert.equal(await fs.readFile(`${dir}.lock`, 'utf8'), lockFor(live.pid), "the live owner's lock is untouched");
    await recoverDir(dir); // a reader does not wait for (or touch) a live lock when the folder is there
    assert.equal(await fs.readFile(`${dir}.lock`, 'utf8'), lockFor(live.pid));
    await live.stop();
    await saveText(dir, { 'a.txt': '2' }, { lockTimeoutMs: 300 });
    assert.equal(await fs.readFile(path.join(dir, 'a.txt'), 'utf8'), '2');
    assert.deepEqual(await fs.readdir(root), ['out']);
    // A lock from another host cannot be checked, so it is never broken; a garbled one is, once old.
    await fs.writeFile(`${dir}.lock`, lockFor(DEAD_PID, 'elsewhere'));
    await assert.rejects(saveText(dir, { 'a.txt': '3' }, { lockTimeoutMs: 100 }), /process 4194305 on host elsewhere/);
    await fs.writeFile(`${dir}.lock`, '');
    await assert.rejects(saveText(dir, { 'a.txt': '3' }, { lockTimeoutMs: 100 }), /being saved by an unknown process/);
    const old = new Date(Date.now() - 60_000);
    await fs.utimes(`${dir}.lock`, old, old);
    await saveText(dir, { 'a.txt': '3' }, { lockTimeoutMs: 100 });
    assert.deepEqual(await fs.readdir(root), ['out']);
  } finally {
    await live.stop();
    await fs.rm(root, { recursive: true });
  }
});

test('saves of one folder in one process take turns; a reader of a missing folder waits for the writer', async () => {
  const root = await tmpRoot();
  const dir = path.join(root, 'out');
  let inFill = 0;
  let maxInFill = 0;
  const save = (v: string) =>
    replaceDirAtomic(dir, async (tmp) => {
      maxInFill = Math.max(maxInFill, ++inFill);
      await new Promise((resolve) => setTimeout(resolve, 20));
      await fs.writeFile(path.join(tmp, 'v.txt'), v);
      inFill--;
    });
  // A first save held inside its fill; out/ does not exist yet.
  let entered!: () => void;
  let open!: () => void;
  const inside = new Promise<void>((resolve) => (entered = resolve));
  const gate = new Promise<void>((resolve) => (open = resolve));
  const first = replaceDirAtomic(dir, async (tmp) => {
    entered();
    await gate;
    await fs.writeFile(path.join(tmp, 'v.txt'), '1');
  });
  await inside;
  let readerDone = false;
  const reader = recoverDir(dir).then(() => (readerDone = true));
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(readerDone, false, 'the reader waits for the lock while the writer builds');
  open();
  await reader;
  assert.equal(await fs.readFile(path.join(dir, 'v.txt'), 'utf8'), '1');
  await Promise.all([first, save('2'), save('3')]);
  assert.equal(maxInFill, 1);
  assert.match(await fs.readFile(path.join(dir, 'v.txt'), 'utf8'), /^[23]$/);
  assert.deepEqual(await fs.readdir(root), ['out']);
  await fs.rm(root, { recursive: true });
});

test('a save inside another save lands with it as one unit, or not at all', async () => {
  const root = await tmpRoot();
  const dir = path.join(root, 'run');
  const both = async (tmp: string, v: string) => {
    await replaceDirAtomic(tmp, async (t) => fs.writeFile(path.join(t, 'adapter.txt'), v)); // the folder itself
    await replaceDirAtomic(path.join(tmp, 'sub'), async (t) => fs.writeFile(path.join(t, 'x.txt'), v));
    await updateDirAtomic(tmp, { 'state.txt': v });
  };
  await replaceDirAtomic(dir, (tmp) => both(tmp, '1'));
  assert.deepEqual((await fs.readdir(dir)).sort(), ['adapter.txt', 'state.txt', 'sub']);
  await assert.rejects(
    replaceDirAtomic(dir, async (tmp) => {
      await both(tmp, '2');
      throw new Error('killed before the swap');
    }),
    /killed before the swap/,
  );
  for (const f of ['adapter.txt', 'state.txt', 'sub/x.txt']) assert.equal(await fs.readFile(path.join(dir, f), 'utf8'), '1');
  assert.deepEqual(await fs.readdir(root), ['run']);
  await fs.rm(root, { recursive: true });
});

test("writeFileAtomic removes dead writers' temporary files beside the target, not a live one's", async () => {
  const root = await tmpRoot();
  const file = path.join(root, 'x.txt');
  const live = await liveProcess();
  try {
    await fs.writeFile(`${file}.tmp-${DEAD_PID}-0123abcd`, 'half');
    await fs.writeFile(`${file}.tmp-${live.pid}-0123abcd`, 'being written');
    await writeFileAtomic(file, 'done');
    assert.deepEqual((await fs.readdir(root)).sort(), ['x.txt', `x.txt.tmp-${live.pid}-0123abcd`]);
  } finally {
    await live.stop();
    await fs.rm(root, { recursive: true });
  }
});

test('readDir repeats a read that overlapped a swap, the last time under the lock', async () => {
  const root = await tmpRoot();
  const dir = path.join(root, 'out');
  let version = 0;
  await saveText(dir, { 'a.txt': '0', 'b.txt': '0' });
  // Another save lands between the reads of a.txt and b.txt (in the first `swaps` calls): a mix of two saves.
  const reader = (swaps: number) => {
    let calls = 0;
    const dropped: string[] = [];
    const read = async () => {
      calls++;
      const a = await fs.readFile(path.join(dir, 'a.txt'), 'utf8');
      if (calls <= swaps) {
        version++;
        await saveText(dir, { 'a.txt': String(version), 'b.txt': String(version) });
      }
      const b = await fs.readFile(path.join(dir, 'b.txt'), 'utf8');
      const lock = await fs.readFile(`${dir}.lock`, 'utf8').catch(() => null);
      return `${a}${b}${lock !== null && JSON.parse(lock).pid === process.pid ? ' under the lock' : ''}`;
    };
    return { read, dropped, calls: () => calls };
  };
  const once = reader(1);
  assert.equal(await readDir(dir, once.read, (d) => once.dropped.push(d)), '11');
  assert.deepEqual([once.calls(), once.dropped], [2, ['01']]);
  const always = reader(3); // a writer that never stops: after 3 tries the reader waits for it
  assert.equal(await readDir(dir, always.read, (d) => always.dropped.push(d)), '44 under the lock');
  assert.deepEqual([always.calls(), always.dropped], [4, ['12', '23', '34']]);
  assert.deepEqual(await fs.readdir(root), ['out']);
  await fs.rm(root, { recursive: true });
});
