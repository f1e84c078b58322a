import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { RuntimeFailure, UsageError } from '../errors.js';

/**
 * Checked before any work starts: an output directory that already holds files is refused
 * unless `force` (so one run never silently mixes with or clobbers another), and a location
 * that cannot be written is reported before hours of training, not after.
 */
export async function checkOutputDir(dir: string, force: boolean, flag = '--out'): Promise<void> {
  let entries: string[] | null = null;
  try {
    const st = await fs.stat(dir);
    if (!st.isDirectory()) throw new UsageError(`${flag} ${dir} is a file, not a directory: choose another path`);
    entries = await fs.readdir(dir);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR') {
      throw new RuntimeFailure(`${flag} ${dir} cannot be written (part of the path is a file): choose another location`);
    }
    if (code !== 'ENOENT') {
      throw new RuntimeFailure(`${flag} ${dir} cannot be read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  }
  if (entries && entries.length > 0 && !force) {
    throw new UsageError(
      `${flag} ${dir} already holds another run's files (${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', …' : ''}): choose another directory or pass --force to replace it`,
    );
  }
  const probe = await nearestExistingAncestor(entries ? dir : path.dirname(dir));
  try {
    await fs.access(probe, fs.constants.W_OK);
    const st = await fs.stat(probe);
    if (!st.isDirectory()) throw new Error('not a directory');
  } catch {
    throw new RuntimeFailure(`${flag} ${dir} cannot be written (${probe} is not a writable directory): choose another location`);
  }
}

/** `dir` itself if it exists, else its closest existing parent: where a mkdir -p would start. */
export async function nearestExistingAncestor(dir: string): Promise<string> {
  let probe = path.resolve(dir);
  for (;;) {
    try {
      await fs.access(probe);
      return probe;
    } catch {
      const up = path.dirname(probe);
      if (up === probe) return probe;
      probe = up;
    }
  }
}
