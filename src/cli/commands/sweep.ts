/**
 * `poison sweep FILE`: run a grid of (attack × defense × operating point × budget × seed) cells
 * from a YAML config, resumable, shardable across machines, merged into sweep.csv, plots and
 * summary.md. Flags are checked here; the sweep library is imported inside the action so
 * `--help` loads nothing heavy (and TensorFlow.js is only ever loaded by the worker processes).
 */
import * as os from 'node:os';
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { BACKEND_NAMES } from '../../engine/backend-names.js';
import { parseChoice, parseNumber } from '../../util/parse.js';
import { parseShard, WHOLE } from '../../sweep/plan/shard.js';

interface SweepFlags {
  dryRun?: boolean;
  merge?: boolean;
  jobs?: string;
  shard?: string;
  out?: string;
  cacheDir?: string;
  backend?: string;
  force?: boolean;
  quiet?: boolean;
  prepare?: boolean;
  requireAll?: boolean;
  status?: boolean;
  json?: boolean;
  slurm?: boolean;
  submit?: boolean;
  wait?: boolean;
  tasks?: string;
  parallelism?: string;
  partition?: string;
  gpusPerTask?: string;
  cpusPerTask?: string;
  mem?: string;
  time?: string;
  sbatchArg?: string[];
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export function registerSweep(program: Command): void {
  program
    .command('sweep')
    .description('run a grid of attacks × defenses × operating points × budgets × seeds from a YAML config (see docs/sweep-config.md)')
    .argument('<config>', 'the sweep config, e.g. configs/quick.yaml')
    .option('--dry-run', 'list the cells and which are finished; run nothing, write nothing', false)
    .option('--merge', 'only gather the finished cells into sweep.csv, plots/ and summary.md (also done at the end of every run)', false)
    .option('--jobs <n>', 'worker processes running cells at once (default: the number of cores)')
    .option('--shard <i/n|auto>', 'i/n: run only shard i of n (1 ≤ i ≤ n) of the cells; auto (or auto/N): one task of a job array (Slurm, Kubernetes indexed Job, AWS Batch) pulling unclaimed cells until none is left (docs/cluster.md)')
    .option('--out <dir>', "output directory (default: the config's out, else results/<config file name>)")
    .option('--cache-dir <dir>', "where clean posteriors are cached (default: the config's cacheDir, else results/cache); on a cluster, a shared folder")
    .option('--backend <name>', `force a backend (${BACKEND_NAMES.join(', ')}); default: the config's, else the fastest that loads`)
    .option('--force', "start over in an output directory that holds another sweep's results (deletes that sweep's entries; refused, deleting nothing, while a lock there is held by a running process)", false)
    .option('--quiet', 'no progress output', false)
    .option('--status', 'report a running or finished sweep: cells done, running (where, since when), failed (why), pending, time left', false)
    .option('--json', 'with --status: JSON for scripts', false)
    .option('--prepare', 'only train the victim and build what the defenses need beside it (the Slurm prepare job)', false)
    .option('--require-all', 'with --merge: list the cells not finished and exit 1 when there are any (the Slurm merge job)', false)
    .option('--slurm', 'write <out>/slurm/{prepare,cells,merge}.sbatch to run the sweep as Slurm jobs (docs/cluster.md)', false)
    .option('--submit', 'with --slurm: submit the three jobs (prepare → cell array → merge) and print their ids', false)
    .option('--wait', 'with --submit: wait for the merge job and exit with its status', false)
    .option('--tasks <n>', 'with --slurm: array tasks pulling cells (default 4)')
    .option('--parallelism <p>', 'with --slurm: at most this many array tasks at once (%p)')
    .option('--partition <name>', 'with --slurm: sbatch --partition')
    .option('--gpus-per-task <n>', 'with --slurm: sbatch --gpus-per-task')
    .option('--cpus-per-task <n>', 'with --slurm: sbatch --cpus-per-task, also each task\'s --jobs (default 1)')
    .option('--mem <size>', 'with --slurm: sbatch --mem, e.g. 16G')
    .option('--time <limit>', 'with --slurm: sbatch --time, e.g. 24:00:00')
    .option('--sbatch-arg <arg>', 'with --slurm: an extra #SBATCH line for every job, e.g. --sbatch-arg=--account=abc (repeatable)', collect)
    .action(async (config: string, flags: SweepFlags) => {
      const modes = (['dryRun', 'merge', 'status', 'prepare', 'slurm'] as const).filter((m) => flags[m] === true);
      if (modes.length > 1) throw new UsageError(`${modes.map(flagName).join(' and ')} do not go together: choose one`);
      const needs = (flag: keyof SweepFlags, base: keyof SweepFlags): void => {
        if (flags[flag] !== undefined && flags[flag] !== false && flags[base] !== true) throw new UsageError(`${flagName(flag)} goes with ${flagName(base)}`);
      };
      needs('json', 'status');
      needs('requireAll', 'merge');
      needs('wait', 'submit');
      for (const f of ['submit', 'tasks', 'parallelism', 'partition', 'gpusPerTask', 'cpusPerTask', 'mem', 'time', 'sbatchArg'] as const) needs(f, 'slurm');
      const jobs = flags.jobs === undefined ? os.availableParallelism() : parseNumber('--jobs', flags.jobs, { integer: true, min: 1, max: 256 });
      let shard = WHOLE;
      let pullAll = false;
      if (flags.shard !== undefined) {
        const { isAutoShard, resolveAutoShard } = await import('../../sweep/slurm/array-task.js');
        if (isAutoShard(flags.shard)) {
          shard = resolveAutoShard(flags.shard);
          pullAll = true;
        } else {
          shard = parseShard(flags.shard);
        }
      }
      const slurm = flags.slurm
        ? {
            submit: flags.submit === true,
            wait: flags.wait === true,
            options: {
              tasks: flags.tasks === undefined ? 4 : parseNumber('--tasks', flags.tasks, { integer: true, min: 1, max: 100_000 }),
              parallelism: flags.parallelism === undefined ? null : parseNumber('--parallelism', flags.parallelism, { integer: true, min: 1, max: 100_000 }),
              cpusPerTask: flags.cpusPerTask === undefined ? 1 : parseNumber('--cpus-per-task', flags.cpusPerTask, { integer: true, min: 1, max: 1024 }),
              partition: sbatchValue('--partition', flags.partition),
              gpusPerTask: sbatchValue('--gpus-per-task', flags.gpusPerTask),
              mem: sbatchValue('--mem', flags.mem),
              time: sbatchValue('--time', flags.time),
              sbatchArgs: (flags.sbatchArg ?? []).map((a) => sbatchValue('--sbatch-arg', a)!),
            },
          }
        : undefined;
      const backend = flags.backend === undefined ? undefined : parseChoice('--backend', flags.backend, BACKEND_NAMES);
      const { sweep } = await import('../../sweep/run-sweep.js');
      await sweep({
        file: config,
        mode: flags.dryRun ? 'dry-run' : flags.merge ? 'merge' : flags.status ? 'status' : flags.prepare ? 'prepare' : flags.slurm ? 'slurm' : 'run',
        jobs,
        shard,
        pullAll,
        requireAll: flags.requireAll === true,
        json: flags.json === true,
        slurm,
        force: flags.force === true,
        quiet: flags.quiet === true,
        out: flags.out,
        cacheDir: flags.cacheDir,
        backend,
      });
    });
}

function flagName(key: string): string {
  return '--' + key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
}

/** A value written into an #SBATCH line: one line, no shell trouble. */
function sbatchValue(flag: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (value.trim() === '' || /[\n\r]/.test(value)) throw new UsageError(`${flag} takes a one-line value; got '${value}'`);
  return value.trim();
}
