/**
 * A lock file shared by the processes of a sweep, on one machine or on several sharing a
 * filesystem (NFS, Lustre, a ReadWriteMany volume), where neither clocks nor file times can be
 * trusted across hosts:
 *
 * - **Creation** is an exclusive open ('wx'): exactly one creator wins. The file names its holder
 *   and a random owner token.
 * - **Heartbeat**: the holder rewrites its own beat file, `<lock>.beat-<token>`, with a counter
 *   every `heartbeatMs`. Only the file's *content* matters, never its mtime: NFS attribute
 *   caching (acregmax, 60 s by default) and clock skew make mtimes useless across hosts.
 * - **Staleness** is judged by the waiter alone: a lock is stale once the waiter has seen the same
 *   lock content and the same beat content for longer than `staleMs` on its own monotonic clock.
 *   No clock of another host is ever compared with ours. A waiter that has just arrived never
 *   finds a lock stale; it must watch it first.
 * - **Take-over** renames the stale lock file aside (a rename: only one waiter gets that very
 *   file), then checks that what it moved is the content it judged stale. If it moved a newer
 *   lock instead (another waiter took over first and already holds it), it puts that one back
 *   with link(), which never overwrites, and gives up. So of two waiters racing for one stale
 *   lock, one wins.
 * - **Release** removes the lock only if it still carries our token (read, rename aside, verify):
 *   it never removes a lock another process holds.
 * - **Same machine shortcut**: a holder records the boot id, its pid namespace and its process
 *   start time. A waiter in the same boot *and* the same pid namespace can ask the kernel whether
 *   that process still exists, so a sweep killed with SIGKILL is taken over at once on its own
 *   machine. Containers sharing a hostname but not a pid namespace differ in the namespace, and the
 *   start time rules out a reused pid, so a pid is never looked up where it means another process.
 *
 * What the locks guard (shared transfer sets, the victim, a cell) is written atomically and
 * deterministically: should a holder be displaced anyway (it stopped beating for longer than
 * `staleMs`, e.g. a frozen VM), the worst case is the same work done twice, never a wrong result.
 */
import { existsSync, linkSync, promises as fs, readFileSync, readlinkSync, renameSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeDirs } from '../../util/safe-fs.js';

interface LockHolder {
  host: string;
  pid: number;
  since: string;
  /** Random per acquisition: what release and take-over verify. Absent in locks of older versions. */
  token?: string;
  /** The holder's heartbeat period, so a reader knows how long to watch for a beat. */
  heartbeatMs?: number;
  /** The Slurm job (array job_task) the holder runs in, for `--status`. */
  slurmJob?: string;
  /** Same-machine liveness shortcut (see the header): boot id, pid namespace, start time of pid. */
  bootId?: string;
  pidNs?: string;
  startTicks?: string;
}

interface LockOptions {
  heartbeatMs?: number;
  staleMs?: number;
}

const DEFAULT_HEARTBEAT_MS = 10_000;
const DEFAULT_STALE_MS = 60_000;
/** Set to 0 to record no same-machine identity (tests of the cross-host path). */
const PID_SHORTCUT_ENV = 'POISON_LOCK_PID_SHORTCUT';
/**
 * Milliseconds to pause between judging a lock stale and moving it (0 normally): tests widen this
 * window, where two waiters race, so that the race they check really happens.
 */
const TAKEOVER_PAUSE_MS = Number(process.env.POISON_LOCK_TAKEOVER_PAUSE_MS ?? '0') || 0;

/** What this process saw of each lock, and since when (our monotonic clock): the staleness evidence. */
const observations = new Map<string, { content: string; since: number }>();

export class FileLock {
  private timer: NodeJS.Timeout | null = null;
  private released = false;
  /** Set once a release finished removing its files (release() sets `released` at its start, then awaits). */
  private settled = false;
  private beats = 0;
  private beating = false;
  /**
   * Set when a heartbeat, or release itself, found the lock file no longer ours (taken over after
   * we stalled). Release sets it too: after a stall, a release can run before any heartbeat has.
   */
  lost = false;

  private constructor(
    readonly file: string,
    readonly token: string,
    heartbeatMs: number,
  ) {
    this.timer = setInterval(() => void this.beat(), heartbeatMs);
    this.timer.unref();
  }

  private get beatFile(): string {
    return beatFileOf(this.file, this.token);
  }

  private async beat(): Promise<void> {
    if (this.beating || this.released) return;
    this.beating = true;
    try {
      this.beats++;
      await fs.writeFile(this.beatFile, `${this.beats}\n`);
      const now = parseHolder(await fs.readFile(this.file, 'utf8').catch(() => ''));
      if (now?.token !== this.token) this.lost = true;
    } catch {
      // A transient filesystem error: the next beat tries again.
    } finally {
      this.beating = false;
    }
  }

