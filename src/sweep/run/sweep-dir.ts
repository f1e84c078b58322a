/**
 * The sweep's output directory and its fingerprint file, sweep.json. A directory is reused only
 * by the same sweep (same fingerprint: the same victim), so a rerun resumes and shards on other
 * machines join in; a different sweep's directory is refused unless --force, which deletes the
 * entries a sweep owns (and only those) before starting over.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RuntimeFailure, UsageError } from '../../errors.js';
import { writeJsonAtomic } from '../../util/atomic.js';
import type { VictimIdentity } from '../plan/cell.js';
import { describeVictim } from '../plan/victim-identity.js';
import { nearestExistingAncestor } from '../../util/outdir.js';
import { makeDirs } from '../../util/safe-fs.js';
import { liveLocks } from './file-lock.js';

const SWEEP_FILE = 'sweep.json';
const SLURM_SCRIPTS_DIR = 'slurm';
const SWEEP_FORMAT = 'poison-sweep/1';

/** Adaptive attacks' query phases shared by the cells of one group until all of them finished. */
export const QUERIES_DIR = 'queries';

/** Every entry a sweep writes in its directory; --force deletes these and nothing else. */
const OWNED_ENTRIES = [SWEEP_FILE, 'cells', 'failed', 'runs', 'victim', 'locks', QUERIES_DIR, 'plots', 'sweep.csv', 'summary.md'] as const;

interface SweepFile {
  format: typeof SWEEP_FORMAT;
  fingerprint: string;
  name: string;
  config: string;
  victim: VictimIdentity;
  createdAt: string;
  createdOn: string;
}

export type DirState =
  | { kind: 'fresh' }
  | { kind: 'resume' }
  /** Holds another sweep's results or foreign files; only allowed with --force. */
  | { kind: 'replace'; reason: string };

/** Look at the directory without changing it; refuse (exit 2) what --force does not allow. */
export async function inspectSweepDir(out: string, fingerprint: string, victim: VictimIdentity, force: boolean): Promise<DirState> {
  let entries: string[];
  try {
    const st = await fs.stat(out);
    if (!st.isDirectory()) throw new UsageError(`output directory ${out} is a file: choose another 'out' (or --out)`);
    // slurm/: the batch scripts `--slurm` writes (and their logs) before the sweep claims the folder.
    entries = (await fs.readdir(out)).filter((e) => !e.startsWith('.') && e !== SLURM_SCRIPTS_DIR);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      await checkWritable(out);
      return { kind: 'fresh' };
    }
    throw new RuntimeFailure(`output directory ${out} cannot be read: ${code ?? String(err)}`);
  }
  await checkWritable(out);
  if (entries.length === 0) return { kind: 'fresh' };
  const existing = await readSweepFile(out);
  let reason: string;
  let forceDoes: string;
  if (existing === null) {
    reason = `${out} holds files that are not a poison sweep's (${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', …' : ''})`;
    forceDoes = 'to write the sweep there anyway (those files are kept)';
  } else if (existing === 'unreadable') {
    reason = `${out}/${SWEEP_FILE} is damaged`;
    forceDoes = "to delete the sweep's results there and start over";
  } else if (existing.fingerprint === fingerprint) {
    return { kind: 'resume' };
  } else {
    reason = `${out} holds the results of a different sweep (${existing.config}, victim: ${describeVictim(existing.victim)}; this config's victim: ${describeVictim(victim)})`;
    forceDoes = "to delete that sweep's results and start over";
  }
  if (!force) throw new UsageError(`${reason}: choose another 'out' (or --out), or pass --force ${forceDoes}`);
  // Other processes (array tasks, shards) still working there would lose their victim, locks and
  // cells under them: --force waits for none and deletes nothing while a lock is alive.
  const live = await liveLocks(path.join(out, 'locks'));
  if (live.length > 0) {
    const h = live[0]!;
    throw new UsageError(
      `--force refused: ${live.length} lock${live.length > 1 ? 's' : ''} in ${path.join(out, 'locks')} ${live.length > 1 ? 'are' : 'is'} held by running processes ` +
        `(${h.host} pid ${h.pid}${h.slurmJob ? `, Slurm job ${h.slurmJob}` : ''}, since ${h.since}${live.length > 1 ? ', …' : ''}): stop them first (scancel), or choose another 'out'`,
    );
  }
  return { kind: 'replace', reason };
}

async function readSweepFile(out: string): Promise<SweepFile | null | 'unreadable'> {
  try {
    const parsed = JSON.parse(await fs.readFile(path.join(out, SWEEP_FILE), 'utf8')) as SweepFile;
    if (parsed.format !== SWEEP_FORMAT || typeof parsed.fingerprint !== 'string') return 'unreadable';
    return parsed;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? null : 'unreadable';
  }
}

/** Make the directory ours: clear a replaced sweep's entries, then write the fingerprint file. */
export async function claimSweepDir(
  out: string,
  state: DirState,
  file: Omit<SweepFile, 'format' | 'createdAt' | 'createdOn'>,
): Promise<void> {
  if (state.kind === 'replace') {
    for (const entry of OWNED_ENTRIES) await fs.rm(path.join(out, entry), { recursive: true, force: true });
  }
  await makeDirs(out, 'sweep output');
  if (state.kind !== 'resume') {
    const record: SweepFile = { format: SWEEP_FORMAT, ...file, createdAt: new Date().toISOString(), createdOn: os.hostname() };
    await writeJsonAtomic(path.join(out, SWEEP_FILE), record);
  }
  // Two different sweeps started at the same moment on one fresh directory: the last write wins,
  // and the other one stops here instead of mixing its cells in.
  const now = await readSweepFile(out);
  if (now === null || now === 'unreadable' || now.fingerprint !== file.fingerprint) {
    throw new UsageError(`${out} was claimed by a different sweep at the same time: choose another 'out' (or --out)`);
  }
}

/** The nearest existing ancestor must be a writable directory: said now, not after the victim trained. */
async function checkWritable(dir: string): Promise<void> {
  const probe = await nearestExistingAncestor(dir);
  try {
    const st = await fs.stat(probe);
    if (!st.isDirectory()) throw new UsageError(`output directory ${dir} cannot be created: ${probe} is a file`);
    await fs.access(probe, fs.constants.W_OK);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new RuntimeFailure(`output directory ${dir} cannot be written (${probe} is not writable): choose another location`);
  }
}
