import type { Command } from 'commander';
import { parseChoice, parseNumber, parseOptionalNumber } from '../../util/parse.js';
import { DATASET_NAMES } from '../../data/types.js';
import { ARCH_NAMES } from '../../models/types.js';
import { BACKEND_NAMES } from '../../engine/backend-names.js';
import { addVictimTrainingFlags, victimTrainingFromFlags } from '../training-flags.js';

interface TrainFlags {
  dataset: string;
  arch: string;
  epochs?: string;
  lr?: string;
  momentum?: string;
  batchSize?: string;
  lrStep?: string;
  weightDecay?: string;
  seed: string;
  out?: string;
  limit?: string;
  dataDir?: string;
  backend?: string;
  force?: boolean;
  quiet?: boolean;
}

const DEFAULT_DATASET = 'mnist';
const DEFAULT_ARCH = 'lenet';

/** Where `poison train` writes by default. */
function defaultVictimDir(dataset: string, arch: string): string {
  return `results/victims/${dataset}-${arch}`;
}

/** Where a bare `poison train` writes, and so where a bare `poison attack` looks. */
export const DEFAULT_VICTIM_DIR = defaultVictimDir(DEFAULT_DATASET, DEFAULT_ARCH);

export function registerTrain(program: Command): void {
  const cmd = program
    .command('train')
    .description('train a victim classifier on a real dataset and save it with its provenance')
    .option('--dataset <name>', `dataset (${DATASET_NAMES.join(', ')})`, DEFAULT_DATASET)
    .option('--arch <name>', `architecture (${ARCH_NAMES.join(', ')})`, DEFAULT_ARCH);
  // Unset training flags take docs/spec.md's defaults for the architecture (src/train/defaults.ts).
  addVictimTrainingFlags(cmd);
  cmd
    .option('--seed <n>', 'seed for everything (data order, initialisers)', '1')
    .option('--limit <n>', 'train on the first N training images only')
    .option('--data-dir <dir>', "folder holding the dataset's files (default: datasets/<name>/, then system packages)")
    .option('--backend <name>', `force a backend (${BACKEND_NAMES.join(', ')}); default: the fastest that loads`)
    .option('--out <dir>', 'output directory (default: results/victims/<dataset>-<arch>)')
    .option('--force', "replace an output directory that holds another run's files", false)
    .option('--quiet', 'no progress output', false)
    .action(async (flags: TrainFlags) => {
      const dataset = parseChoice('--dataset', flags.dataset, DATASET_NAMES);
      const arch = parseChoice('--arch', flags.arch, ARCH_NAMES);
      const spec = {
        dataset,
        arch,
        ...victimTrainingFromFlags(flags, arch),
        seed: parseNumber('--seed', flags.seed, { integer: true, min: 1, max: 2 ** 31 - 1 }),
        limit: parseOptionalNumber('--limit', flags.limit, { integer: true, min: 1 }),
        dataDir: flags.dataDir,
        backend: flags.backend === undefined ? undefined : parseChoice('--backend', flags.backend, BACKEND_NAMES),
        out: flags.out ?? defaultVictimDir(dataset, arch),
        force: flags.force === true,
        quiet: flags.quiet === true,
      };
      const { trainVictim } = await import('../../train/victim.js');
      const result = await trainVictim(spec);
      process.stdout.write(
        `${result.out}: test accuracy ${(100 * result.testAccuracy).toFixed(2)}% after ${spec.epochs} epochs (${result.seconds.toFixed(0)} s)\n`,
      );
    });
}