  /** The lock, or the live holder that has it. */
  static async tryAcquire(file: string, opts: LockOptions = {}): Promise<FileLock | LockHolder> {
    await makeDirs(path.dirname(file));
    const heartbeatMs = opts.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    const staleMs = opts.staleMs ?? DEFAULT_STALE_MS;
    for (let attempt = 0; attempt < 3; attempt++) {
      const me = myHolder(heartbeatMs);
      const token = me.token!;
      // The beat file exists before the lock names it, so a watcher never sees a holder without one.
      await fs.writeFile(beatFileOf(file, token), '0\n');
      try {
        const handle = await fs.open(file, 'wx');
        try {
          await handle.writeFile(JSON.stringify(me) + '\n');
        } finally {
          await handle.close();
        }
        observations.delete(file);
        return new FileLock(file, token, heartbeatMs);
      } catch (err) {
        await fs.rm(beatFileOf(file, token), { force: true });
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const seen = await observe(file);
      if (seen === 'gone') continue;
      if (!isStale(file, seen, staleMs)) return seen.holder ?? unknownHolder();
      if (!(await takeOver(file, seen.lock, seen.holder))) return (await readHolder(file)) ?? unknownHolder();
    }
    return (await readHolder(file)) ?? unknownHolder();
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

  /** Remove the lock if it is still ours; a lock another process holds now is left alone. */
  async release(): Promise<void> {
    if (this.released) return;
    this.stop();
    const aside = `${this.file}.release-${this.token}`;
    try {
      if (parseHolder(await fs.readFile(this.file, 'utf8'))?.token !== this.token) {
        this.lost = true;
        return;
      }
      await fs.rename(this.file, aside);
      if (parseHolder(await fs.readFile(aside, 'utf8'))?.token !== this.token) {
        this.lost = true;
        await restore(aside, this.file);
      }
    } catch {
      // Gone already (taken over after a stall, or removed by hand): nothing of ours to remove.
    } finally {
      await fs.rm(aside, { force: true });
      await fs.rm(this.beatFile, { force: true });
      this.settled = true;
    }
  }

  /**
   * release(), synchronously: for a signal handler, when the process is about to exit. It also
   * completes a release() that the signal caught between two of its awaits (the process exits
   * before that one resumes): else its lock, or the lock moved aside and the beat file, would stay.
   */
  releaseSync(): void {
    if (this.settled) return;
    this.stop();
    const aside = `${this.file}.release-${this.token}`;
    try {
      if (!existsSync(aside)) {
        if (parseHolder(readFileSync(this.file, 'utf8'))?.token !== this.token) {
          this.lost = true;
          return;
        }
        renameSync(this.file, aside);
      }
      if (parseHolder(readFileSync(aside, 'utf8'))?.token !== this.token) {
        this.lost = true;
        try {
          linkSync(aside, this.file);
        } catch {
          // Someone created a new lock meanwhile: theirs stays.
        }
      }
    } catch {
      // Not ours any more.
    } finally {
      rmSync(aside, { force: true });
      rmSync(this.beatFile, { force: true });
      this.settled = true;
    }
  }

  private stop(): void {
    this.released = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}

function beatFileOf(file: string, token: string): string {
  return `${file}.beat-${token}`;
}

function unknownHolder(): LockHolder {
  return { host: '?', pid: 0, since: '?' };
}

let identity: Pick<LockHolder, 'bootId' | 'pidNs' | 'startTicks'> | null | undefined;

/** This process's same-machine identity, or null where /proc cannot tell (not Linux). */
function machineIdentity(): Pick<LockHolder, 'bootId' | 'pidNs' | 'startTicks'> | null {
  if (identity !== undefined) return identity;
  try {
    identity = { bootId: readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(), pidNs: readlinkSync('/proc/self/ns/pid'), startTicks: startTicksOf('self') };
  } catch {
    identity = null;
  }
  return identity;
}

/** Field 22 of /proc/<pid>/stat: when the process started, in clock ticks since boot. */
function startTicksOf(pid: number | 'self'): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!;
}

function myHolder(heartbeatMs: number): LockHolder {
  const slurmJob = process.env.SLURM_ARRAY_JOB_ID
    ? `${process.env.SLURM_ARRAY_JOB_ID}_${process.env.SLURM_ARRAY_TASK_ID ?? '?'}`
    : process.env.SLURM_JOB_ID;
  const same = process.env[PID_SHORTCUT_ENV] === '0' ? null : machineIdentity();
  return {
    host: os.hostname(),
    pid: process.pid,
    since: new Date().toISOString(),
    token: randomBytes(12).toString('hex'),
    heartbeatMs,
    ...(slurmJob ? { slurmJob } : {}),
    ...(same ?? {}),
  };
}

function parseHolder(content: string): LockHolder | null {
  try {
    const parsed = JSON.parse(content) as Partial<LockHolder>;
    if (typeof parsed.host === 'string' && typeof parsed.pid === 'number' && typeof parsed.since === 'string') return parsed as LockHolder;
  } catch {
    // Being written (an empty or partial file), or not a lock of ours.
  }
  return null;
}

/** The holder named in a lock file, or null when there is none (or it is unreadable). */
export async function readHolder(file: string): Promise<LockHolder | null> {
  return parseHolder(await fs.readFile(file, 'utf8').catch(() => ''));
}

interface Observation {
  /** The lock file's bytes (a holder still writing it leaves them empty). */
  lock: string;
  holder: LockHolder | null;
  /** The lock and its beat file's content together: what must change while the holder lives. */
  content: string;
}

async function observe(file: string): Promise<Observation | 'gone'> {
  let lock: string;
  try {
    lock = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
    throw err;
  }
  const holder = parseHolder(lock);
  const beat = holder?.token ? await fs.readFile(beatFileOf(file, holder.token), 'utf8').catch(() => '(none)') : '(none)';
  return { lock, holder, content: `${lock}\0${beat}` };
}

/** True once this process has watched the same content for longer than staleMs (or the holder provably died here). */
function isStale(file: string, seen: Observation, staleMs: number): boolean {
  if (seen.holder && deadOnThisMachine(seen.holder)) return true;
  const now = performance.now();
  const before = observations.get(file);
  if (before?.content !== seen.content) {
    observations.set(file, { content: seen.content, since: now });
    return false;
  }
  return now - before.since > staleMs;
}

/** The same-machine shortcut: true only when the kernel here can say the holder is gone. */
function deadOnThisMachine(holder: LockHolder): boolean {
  const me = machineIdentity();
  if (!me || !holder.bootId || holder.bootId !== me.bootId || holder.pidNs !== me.pidNs || !holder.startTicks) return false;
  try {
    return startTicksOf(holder.pid) !== holder.startTicks;
  } catch {
    return true;
  }
}

/**
 * Move the stale lock (the one whose bytes are `stale`) out of the way; true when this call removed
 * it or it was gone already, false when the file there was a newer lock (put back untouched).
 */
async function takeOver(file: string, stale: string, holder: LockHolder | null): Promise<boolean> {
  if (TAKEOVER_PAUSE_MS > 0) await new Promise((r) => setTimeout(r, TAKEOVER_PAUSE_MS));
  const aside = `${file}.takeover-${randomBytes(8).toString('hex')}`;
  try {
    await fs.rename(file, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw err;
  }
  const moved = await fs.readFile(aside, 'utf8').catch(() => null);
  if (moved !== stale) {
    await restore(aside, file);
    await fs.rm(aside, { force: true });
    return false;
  }
  await fs.rm(aside, { force: true });
  if (holder?.token) await fs.rm(beatFileOf(file, holder.token), { force: true });
  observations.delete(file);
  return true;
}

/** Put a lock we moved by mistake back, unless a new one was created meanwhile (link never overwrites). */
async function restore(aside: string, file: string): Promise<void> {
  try {
    await fs.link(aside, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}

/**
 * The locks in `dir` whose holders are alive: each is watched until its content changes (alive),
 * for at most three of its holder's heartbeats (bounded by `staleMs`). A lock provably dead on
 * this machine, or whose content stays still that long, is not counted.
 */
export async function liveLocks(dir: string, opts: { staleMs?: number; pollMs?: number } = {}): Promise<(LockHolder & { file: string })[]> {
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  const files = names.filter((n) => n.endsWith('.lock')).map((n) => path.join(dir, n));
  const staleMs = opts.staleMs ?? DEFAULT_STALE_MS;
  const watch = async (file: string): Promise<(LockHolder & { file: string }) | null> => {
    const first = await observe(file);
    if (first === 'gone') return null;
    if (first.holder && deadOnThisMachine(first.holder)) return null;
    const limit = Math.min(staleMs, 3 * (first.holder?.heartbeatMs ?? DEFAULT_HEARTBEAT_MS));
    const started = performance.now();
    while (performance.now() - started < limit) {
      await new Promise((r) => setTimeout(r, opts.pollMs ?? 200));
      const now = await observe(file);
      if (now === 'gone') return null;
      if (now.content !== first.content) return { ...(now.holder ?? unknownHolder()), file };
    }
    return null;
  };
  return (await Promise.all(files.map(watch))).filter((x): x is LockHolder & { file: string } => x !== null);
}
