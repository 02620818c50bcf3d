// The temporary siblings a save makes next to the path it replaces, and which of them are stale.
// `<path>.tmp-<pid>-<hex>`: being built or being deleted, never a complete copy; `<path>.new-<pid>-<hex>`: a complete
// copy not yet swapped in; `<path>.old-<pid>-<hex>`: the previous complete copy, moved aside. pid = the maker.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';

export type SiblingKind = 'tmp' | 'new' | 'old';

export interface Sibling {
  /** Absolute path of the sibling. */
  path: string;
  kind: SiblingKind;
  /** The process that made it (from its name). */
  pid: number;
  /** The name is exactly `<path>.<kind>-<pid>-<hex>`; a longer one (a sibling of a sibling) is always garbage. */
  exact: boolean;
}

/** Paths this process is using right now: never stale, whatever its pid says. */
const claimed = new Set<string>();

/** A fresh sibling name of `target` (absolute), claimed by this process until `unclaim`. */
export function claimSibling(target: string, kind: SiblingKind): string {
  const p = `${target}.${kind}-${process.pid}-${randomBytes(4).toString('hex')}`;
  claimed.add(p);
  return p;
}

export function unclaim(...paths: (string | undefined)[]): void {
  for (const p of paths) if (p !== undefined) claimed.delete(p);
}

/** Whether process `pid` exists (EPERM: it exists but belongs to another user). */
export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A sibling no live process owns: its maker is dead, or it is this process and the sibling is not in use here
 * (a pid reused after a crash, e.g. in a restarted container). A dead pid taken over by an unrelated process
 * keeps its siblings alive: litter is preferred to deleting what might be in use.
 */
export function isStale(s: Sibling): boolean {
  if (claimed.has(s.path)) return false;
  return s.pid === process.pid || !isAlive(s.pid);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Every sibling of `target` (absolute) in its parent folder; none when the parent does not exist. */
export async function listSiblings(target: string): Promise<Sibling[]> {
  const parent = path.dirname(target);
  let names: string[];
  try {
    names = await fs.readdir(parent);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const re = new RegExp(`^${escapeRegExp(path.basename(target))}\\.(tmp|new|old)-(\\d+)-[0-9a-f]+(\\..*)?$`);
  const out: Sibling[] = [];
  for (const name of names) {
    const m = re.exec(name);
    if (m === null) continue;
    const kind = m[1] as SiblingKind;
    out.push({ path: path.join(parent, name), kind, pid: Number(m[2]), exact: m[3] === undefined });
  }
  return out;
}
