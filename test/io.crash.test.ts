// Crash safety of saved folders (adapter, merged-model checkpoint, adapter + training state): a save stopped after
// each of its steps, and child processes SIGKILLed at seeded random moments while saving, always leave a folder that
// reads back as one complete save, the previous or the new; one more save leaves no sibling behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { build } from 'esbuild';
import { SAVE_STEPS, setSaveStepHook, type SaveStep } from '../src/io/files.js';
import { makeFixture, SAVE_KINDS, type SaveKind } from './helpers/save-fixtures.js';

/** Above Linux's PID_MAX_LIMIT (2^22): no process has this pid, so it stands for a writer that died. */
const DEAD_PID = 4194305;
const CHILD = fileURLToPath(new URL('./helpers/save-child.ts', import.meta.url));

/**
 * Bundles the child into one file: it then starts in about a tenth of the time it takes through tsx (0.3 s against
 * 2 s here), which is what makes dozens of kills affordable. esbuild is the one tsx itself runs on.
 */
async function bundleChild(dir: string): Promise<string> {
  const outfile = path.join(dir, 'save-child.mjs');
  await build({
    entryPoints: [CHILD],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    logLevel: 'warning',
    // tfjs is CommonJS inside; an ESM bundle needs a require of its own.
    banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
  });
  return outfile;
}

class StopSave extends Error {}

/**
 * Copies folder `from` to `to` as a crash would have left it: the names and the lock that carry this process's pid
 * get a dead writer's pid instead.
 */
async function crashCopy(from: string, to: string): Promise<void> {
  await fs.cp(from, to, { recursive: true });
  for (const name of await fs.readdir(to)) {
    const p = path.join(to, name);
    if (name.endsWith('.lock')) {
      const text = await fs.readFile(p, 'utf8');
      await fs.writeFile(p, text.replace(`"pid":${process.pid}`, `"pid":${DEAD_PID}`));
    }
    const renamed = name.replaceAll(`-${process.pid}-`, `-${DEAD_PID}-`);
    if (renamed !== name) await fs.rename(p, path.join(to, renamed));
  }
}

/** Version number a save at step k leaves readable: the new one once the old is moved aside (the new is complete). */
function expectedAfter(step: SaveStep, prev: number, next: number): number {
  return SAVE_STEPS.indexOf(step) >= SAVE_STEPS.indexOf('moved-aside') ? next : prev;
}

for (const kind of SAVE_KINDS) {
  test(`${kind}: a save stopped after each step reads back whole, and the next load or save cleans up`, async () => {
    await tf.setBackend('cpu');
    const root = await fs.mkdtemp(path.join(os.tmpdir(), `lora-lab-crash-${kind}-`));
    const fixture = makeFixture(kind);
    const tensorsBefore = tf.memory().numTensors;
    try {
      for (const k of SAVE_STEPS) {
        const live = path.join(root, k, 'live');
        const dir = path.join(live, 'out');
        await fixture.save(dir, 1);
        // saveAdapter keeps a folder's other files: one shows that the next save started from the recovered copy.
        if (kind === 'adapter') await fs.writeFile(path.join(dir, 'NOTES.md'), 'kept\n');
        const [forLoad, forSave] = [path.join(root, k, 'load'), path.join(root, k, 'save')];
        setSaveStepHook(async (s, target) => {
          if (s !== k || target !== dir) return;
          await crashCopy(live, forLoad);
          await crashCopy(live, forSave);
          throw new StopSave(`stopped after ${s}`);
        });
        try {
          await assert.rejects(fixture.save(dir, 2), StopSave);
        } finally {
          setSaveStepHook(undefined);
        }
        const want = expectedAfter(k, 1, 2);
        if (k === 'moved-aside') assert.ok(!(await fs.readdir(forLoad)).includes('out'), 'the rename window leaves no out/');
        // The next load recovers the folder and removes the dead writer's siblings and lock.
        assert.equal(await fixture.read(path.join(forLoad, 'out')), want, `load after ${k}`);
        assert.deepEqual(await fs.readdir(forLoad), ['out'], `siblings left by a load after ${k}`);
        await fixture.save(path.join(forLoad, 'out'), 3);
        assert.deepEqual(await fs.readdir(forLoad), ['out']);
        assert.equal(await fixture.read(path.join(forLoad, 'out')), 3);
        // The next save, without a load first, does the same before it writes.
        await fixture.save(path.join(forSave, 'out'), 3);
        assert.deepEqual(await fs.readdir(forSave), ['out'], `siblings left by a save after ${k}`);
        assert.equal(await fixture.read(path.join(forSave, 'out')), 3);
        if (kind === 'adapter') assert.equal(await fs.readFile(path.join(forSave, 'out', 'NOTES.md'), 'utf8'), 'kept\n');
      }
      assert.equal(tf.memory().numTensors, tensorsBefore, 'saves and reads leak no tensors');
    } finally {
      fixture.dispose();
      await fs.rm(root, { recursive: true, force: true });
    }
  });
}

