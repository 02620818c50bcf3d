// An advisory lock on a path that saves replace: the file `<path>.lock` holding {"pid", "host", "token"} of its
// owner, written to a claimed sibling first and hard-linked into place (link fails if the lock exists), so it is
// never seen half-written. Others wait (polling) up to a timeout, then fail naming the owner; a dead owner's lock is
// broken. The same scheme as git's index.lock and mail spools' link locks, plus a liveness check.
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import { randomBytes } from 'node:crypto';
import { claimSibling, isAlive, unclaim } from './siblings.js';

export interface LockOptions {
  /** How long to wait for a live owner to finish before failing. @default 60000 (ms) */
  lockTimeoutMs?: number;
}

interface LockOwner {
  pid: number;
  host: string;
  token: string;
}

const POLL_MS = 25;
/** A lock file that does not parse is a crash's leftover only once it is this old (it cannot be a live one). */
const UNREADABLE_GRACE_MS = 5000;

/** Tokens of the locks this process holds right now. */
const held = new Set<string>();

export function lockPath(target: string): string {
  return `${target}.lock`;
}

/** A held lock; `release` removes the file if it is still ours. */
export class DirLock {
  constructor(
    readonly file: string,
    private readonly token: string,
  ) {}

  async release(): Promise<void> {
    if (!held.delete(this.token)) return;
    const owner = await readOwner(this.file);
    if (owner !== null && owner !== 'unreadable' && owner.token === this.token) await fs.rm(this.file, { force: true });
  }
}

async function readOwner(file: string): Promise<LockOwner | 'unreadable' | null> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  try {
    const o = JSON.parse(text) as LockOwner;
    if (Number.isInteger(o.pid) && typeof o.host === 'string' && typeof o.token === 'string') return o;
  } catch {
    // fall through
  }
  return 'unreadable';
}

/** Whether the lock's owner is certainly gone: same host and no such process (or this process, not holding it). */
async function ownerIsDead(file: string, owner: LockOwner | 'unreadable'): Promise<boolean> {
  if (owner === 'unreadable') {
    const st = await fs.stat(file).catch(() => null);
    return st !== null && Date.now() - st.mtimeMs > UNREADABLE_GRACE_MS;
  }
  if (owner.host !== os.hostname()) return false;
  if (owner.pid === process.pid) return !held.has(owner.token);
  return !isAlive(owner.pid);
}

/**
 * Removes a dead owner's lock whose content was `seen`. It is renamed aside first and checked: if another process
 * broke it and took the lock in the meantime, that live lock is put back.
 */
async function breakLock(target: string, file: string, seen: string): Promise<void> {
  const aside = claimSibling(target, 'tmp');
  try {
    try {
      await fs.rename(file, aside);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    const now = await fs.readFile(aside, 'utf8').catch(() => '');
    if (now !== seen) await fs.link(aside, file).catch(() => undefined);
    await fs.rm(aside, { force: true });
  } finally {
    unclaim(aside);
  }
}

/**
 * One attempt at the lock of `target` (absolute): the lock, or the live owner that holds it. A dead owner's lock is
 * broken and the attempt repeated.
 */
async function attempt(target: string): Promise<DirLock | LockOwner | 'unreadable'> {
  const file = lockPath(target);
  const token = randomBytes(8).toString('hex');
  const staged = claimSibling(target, 'tmp');
  const content = JSON.stringify({ pid: process.pid, host: os.hostname(), token }) + '\n';
  try {
    await fs.writeFile(staged, content);
    for (;;) {
      try {
        await fs.link(staged, file).catch(async (e: NodeJS.ErrnoException) => {
          // File systems without hard links: exclusive create (a reader may see it empty for an instant).
          if (e.code !== 'EPERM' && e.code !== 'ENOTSUP' && e.code !== 'ENOSYS') throw e;
          await fs.writeFile(file, content, { flag: 'wx' });
        });
        held.add(token);
        return new DirLock(file, token);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const seen = await fs.readFile(file, 'utf8').catch(() => null);
      if (seen === null) continue; // released between link and read
      const owner = await readOwner(file);
      if (owner === null) continue;
      if (!(await ownerIsDead(file, owner))) return owner;
      await breakLock(target, file, seen);
    }
  } finally {
    await fs.rm(staged, { force: true });
    unclaim(staged);
  }
}

/** The lock of `target` if it is free now (a dead owner's lock is broken), else null. */
export async function tryLock(target: string): Promise<DirLock | null> {
  const r = await attempt(target);
  return r instanceof DirLock ? r : null;
}

/**
 * The lock of `target`: waits while a live process holds it, up to `lockTimeoutMs`, then fails naming that process.
 */
export async function acquireLock(target: string, options: LockOptions = {}): Promise<DirLock> {
  const timeout = options.lockTimeoutMs ?? 60_000;
  const deadline = Date.now() + timeout;
  for (;;) {
    const r = await attempt(target);
    if (r instanceof DirLock) return r;
    if (Date.now() >= deadline) {
      const who = r === 'unreadable' ? 'an unknown process' : `process ${r.pid} on host ${r.host}`;
      throw new Error(
        `'${target}' is being saved by ${who} (lock ${lockPath(target)}); gave up after ${timeout / 1000} s: ` +
          `let it finish, or stop it and retry (a lock whose process is gone is removed automatically)`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** Whether `target` has a lock file whose owner is gone (a crash's leftover a reader may clean up). */
export async function hasDeadLock(target: string): Promise<boolean> {
  const file = lockPath(target);
  const owner = await readOwner(file).catch(() => null);
  return owner !== null && (await ownerIsDead(file, owner));
}

/** Whether a lock file exists for `target`, whoever holds it. */
export async function hasLock(target: string): Promise<boolean> {
  return fs.lstat(lockPath(target)).then(
    () => true,
    () => false,
  );
}
