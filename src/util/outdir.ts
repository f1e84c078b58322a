import { renameSync, rmSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { RuntimeFailure, UsageError } from '../errors.js';
import { describeFsError, makeDirs, OLD_SUFFIX, removeEmptyDirs, removeStaleTemporaries, syncDir, temporaryName, withDeadline } from './safe-fs.js';

/** How long proving an output location may take before it is called unusable. */
export const OUTPUT_PROBE_MS = 30_000;

/**
 * An output directory claimed before any work starts: its temporary sibling exists already, so
 * a location that cannot hold files is reported at once, not after hours of training. The
 * results are written into `tmp` and moved into place by `commit` in one rename.
 */
export interface OutputReservation {
  readonly target: string;
  readonly tmp: string;
  /** Fill the temporary folder, then move it into place (replacing `target`); on failure nothing is left. */
  commit(fill: (dir: string) => Promise<void>): Promise<void>;
  /** Give the reservation up: the temporary folder (and the parents it created) go. */
  abandon(): Promise<void>;
}

/** Reservations not yet committed or abandoned: removed when the process exits, whatever ends it. */
const live = new Set<string>();
/** Old outputs moved aside (`<tmp>-old` → target) whose new output is not yet in place: put back on exit. */
const swapping = new Map<string, string>();
let exitHookInstalled = false;

function track(tmp: string): void {
  live.add(tmp);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const [old, target] of swapping) {
      try {
        renameSync(old, target);
      } catch {
        // The next start's removeStaleTemporaries puts it back.
      }
    }
    for (const dir of live) rmSync(dir, { recursive: true, force: true });
  });
}

/**
 * Checks `dir` (an existing one that holds files is refused unless `force`, so one run never
 * silently mixes with or clobbers another), removes temporaries of killed runs beside it, and
 * creates the temporary sibling the results will be built in; all within OUTPUT_PROBE_MS.
 */
export async function reserveOutputDir(dir: string, force: boolean, flag = '--out'): Promise<OutputReservation> {
  const target = path.resolve(dir);
  return withDeadline(reserve(target, force, flag), OUTPUT_PROBE_MS, `${flag} ${dir}`);
}

async function reserve(target: string, force: boolean, flag: string): Promise<OutputReservation> {
  await checkOutputDir(target, force, flag);
  const parent = path.dirname(target);
  const created = await makeDirs(parent, `${flag} ${target}: folder`);
  await removeStaleTemporaries(parent);
  const tmp = temporaryName(target);
  try {
    await fs.mkdir(tmp);
  } catch (err) {
    await removeEmptyDirs(created);
    throw new RuntimeFailure(`${flag} ${target} cannot be written: ${describeFsError(err)}: choose another location`);
  }
  track(tmp);
  let settled = false;
  const abandon = async (): Promise<void> => {
    settled = true;
    live.delete(tmp);
    await fs.rm(tmp, { recursive: true, force: true });
    await removeEmptyDirs(created);
  };
  return {
    target,
    tmp,
    abandon,
    async commit(fill) {
      if (settled) throw new Error(`output reservation for ${target} used twice`);
      try {
        await fill(tmp);
        await replaceWith(tmp, target);
      } catch (err) {
        await abandon();
        throw err;
      }
      settled = true;
      live.delete(tmp);
    },
  };
}

/**
 * Moves the complete `tmp` to `target` in three steps, each durable before the next (the
 * folder is fsynced after every rename), so that a crash at any point leaves the old or the new
 * output at `target`:
 *   1. `target` → `<tmp>-old`    (a crash now: removeStaleTemporaries renames `-old` back)
 *   2. `tmp` → `target`          (a crash now: the new output is in place; `-old` is removed)
 *   3. `<tmp>-old` removed
 * A failed step 2 in this process renames the old output back before the error goes on.
 */
async function replaceWith(tmp: string, target: string): Promise<void> {
  const parent = path.dirname(target);
  await syncDir(tmp);
  faultPoint('swap:start');
  let old: string | undefined = `${tmp}${OLD_SUFFIX}`;
  try {
    await fs.rename(target, old);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    old = undefined;
  }
  if (old) {
    swapping.set(old, target);
    await syncDir(parent);
    faultPoint('swap:old-moved');
  }
  try {
    failPoint('swap:new-rename-fails');
    await fs.rename(tmp, target);
  } catch (err) {
    if (old) {
      await fs.rename(old, target);
      swapping.delete(old);
      await syncDir(parent);
    }
    throw err;
  }
  if (old) swapping.delete(old);
  await syncDir(parent);
  faultPoint('swap:new-moved');
  if (old) await fs.rm(old, { recursive: true, force: true });
  faultPoint('swap:done');
}

/**
 * A test-only fault hook: with POISON_FAULT=<point> the process kills itself (SIGKILL, as a power
 * cut or the OOM killer would) on reaching that point, so tests can check what a crash there
 * leaves. One environment lookup per point; nothing else when the variable is unset.
 */
function faultPoint(point: string): void {
  if (process.env.POISON_FAULT === point) process.kill(process.pid, 'SIGKILL');
}

/**
 * The same hook for a step that fails instead (an I/O error the process survives): with
 * POISON_FAULT=<point> it throws there, so a test can check the swap's recovery from that failure.
 */
function failPoint(point: string): void {
  if (process.env.POISON_FAULT === point) throw Object.assign(new Error(`${point} (POISON_FAULT)`), { code: 'EIO' });
}

async function checkOutputDir(dir: string, force: boolean, flag: string): Promise<void> {
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
    if (code !== 'ENOENT') throw new RuntimeFailure(`${flag} ${dir} cannot be read: ${describeFsError(err)}`);
  }
  if (entries && entries.length > 0 && !force) {
    throw new UsageError(
      `${flag} ${dir} already holds another run's files (${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', …' : ''}): choose another directory or pass --force to replace it`,
    );
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
