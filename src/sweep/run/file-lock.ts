/**
 * A lock file shared by the processes of a sweep, on one machine or several sharing a
 * filesystem: created with an exclusive open ('wx'), so exactly one creator wins; it names its
 * holder (host, pid) and the holder touches it every few seconds. A lock whose holder is a dead
 * process on this host, or that nobody has touched for `staleMs`, is taken over, so a sweep
 * killed with SIGKILL never blocks its rerun.
 *
 * Taking over a stale lock is not atomic across machines: two waiters may both judge it stale
 * and both proceed. What the locks guard (shared transfer sets, the victim) is written
 * atomically and deterministically, so the worst case is the same work done twice.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeDirs, processAlive } from '../../util/safe-fs.js';

interface LockHolder {
  host: string;
  pid: number;
  since: string;
}

interface LockOptions {
  heartbeatMs?: number;
  staleMs?: number;
}

const DEFAULT_HEARTBEAT_MS = 10_000;
const DEFAULT_STALE_MS = 60_000;

export class FileLock {
  private timer: NodeJS.Timeout | null = null;
  private released = false;

  private constructor(readonly file: string, heartbeatMs: number) {
    this.timer = setInterval(() => {
      const now = new Date();
      fs.utimes(this.file, now, now).catch(() => undefined);
    }, heartbeatMs);
    this.timer.unref();
  }

  /** The lock, or the live holder that has it. */
  static async tryAcquire(file: string, opts: LockOptions = {}): Promise<FileLock | LockHolder> {
    await makeDirs(path.dirname(file));
    const me: LockHolder = { host: os.hostname(), pid: process.pid, since: new Date().toISOString() };
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const handle = await fs.open(file, 'wx');
        try {
          await handle.writeFile(JSON.stringify(me) + '\n');
        } finally {
          await handle.close();
        }
        return new FileLock(file, opts.heartbeatMs ?? DEFAULT_HEARTBEAT_MS);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const holder = await readHolder(file);
      if (holder === 'gone') continue;
      if (!(await isStale(file, holder, opts.staleMs ?? DEFAULT_STALE_MS))) return holder ?? { host: '?', pid: 0, since: '?' };
      // Move the stale lock aside (a rename, so only one taker removes this very file), then retry.
      const aside = `${file}.stale-${process.pid}-${Date.now()}`;
      try {
        await fs.rename(file, aside);
        await fs.rm(aside, { force: true });
      } catch {
        // Someone else moved it first: just retry.
      }
    }
    const holder = await readHolder(file);
    return holder === 'gone' || holder === null ? { host: '?', pid: 0, since: '?' } : holder;
  }

  /** Wait (polling) until the lock is ours; `onWait` hears about the holder once. */
  static async acquire(file: string, opts: LockOptions & { pollMs?: number; onWait?: (holder: LockHolder) => void } = {}): Promise<FileLock> {
    let told = false;
    for (;;) {
      const got = await FileLock.tryAcquire(file, opts);
      if (got instanceof FileLock) return got;
      if (!told) {
        opts.onWait?.(got);
        told = true;
      }
      await new Promise((r) => setTimeout(r, opts.pollMs ?? 1000));
    }
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await fs.rm(this.file, { force: true });
  }
}

async function readHolder(file: string): Promise<LockHolder | null | 'gone'> {
  try {
    const parsed = JSON.parse(await fs.readFile(file, 'utf8')) as Partial<LockHolder>;
    if (typeof parsed.host === 'string' && typeof parsed.pid === 'number') return parsed as LockHolder;
    return null;
  } catch (err) {
    // ENOENT: released between our open and our read. A parse error: the holder is still writing it.
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'gone' : null;
  }
}

async function isStale(file: string, holder: LockHolder | null, staleMs: number): Promise<boolean> {
  if (holder && holder.host === os.hostname() && !processAlive(holder.pid)) return true;
  try {
    const st = await fs.stat(file);
    return Date.now() - st.mtimeMs > staleMs;
  } catch {
    return false;
  }
}
