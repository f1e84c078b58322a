/**
 * `poison sweep CONFIG --slurm`: three batch scripts in OUT/slurm/ that run the sweep on a Slurm
 * cluster, and (`--submit`) their submission with the right dependencies:
 *
 * - prepare.sbatch trains the victim and builds what the defenses prepare beside it;
 * - cells.sbatch is an array of `--tasks` tasks (at most `--parallelism` at once), each pulling
 *   unclaimed cells (`--shard auto`) until none is left; afterany:prepare, so a failed prepare
 *   still lets the tasks try (the first one to need the victim trains it under its lock);
 * - merge.sbatch (afterany on the array) merges and lists any cell that did not finish, exit 1 then.
 *
 * Requeue: a task is told before its time limit (`--signal=B:USR1@…`, to the batch shell) or is
 * preempted (SIGTERM). Either way poison releases its locks and leaves its running cell to the
 * other tasks; on USR1 the script then asks Slurm to requeue the task, which pulls what is left
 * (test/sweep-slurm.test.ts sends the warning as Slurm does and checks the requeued run).
 */
import { spawn, spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RuntimeFailure, UsageError } from '../../errors.js';
import { makeDirs } from '../../util/safe-fs.js';
import { writeFileAtomic } from '../../util/atomic.js';

const SLURM_DIR = 'slurm';

export interface SlurmOptions {
  tasks: number;
  /** At most this many array tasks at once (`%P`); null: no limit. */
  parallelism: number | null;
  partition?: string;
  gpusPerTask?: string;
  cpusPerTask: number;
  mem?: string;
  time?: string;
  /** Passed through as `#SBATCH <arg>` lines in every script. */
  sbatchArgs: readonly string[];
}

/** The `poison sweep` command every script runs (absolute paths: jobs start in other folders). */
interface SweepInvocation {
  config: string;
  out: string;
  cacheDir?: string;
  backend?: string;
  force: boolean;
}

interface SlurmScripts {
  prepare: string;
  cells: string;
  merge: string;
}

const POISON_BIN = fileURLToPath(new URL('../../../../bin/poison', import.meta.url));
/** Seconds before the time limit at which Slurm warns a task (USR1) so it can leave and be requeued. */
const WARN_BEFORE_LIMIT_S = 120;

function quote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

function poisonCommand(run: SweepInvocation, extra: string[]): string {
  const args = [process.execPath, POISON_BIN, 'sweep', run.config, '--out', run.out];
  if (run.cacheDir) args.push('--cache-dir', run.cacheDir);
  if (run.backend) args.push('--backend', run.backend);
  return [...args, ...extra].map(quote).join(' ');
}

function header(name: string, out: string, log: string, lines: string[], opts: SlurmOptions): string {
  const all = [
    '#!/bin/bash',
    `#SBATCH --job-name=${name}`,
    `#SBATCH --output=${path.join(out, SLURM_DIR, 'logs', log)}`,
    ...(opts.partition ? [`#SBATCH --partition=${opts.partition}`] : []),
    ...lines.map((l) => `#SBATCH ${l}`),
    ...opts.sbatchArgs.map((a) => `#SBATCH ${a}`),
  ];
  return all.join('\n') + '\n';
}

function resources(opts: SlurmOptions): string[] {
  return [
    `--cpus-per-task=${opts.cpusPerTask}`,
    ...(opts.gpusPerTask ? [`--gpus-per-task=${opts.gpusPerTask}`] : []),
    ...(opts.mem ? [`--mem=${opts.mem}`] : []),
    ...(opts.time ? [`--time=${opts.time}`] : []),
  ];
}

