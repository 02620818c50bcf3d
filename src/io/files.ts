// Crash-safe saves of the files and folders a user keeps (adapters, checkpoints, training state, reports).
// A file is written to a temporary sibling, fsynced and renamed over the target (rename is atomic on POSIX).
// A folder is built whole in `<dir>.tmp-<pid>-<hex>`, fsynced, renamed to `<dir>.new-…` (the mark that it is
// complete), then swapped in by two renames, `<dir>` → `<dir>.old-…` and `<dir>.new-…` → `<dir>`: POSIX cannot swap
// two folders atomically, so a crash between them leaves no `<dir>`, with both complete copies beside it.
// Guarantees:
// - after a crash at any point, `<dir>` (or, in the rename window, its newest `.new-`/`.old-` sibling) holds the
//   previous complete save or the new one, never a mix; `recoverDir` (every reader calls it) and the next save move
//   that sibling back, preferring `.new-` (the save that was under way) to `.old-`;
// - the next save, and any read that finds litter, removes `.tmp-`/`.new-`/`.old-` siblings whose process (the pid
//   in the name) is gone; a live process's siblings are never touched (nor a dead pid's taken over by another);
// - saves of one folder are serialised by `<dir>.lock` (owner's pid and host; see lock.ts): a second writer waits
//   (60 s by default), then fails naming the owner; a dead owner's lock is broken;
// - a save nested in another's build (a folder inside the folder being built) is part of that one swap, so files
//   written by different functions (an adapter and its optimizer state) land together or not at all.
// - a read through `readDir` comes from one save: one that overlapped a swap by another process is repeated.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { claimSibling, isStale, listSiblings, unclaim, type Sibling } from './siblings.js';
import { acquireLock, hasDeadLock, hasLock, tryLock, type DirLock, type LockOptions } from './lock.js';

export type { LockOptions } from './lock.js';

/** The steps of a folder save, in order; a step hook (tests) runs after each. */
export const SAVE_STEPS = [
  'locked', // <dir>.lock is ours
  'recovered', // a missing <dir> was moved back from its newest complete sibling
  'swept', // stale siblings removed
  'built', // <dir>.tmp-… filled and fsynced
  'marked', // renamed to <dir>.new-…: complete
  'moved-aside', // <dir> → <dir>.old-…
  'swapped', // <dir>.new-… → <dir>
  'discarded', // <dir>.old-… → <dir>.tmp-… (no longer a complete copy)
  'removed', // the discarded copy deleted
  'unlocked',
] as const;
export type SaveStep = (typeof SAVE_STEPS)[number];

let stepHook: ((step: SaveStep, dir: string) => void | Promise<void>) | undefined;

/**
 * Installs a hook called after each step of every folder save (undefined removes it). Crash tests use it to stop a
 * save at a chosen step; it is not for production use.
 */
export function setSaveStepHook(hook: ((step: SaveStep, dir: string) => void | Promise<void>) | undefined): void {
  stepHook = hook;
}

async function step(name: SaveStep, dir: string): Promise<void> {
  if (stepHook !== undefined) await stepHook(name, dir);
}

/** Folders this process is building right now (a save whose target is inside one is nested). */
const building = new Set<string>();

function insideBuild(target: string): boolean {
  for (const b of building) if (target === b || target.startsWith(b + path.sep)) return true;
  return false;
}

/** fsync a directory so a rename inside it is durable; some platforms cannot open directories, which is fine. */
async function fsyncDir(dir: string): Promise<void> {
  let fh: fs.FileHandle | undefined;
  try {
    fh = await fs.open(dir, 'r');
    await fh.sync();
  } catch {
    // Windows cannot fsync a directory; the rename is still atomic there.
  } finally {
    await fh?.close();
  }
}

/** fsyncs every regular file under `dir` (so the swapped-in directory's contents are on disk). */
async function fsyncTree(dir: string): Promise<void> {
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      await fsyncTree(p);
    } else if (entry.isFile()) {
      const fh = await fs.open(p, 'r');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
    }
  }
  await fsyncDir(dir);
}

