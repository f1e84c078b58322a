import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { makeDirs, syncDir, temporaryName } from './safe-fs.js';

/**
 * Write a file so that readers see either the old content or the whole new content, never a
 * part: write to a temporary sibling, fsync, rename over the target, then fsync the folder so
 * the rename itself survives a power cut (without it the folder may come back holding neither).
 */
export async function writeFileAtomic(target: string, data: string | Uint8Array): Promise<void> {
  await makeDirs(path.dirname(target));
  const tmp = temporaryName(target);
  const handle = await fs.open(tmp, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (err) {
    await handle.close();
    await fs.rm(tmp, { force: true });
    throw err;
  }
  await handle.close();
  try {
    await fs.rename(tmp, target);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
  await syncDir(path.dirname(target));
}

export async function writeJsonAtomic(target: string, value: unknown): Promise<void> {
  await writeFileAtomic(target, JSON.stringify(value, null, 2) + '\n');
}