function renderScripts(run: SweepInvocation, opts: SlurmOptions, cwd: string): SlurmScripts {
  const jobs = String(opts.cpusPerTask);
  const cd = `cd ${quote(cwd)}\n`;
  const prepare =
    header('poison-prepare', run.out, 'prepare-%j.log', resources(opts), opts) +
    'set -eu\n' + cd +
    `exec ${poisonCommand(run, ['--prepare', '--jobs', jobs, ...(run.force ? ['--force'] : [])])}\n`;
  const cells =
    header('poison-cells', run.out, 'cells-%A_%a.log', [
      `--array=1-${opts.tasks}${opts.parallelism !== null ? `%${opts.parallelism}` : ''}`,
      ...resources(opts),
      '--requeue',
      `--signal=B:USR1@${WARN_BEFORE_LIMIT_S}`,
      // A requeued task writes the same log file again; Slurm truncates it by default, which would
      // lose what the run before the requeue said (a failed cell's full reason, the stop itself).
      '--open-mode=append',
    ], opts) +
    'set -u\n' + cd +
    '# poison runs in the background so this shell can take the USR1 warning and requeue the task.\n' +
    `${poisonCommand(run, ['--shard', 'auto', '--jobs', jobs])} &\n` +
    'child=$!\n' +
    "trap 'kill -USR1 $child 2>/dev/null; wait $child; scontrol requeue \"${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}\"; exit 0' USR1\n" +
    "trap 'kill -TERM $child 2>/dev/null; wait $child; exit 143' TERM\n" +
    'wait $child\n';
  const merge =
    header('poison-merge', run.out, 'merge-%j.log', ['--cpus-per-task=1', ...(opts.time ? [`--time=${opts.time}`] : [])], opts) +
    'set -eu\n' + cd +
    `exec ${poisonCommand(run, ['--merge', '--require-all'])}\n`;
  return { prepare, cells, merge };
}

/** Write OUT/slurm/{prepare,cells,merge}.sbatch (and the logs folder the jobs write to). */
export async function writeScripts(run: SweepInvocation, opts: SlurmOptions, cwd: string): Promise<SlurmScripts> {
  const dir = path.join(run.out, SLURM_DIR);
  await makeDirs(path.join(dir, 'logs'), 'Slurm logs');
  const scripts = renderScripts(run, opts, cwd);
  const files: SlurmScripts = { prepare: path.join(dir, 'prepare.sbatch'), cells: path.join(dir, 'cells.sbatch'), merge: path.join(dir, 'merge.sbatch') };
  for (const k of ['prepare', 'cells', 'merge'] as const) {
    await writeFileAtomic(files[k], scripts[k]);
    await fs.chmod(files[k], 0o755);
  }
  return files;
}

function sbatch(args: string[]): string {
  const r = spawnSync('sbatch', ['--parsable', ...args], { encoding: 'utf8' });
  if (r.error) {
    throw new UsageError(`--submit: sbatch cannot be run (${(r.error as NodeJS.ErrnoException).code ?? r.error.message}): is this a Slurm login node?`);
  }
  if (r.status !== 0) throw new RuntimeFailure(`sbatch ${args.join(' ')} failed: ${r.stderr.trim().split('\n')[0] ?? `exit ${String(r.status)}`}`);
  return r.stdout.trim().split(';')[0]!;
}

interface Submitted {
  prepare: string;
  cells: string;
  merge: string;
}

/**
 * Submit prepare, then the array (afterany:prepare), then the merge (afterany:array); with `wait`,
 * block until the merge ended and return its exit status.
 */
export async function submit(files: SlurmScripts, wait: boolean, say: (line: string) => void): Promise<{ jobs: Submitted; mergeStatus: number | null }> {
  const prepare = sbatch([files.prepare]);
  const cells = sbatch([`--dependency=afterany:${prepare}`, files.cells]);
  const args = [`--dependency=afterany:${cells}`, files.merge];
  if (!wait) {
    const merge = sbatch(args);
    return { jobs: { prepare, cells, merge }, mergeStatus: null };
  }
  // sbatch --wait prints the job id at submission, then returns the job's exit status.
  return new Promise((resolve, reject) => {
    const child = spawn('sbatch', ['--parsable', '--wait', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let merge = '';
    let told = false;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      merge += chunk;
      if (!told && merge.includes('\n')) {
        told = true;
        say(`submitted: prepare ${prepare}, cells ${cells} (array), merge ${merge.trim().split(';')[0]!}; waiting for the merge`);
      }
    });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
    child.on('error', (e) => reject(new UsageError(`--submit: sbatch cannot be run (${e.message})`)));
    child.on('close', (code) => {
      const id = merge.trim().split('\n')[0]?.split(';')[0] ?? '?';
      if (id === '' && code !== 0) {
        reject(new RuntimeFailure(`sbatch (merge) failed: ${err.trim().split('\n')[0] ?? `exit ${String(code)}`}`));
        return;
      }
      resolve({ jobs: { prepare, cells, merge: id }, mergeStatus: code ?? 1 });
    });
  });
}