/** mulberry32: a small seeded generator for the kill delays. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Child {
  proc: ChildProcess;
  lines: string[];
  ready: Promise<void>;
  exited: Promise<void>;
}

function startChild(bundle: string, kind: SaveKind, dir: string, start: number): Child {
  const proc = spawn(process.execPath, [bundle, kind, dir, String(start)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let stderr = '';
  let buffered = '';
  let onReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  proc.stdout!.on('data', (d: Buffer) => {
    buffered += d.toString();
    const parts = buffered.split('\n');
    buffered = parts.pop()!;
    for (const l of parts) {
      lines.push(l);
      if (l === 'ready') onReady();
    }
  });
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve, reject) => {
    proc.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve();
      else reject(new Error(`save child exited with ${code ?? signal} before it was killed:\n${stderr}`));
    });
  });
  // A child that dies before `ready` fails the wait instead of hanging it.
  return { proc, lines, ready: Promise.race([ready, exited.then(() => undefined)]), exited };
}

const KILLS = 150; // 50 per kind
const AHEAD = 2;
const MAX_DELAY_MS = 60; // a few saves of the nano models

test(`SIGKILL at ${KILLS} seeded random moments during repeated saves never loses a complete save`, async (t) => {
  await tf.setBackend('cpu');
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'lora-lab-kill-'));
  const random = rng(2024);
  const folders = new Map(
    SAVE_KINDS.map((kind) => {
      const at = path.join(root, kind);
      return [kind, { root: at, dir: path.join(at, 'out'), version: 0, fixture: makeFixture(kind) }];
    }),
  );
  const hits = new Map<string, number>();
  const kindAt = (i: number) => SAVE_KINDS[i % SAVE_KINDS.length]!;
  for (const f of folders.values()) {
    f.version = 1;
    await f.fixture.save(f.dir, 1); // a complete save to lose
  }
  const bundle = await bundleChild(root);
  // Processes start AHEAD turns early, so their start-up overlaps earlier turns (each waits for its own `go`). The
  // process of turn j saves kind j % 3 from that folder's version + 1, known once turn j - 3 is done: AHEAD < 3.
  const queue: Child[] = [];
  const startTurn = (j: number) => {
    if (j < KILLS) queue.push(startChild(bundle, kindAt(j), folders.get(kindAt(j))!.dir, folders.get(kindAt(j))!.version + 1));
  };
  for (let j = 0; j < AHEAD; j++) startTurn(j);
  try {
    for (let i = 0; i < KILLS; i++) {
      const kind = kindAt(i);
      const f = folders.get(kind)!;
      const child = queue.shift()!;
      await child.ready;
      child.proc.stdin!.write('go\n');
      startTurn(i + AHEAD);
      await new Promise((resolve) => setTimeout(resolve, random() * MAX_DELAY_MS));
      child.proc.kill('SIGKILL');
      await child.exited;

      const saved = child.lines.filter((l) => l.startsWith('saved ')).map((l) => Number(l.slice(6)));
      const acked = saved.length > 0 ? saved[saved.length - 1]! : f.version;
      const lastStep = [...child.lines].reverse().find((l) => l.startsWith('step ') || l.startsWith('saved '));
      const inSave = lastStep !== undefined && lastStep.startsWith('step ');
      const where = `${kind}: ${inSave ? `after ${lastStep.slice(5)}` : 'before a save'}`;
      hits.set(where, (hits.get(where) ?? 0) + 1);
      const entries = await fs.readdir(f.root);
      if (saved.length > 0) {
        // A save that completed swept what earlier kills left: only this save's own siblings can be there.
        assert.ok(entries.length <= 5, `kill ${i} (${where}): litter accumulates: ${entries.join(', ')}`);
      }

      let version: number;
      if (i % 2 === 0) {
        // Read the folder itself (the load cleans up), then save once more: nothing may be left beside it.
        version = await f.fixture.read(f.dir);
        version += 1;
        await f.fixture.save(f.dir, version);
        assert.deepEqual(await fs.readdir(f.root), ['out'], `kill ${i} (${where}): siblings after one more save`);
        assert.equal(await f.fixture.read(f.dir), version);
      } else {
        // Read a copy, and leave the litter to the next process's first save.
        const copy = path.join(root, `copy-${i}`);
        await fs.cp(f.root, copy, { recursive: true });
        version = await f.fixture.read(path.join(copy, 'out'));
        await fs.rm(copy, { recursive: true });
      }
      const read = i % 2 === 0 ? version - 1 : version;
      assert.ok(read === acked || read === acked + 1, `kill ${i} (${where}): read save ${read}, last acknowledged ${acked}`);
      f.version = version;
    }
    for (const f of folders.values()) {
      await f.fixture.save(f.dir, f.version + 1);
      assert.deepEqual(await fs.readdir(f.root), ['out']);
      assert.equal(await f.fixture.read(f.dir), f.version + 1);
    }
    t.diagnostic(`kills by last step reached: ${[...hits].sort().map(([k, n]) => `${k} ×${n}`).join('; ')}`);
  } finally {
    for (const c of queue) c.proc.kill('SIGKILL'); // those started early, if a check failed first
    for (const f of folders.values()) f.fixture.dispose();
    await fs.rm(root, { recursive: true, force: true });
  }
});

test('two processes saving one folder at once take turns through the lock; reads meanwhile get whole saves', async () => {
  await tf.setBackend('cpu');
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'lora-lab-two-'));
  const dir = path.join(root, 'out');
  const fixture = makeFixture('adapter');
  const bundle = await bundleChild(root);
  const children = [startChild(bundle, 'adapter', dir, 1000), startChild(bundle, 'adapter', dir, 2000)];
  try {
    await Promise.all(children.map((c) => c.ready));
    for (const c of children) c.proc.stdin!.write('go\n');
    const savedBy = (c: Child) => c.lines.filter((l) => l.startsWith('saved ')).map((l) => Number(l.slice(6)));
    // While they run, the lock names one of them, and every read is one complete save (readDir re-reads a folder
    // swapped under it).
    const pids = new Set(children.map((c) => c.proc.pid));
    let owner: number | undefined;
    let reads = 0;
    const deadline = Date.now() + 30_000;
    while ((owner === undefined || reads < 10 || children.some((c) => savedBy(c).length < 3)) && Date.now() < deadline) {
      const text = await fs.readFile(`${dir}.lock`, 'utf8').catch(() => undefined);
      if (text !== undefined && owner === undefined) owner = (JSON.parse(text) as { pid: number }).pid;
      if (savedBy(children[0]!).length + savedBy(children[1]!).length > 0) {
        assert.ok((await fixture.read(dir)) >= 1000, 'a read meanwhile gets one of their saves');
        reads++;
      }
    }
    assert.ok(owner !== undefined && pids.has(owner), `lock owner ${owner} is one of ${[...pids].join(', ')}`);
    assert.ok(reads >= 10, `${reads} reads while they saved`);
    for (const c of children) {
      assert.ok(savedBy(c).length >= 3, `each process saved (got ${savedBy(c).length}): neither starved nor failed`);
    }
    for (const c of children) c.proc.kill('SIGKILL');
    await Promise.all(children.map((c) => c.exited));
    const possible = new Set(children.flatMap((c) => {
      const s = savedBy(c);
      return [...s, s[s.length - 1]! + 1];
    }));
    const v = await fixture.read(dir);
    assert.ok(possible.has(v), `read save ${v}: one that a process completed or had under way`);
    await fixture.save(dir, 1);
    assert.deepEqual(await fs.readdir(root), ['out', 'save-child.mjs']);
  } finally {
    for (const c of children) c.proc.kill('SIGKILL');
    fixture.dispose();
    await fs.rm(root, { recursive: true, force: true });
  }
});
