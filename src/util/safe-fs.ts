/**
 * Filesystem steps that must neither hang nor leave litter, whatever path a user gives:
 *
 * - makeDirs: `mkdir -p` one level at a time. Node 20's `fs.mkdir(dir, { recursive: true })`
 *   never settles on a path under /proc (each level answers ENOENT and it retries forever), so
 *   poison never calls it on a user's path.
 * - temporaryName / removeStaleTemporaries: every temporary sibling poison writes is named
 *   `.<name>.tmp-<host tag>-<pid>-<random>`, so the next run on the same host can tell the
 *   leftovers of a killed process (its pid is gone) from those of a live one, and remove them.
 *   Temporaries of other hosts (a shared filesystem) are left alone: their pids mean nothing here.
 *   One kind is not litter: `<temporary>-old`, an output moved aside by outdir's swap. While its
 *   target is missing it is the only copy of that output, so it is renamed back, never removed.
 * - syncDir: fsync a folder, so a rename in it survives a power cut.
 * - withDeadline: a bound on a step that a dead network mount could block.
 */
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RuntimeFailure } from '../errors.js';

/** Eight hex digits naming this host in temporary names (a hostname may hold any character). */
export function hostTag(host: string = os.hostname()): string {
  return createHash('sha256').update(host).digest('hex').slice(0, 8);
}

/** What outdir's swap appends to a temporary's name for the old output it moves aside. */
export const OLD_SUFFIX = '-old';

/** `.<target name>.tmp-<host tag>-<pid>-<random>`, optionally followed by OLD_SUFFIX. */
const TEMPORARY = /^\.(.+)\.tmp-([0-9a-f]{8})-(\d+)-[0-9a-f]{8}(-old)?$/;

/** A fresh temporary sibling name for `target`, in `target`'s folder. */
export function temporaryName(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.tmp-${hostTag()}-${process.pid}-${randomBytes(4).toString('hex')}`);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes, from `dir`, the temporaries of processes of this host that no longer run, and puts
 * back an old output such a process had moved aside (`<temporary>-old`) when its target is
 * missing: a crash between the swap's two renames. Returns the names removed or restored. A
 * folder that cannot be read is not an error here: there is nothing to clean, and whatever needs
 * the folder reports its own problem.
 */
export async function removeStaleTemporaries(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return [];
  }
  const mine = hostTag();
  const handled: string[] = [];
  let restored = false;
  for (const name of names) {
    const m = TEMPORARY.exec(name);
    if (!m || m[2] !== mine || processAlive(Number(m[3]))) continue;
    const file = path.join(dir, name);
    try {
      if (m[4] && !(await exists(path.join(dir, m[1]!)))) {
        await fs.rename(file, path.join(dir, m[1]!));
        restored = true;
      } else {
        await fs.rm(file, { recursive: true, force: true });
      }
      handled.push(name);
    } catch {
      // Not ours to fight over: a later run tries again.
    }
  }
  if (restored) await syncDir(dir);
  return handled;
}

async function exists(p: string): Promise<boolean> {
  try {
    await fs.lstat(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * fsync a folder: its entries (the result of a rename or a create in it) reach the disk. Windows
 * cannot open a folder for this; there NTFS's journal is what makes the rename durable. Some
 * filesystems (FUSE, some network mounts) refuse fsync on a folder: there it cannot be had, and
 * refusing every write would be worse.
 */
export async function syncDir(dir: string): Promise<void> {
  if (process.platform === 'win32') return;
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } catch (err) {
    if (!['EINVAL', 'ENOTSUP', 'EOPNOTSUPP', 'EISDIR'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
  } finally {
    await handle.close();
  }
}

/**
 * Creates `dir` and its missing parents one level at a time; returns the folders it created,
 * outermost first (so a caller can take them back). Every failure is one RuntimeFailure line.
 */
export async function makeDirs(dir: string, what = 'folder'): Promise<string[]> {
  const target = path.resolve(dir);
  const missing: string[] = [];
  let probe = target;
  for (;;) {
    let st;
    try {
      st = await fs.stat(probe);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') throw new RuntimeFailure(`${what} ${target} cannot be created: ${probe}: ${describeFsError(err)}`);
      const up = path.dirname(probe);
      if (up === probe) throw new RuntimeFailure(`${what} ${target} cannot be created: no existing parent folder`);
      missing.unshift(probe);
      probe = up;
      continue;
    }
    if (!st.isDirectory()) throw new RuntimeFailure(`${what} ${target} cannot be created: ${probe} is a file, not a folder`);
    break;
  }
  const created: string[] = [];
  for (const level of missing) {
    try {
      await fs.mkdir(level);
      created.push(level);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' && (await isDirectory(level))) continue;
      throw new RuntimeFailure(`${what} ${target} cannot be created: ${level}: ${describeFsError(err)}: choose another location`);
    }
  }
  return created;
}

/** Removes folders `makeDirs` created, innermost first, where they are still empty. */
export async function removeEmptyDirs(created: readonly string[]): Promise<void> {
  for (const dir of [...created].reverse()) {
    try {
      await fs.rmdir(dir);
    } catch {
      return;
    }
  }
}

async function isDirectory(p: string): Promise<boolean> {
  try {
    return (await fs.stat(p)).isDirectory();
  } catch {
    return false;
  }
}

/** The short, human form of a filesystem error: `EACCES (permission denied)`. */
export function describeFsError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const known: Record<string, string> = {
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EROFS: 'read-only filesystem',
    ENOSPC: 'no space left',
    ENOTDIR: 'part of the path is a file',
    ENOENT: 'no such file or folder (a virtual filesystem such as /proc cannot hold files)',
    EEXIST: 'already exists',
    EISDIR: 'is a folder',
    EDQUOT: 'disk quota exceeded',
    EIO: 'input/output error',
  };
  if (e?.code) return `${e.code} (${known[e.code] ?? e.message})`;
  return e?.message ?? String(err);
}

/** `work`, or a RuntimeFailure naming `what` when it has not settled within `ms`. */
export async function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RuntimeFailure(`${what} did not answer within ${ms / 1000} s: is it on a stalled network filesystem? choose another location`)), ms);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Proves `dir` can hold files: creates it (and missing parents) and a temporary file in it,
 * then removes the file. Returns an undo that removes the folders it created if still empty.
 */
export async function proveWritableDir(dir: string, what: string): Promise<() => Promise<void>> {
  const created = await makeDirs(dir, what);
  const probe = temporaryName(path.join(dir, 'write-probe'));
  try {
    await fs.writeFile(probe, '');
    await fs.rm(probe, { force: true });
  } catch (err) {
    await removeEmptyDirs(created);
    throw new RuntimeFailure(`${what} ${path.resolve(dir)} cannot hold files: ${describeFsError(err)}: choose another location`);
  }
  return () => removeEmptyDirs(created);
}
