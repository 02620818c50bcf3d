// Writing files a user keeps (adapters, checkpoints, reports) so that a crash never leaves half a file:
// write to a temporary name in the same directory, fsync, then rename over the target (rename is atomic
// within one file system on POSIX). A directory is built whole in a temporary sibling and swapped in.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';

function tmpName(target: string, tag: string): string {
  return `${target}.${tag}-${process.pid}-${randomBytes(4).toString('hex')}`;
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

/**
 * Writes `data` to `file` atomically: readers see the old content or the new, never a partial file.
 * Parent directories are created. On failure the temporary file is removed and the target is untouched.
 */
export async function writeFileAtomic(file: string, data: Uint8Array | string): Promise<void> {
  const dir = path.dirname(path.resolve(file));
  await fs.mkdir(dir, { recursive: true });
  const tmp = tmpName(path.resolve(file), 'tmp');
  let fh: fs.FileHandle | undefined;
  try {
    fh = await fs.open(tmp, 'w');
    await fh.writeFile(data);
    await fh.sync();
    await fh.close();
    fh = undefined;
    await fs.rename(tmp, file);
  } catch (e) {
    await fh?.close().catch(() => undefined);
    await fs.rm(tmp, { force: true });
    throw e;
  }
  await fsyncDir(dir);
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

/**
 * Replaces directory `dir` with one built by `fill` in a temporary sibling directory.
 * If `fill` throws, the temporary directory is removed and `dir` is left as it was.
 * The swap is two renames (old aside, new in): a reader sees the old directory, the new one, or (for the
 * instant between the renames) none, never a half-written one. The old directory is then deleted.
 */
export async function replaceDirAtomic(dir: string, fill: (tmpDir: string) => Promise<void>): Promise<void> {
  const target = path.resolve(dir);
  await fs.mkdir(path.dirname(target), { recursive: true });
  const tmp = tmpName(target, 'tmp');
  await fs.mkdir(tmp);
  try {
    await fill(tmp);
    await fsyncTree(tmp);
  } catch (e) {
    await fs.rm(tmp, { recursive: true, force: true });
    throw e;
  }
  const old = tmpName(target, 'old');
  let movedAside = false;
  try {
    await fs.rename(target, old);
    movedAside = true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
      await fs.rm(tmp, { recursive: true, force: true });
      throw e;
    }
  }
  try {
    await fs.rename(tmp, target);
  } catch (e) {
    // Put the old directory back so a failed save changes nothing.
    if (movedAside) await fs.rename(old, target).catch(() => undefined);
    await fs.rm(tmp, { recursive: true, force: true });
    throw e;
  }
  await fsyncDir(path.dirname(target));
  if (movedAside) await fs.rm(old, { recursive: true, force: true });
}
