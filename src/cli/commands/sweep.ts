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
}

export function registerSweep(program: Command): void {
  program
    .command('sweep')
    .description('run a grid of attacks × defenses × operating points × budgets × seeds from a YAML config (see docs/sweep-config.md)')
    .argument('<config>', 'the sweep config, e.g. configs/quick.yaml')
    .option('--dry-run', 'list the cells and which are finished; run nothing, write nothing', false)
    .option('--merge', 'only gather the finished cells into sweep.csv, plots/ and summary.md (also done at the end of every run)', false)
    .option('--jobs <n>', 'worker processes running cells at once (default: the number of cores)')
    .option('--shard <i/n>', 'run only shard i of n (1 ≤ i ≤ n) of the cells: one machine of a job array (docs/cluster.md)')
    .option('--out <dir>', "output directory (default: the config's out, else results/<config file name>)")
    .option('--cache-dir <dir>', "where clean posteriors are cached (default: the config's cacheDir, else results/cache); on a cluster, a shared folder")
    .option('--backend <name>', `force a backend (${BACKEND_NAMES.join(', ')}); default: the config's, else the fastest that loads`)
    .option('--force', "start over in an output directory that holds another sweep's results (deletes them)", false)
    .option('--quiet', 'no progress output', false)
    .action(async (config: string, flags: SweepFlags) => {
      if (flags.dryRun && flags.merge) throw new UsageError('--dry-run and --merge do not go together: choose one');
      const jobs = flags.jobs === undefined ? os.availableParallelism() : parseNumber('--jobs', flags.jobs, { integer: true, min: 1, max: 256 });
      const shard = flags.shard === undefined ? WHOLE : parseShard(flags.shard);
      const backend = flags.backend === undefined ? undefined : parseChoice('--backend', flags.backend, BACKEND_NAMES);
      const { sweep } = await import('../../sweep/run-sweep.js');
      await sweep({
        file: config,
        mode: flags.dryRun ? 'dry-run' : flags.merge ? 'merge' : 'run',
        jobs,
        shard,
        force: flags.force === true,
        quiet: flags.quiet === true,
        out: flags.out,
        cacheDir: flags.cacheDir,
        backend,
      });
    });
}