async function exists(p: string): Promise<boolean> {
  try {
    await fs.lstat(p);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

/** Deletes a sibling; a complete copy (.new-/.old-) is renamed to a .tmp- name first: half-deleted, it is garbage. */
async function removeSibling(target: string, s: Sibling): Promise<void> {
  if (s.kind === 'tmp') {
    await fs.rm(s.path, { recursive: true, force: true });
    return;
  }
  const bin = claimSibling(target, 'tmp');
  try {
    await fs.rename(s.path, bin);
    await fs.rm(bin, { recursive: true, force: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  } finally {
    unclaim(bin);
  }
}

/** The newest complete stale copy of `target`: `.new-` before `.old-`, then the latest modified. */
async function newestComplete(target: string): Promise<Sibling | undefined> {
  const found: { s: Sibling; mtime: number }[] = [];
  for (const s of await listSiblings(target)) {
    if (!s.exact || s.kind === 'tmp' || !isStale(s)) continue;
    const st = await fs.stat(s.path).catch(() => null);
    if (st?.isDirectory()) found.push({ s, mtime: st.mtimeMs });
  }
  found.sort((a, b) => Number(b.s.kind === 'new') - Number(a.s.kind === 'new') || b.mtime - a.mtime);
  return found[0]?.s;
}

/** Under the lock: moves the newest complete sibling to a missing `target`. */
async function recoverMissing(target: string): Promise<void> {
  if (await exists(target)) return;
  const best = await newestComplete(target);
  if (best === undefined) return;
  await fs.rename(best.path, target);
  await fsyncDir(path.dirname(target));
}

/** Under the lock: removes every stale sibling of `target`. */
async function sweep(target: string): Promise<void> {
  for (const s of await listSiblings(target)) if (isStale(s)) await removeSibling(target, s);
}

function isReadOnlyError(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'EACCES' || code === 'EPERM' || code === 'EROFS';
}

/**
 * The guard every reader of a saved folder calls first. If `dir` is missing after a crash in a save's rename window,
 * moves its newest complete sibling back (waiting for a live writer's lock first); if stale siblings or a dead
 * owner's lock lie beside it, removes them. Returns quickly when there is nothing to do, and does nothing where the
 * parent folder is read-only (bundled data) unless `dir` is missing, which is then an error naming the copy.
 */
export async function recoverDir(dir: string, options: LockOptions = {}): Promise<void> {
  const target = path.resolve(dir);
  if (insideBuild(target)) return;
  const present = await exists(target);
  const siblings = await listSiblings(target);
  if (present && !siblings.some(isStale) && !(await hasDeadLock(target))) return;
  if (!present && siblings.length === 0 && !(await hasLock(target))) return;
  let lock: DirLock | null;
  try {
    lock = present ? await tryLock(target) : await acquireLock(target, options);
  } catch (e) {
    if (!isReadOnlyError(e)) throw e;
    const copy = present ? undefined : await newestComplete(target);
    if (copy === undefined) return;
    throw new Error(
      `'${target}' is missing and its last complete save is '${copy.path}', which cannot be moved back ` +
        `(${(e as NodeJS.ErrnoException).code}): rename it to '${path.basename(target)}' where you have write access`,
    );
  }
  if (lock === null) return; // a live writer holds it and cleans up itself
  try {
    await recoverMissing(target);
    await sweep(target);
  } finally {
    await lock.release();
  }
}

/** Which folder is at `target` now (a swap puts another one there), or undefined if none. */
async function identity(target: string): Promise<string | undefined> {
  try {
    const st = await fs.lstat(target);
    return `${st.dev}:${st.ino}:${st.ctimeMs}`;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Reads that overlap a swap before the reader takes the lock instead (a writer saving in a tight loop). */
const UNLOCKED_READS = 3;

/**
 * Reads folder `dir` with `read` after `recoverDir`, and reads it again if another process swapped a save in while
 * `read` ran (the last time under the folder's lock), so the result or the error comes from one complete save.
 * `discard` releases a result that is dropped (e.g. a model built from the replaced folder).
 */
export async function readDir<T>(
  dir: string,
  read: () => Promise<T>,
  discard?: (dropped: T) => void,
  options: LockOptions = {},
): Promise<T> {
  const target = path.resolve(dir);
  for (let attempt = 1; attempt <= UNLOCKED_READS; attempt++) {
    await recoverDir(target, options);
    const before = await identity(target);
    let outcome: { ok: true; value: T } | { ok: false; error: unknown };
    try {
      outcome = { ok: true, value: await read() };
    } catch (error) {
      outcome = { ok: false, error };
    }
    if ((await identity(target)) === before) {
      if (outcome.ok) return outcome.value;
      throw outcome.error;
    }
    if (outcome.ok) discard?.(outcome.value);
  }
  let lock: DirLock;
  try {
    lock = await acquireLock(target, options);
  } catch (e) {
    if (isReadOnlyError(e)) return read(); // cannot lock here: one more read as it is
    throw e;
  }
  try {
    await recoverMissing(target);
    return await read();
  } finally {
    await lock.release();
  }
}

/** A save whose target lies inside a folder being built: that build's one swap makes it atomic. */
async function replaceInsideBuild(target: string, fill: (tmpDir: string) => Promise<void>): Promise<void> {
  await fs.mkdir(path.dirname(target), { recursive: true });
  const tmp = claimSibling(target, 'tmp');
  try {
    await fs.mkdir(tmp);
    await fill(tmp);
    await fs.rm(target, { recursive: true, force: true });
    await fs.rename(tmp, target);
  } catch (e) {
    await fs.rm(tmp, { recursive: true, force: true });
    throw e;
  } finally {
    unclaim(tmp);
  }
}

/**
 * Replaces folder `dir` with one that `fill` builds in a temporary sibling (see the guarantees above). If `fill`
 * throws, `dir` is left as it was. Under `dir`'s lock, a missing `dir` is first recovered and stale siblings removed,
 * so `fill` may read the current `dir` (to keep files it does not write).
 */
export async function replaceDirAtomic(
  dir: string,
  fill: (tmpDir: string) => Promise<void>,
  options: LockOptions = {},
): Promise<void> {
  const target = path.resolve(dir);
  if (insideBuild(target)) return replaceInsideBuild(target, fill);
  const parent = path.dirname(target);
  await fs.mkdir(parent, { recursive: true });
  const lock = await acquireLock(target, options);
  let tmp: string | undefined;
  let fresh: string | undefined;
  let old: string | undefined;
  let bin: string | undefined;
  try {
    await step('locked', target);
    await recoverMissing(target);
    await step('recovered', target);
    await sweep(target);
    await step('swept', target);
    tmp = claimSibling(target, 'tmp');
    await fs.mkdir(tmp);
    building.add(tmp);
    try {
      await fill(tmp);
      await fsyncTree(tmp);
    } catch (e) {
      await fs.rm(tmp, { recursive: true, force: true });
      throw e;
    } finally {
      building.delete(tmp);
    }
    await step('built', target);
    fresh = claimSibling(target, 'new');
    await fs.rename(tmp, fresh);
    await fsyncDir(parent);
    await step('marked', target);
    old = claimSibling(target, 'old');
    let movedAside = true;
    try {
      await fs.rename(target, old);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
        await fs.rm(fresh, { recursive: true, force: true });
        throw e;
      }
      movedAside = false; // the first save of this folder
    }
    await step('moved-aside', target);
    try {
      await fs.rename(fresh, target);
    } catch (e) {
      // Put the old folder back so a failed save changes nothing.
      if (movedAside) await fs.rename(old, target).catch(() => undefined);
      await fs.rm(fresh, { recursive: true, force: true });
      throw e;
    }
    await fsyncDir(parent);
    await step('swapped', target);
    if (movedAside) {
      bin = claimSibling(target, 'tmp');
      await fs.rename(old, bin);
      await step('discarded', target);
      await fs.rm(bin, { recursive: true, force: true });
    }
    await step('removed', target);
  } finally {
    unclaim(tmp, fresh, old, bin);
    await lock.release();
  }
  await step('unlocked', target);
}

/**
 * Writes `files` (name → content) into folder `dir` as one save: `dir` is replaced by a copy of itself with those
 * files written over it (inside another save's build they are simply written there).
 */
export async function updateDirAtomic(
  dir: string,
  files: Record<string, Uint8Array | string>,
  options: LockOptions = {},
): Promise<void> {
  const target = path.resolve(dir);
  const write = async (into: string) => {
    for (const [name, data] of Object.entries(files)) await fs.writeFile(path.join(into, name), data);
  };
  if (insideBuild(target)) {
    await fs.mkdir(target, { recursive: true });
    return write(target);
  }
  await replaceDirAtomic(
    target,
    async (tmp) => {
      const keep = await fs.readdir(target).catch(() => [] as string[]);
      for (const name of keep) {
        if (!(name in files)) await fs.cp(path.join(target, name), path.join(tmp, name), { recursive: true });
      }
      await write(tmp);
    },
    options,
  );
}

/**
 * Writes `data` to `file` atomically: readers see the old content or the new, never a partial file.
 * Parent directories are created; temporary siblings of `file` left by dead processes are removed.
 * On failure the temporary file is removed and the target is untouched.
 */
export async function writeFileAtomic(file: string, data: Uint8Array | string): Promise<void> {
  const target = path.resolve(file);
  const dir = path.dirname(target);
  await fs.mkdir(dir, { recursive: true });
  for (const s of await listSiblings(target)) {
    if (s.kind === 'tmp' && isStale(s)) await fs.rm(s.path, { force: true, recursive: true });
  }
  const tmp = claimSibling(target, 'tmp');
  let fh: fs.FileHandle | undefined;
  try {
    fh = await fs.open(tmp, 'w');
    await fh.writeFile(data);
    await fh.sync();
    await fh.close();
    fh = undefined;
    await fs.rename(tmp, target);
  } catch (e) {
    await fh?.close().catch(() => undefined);
    await fs.rm(tmp, { force: true });
    throw e;
  } finally {
    unclaim(tmp);
  }
  await fsyncDir(dir);
}
