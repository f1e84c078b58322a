import type { Command } from 'commander';
import { parseChoice, parseNumber, parseOptionalNumber } from '../validate.js';
import { DATASET_NAMES } from '../../data/types.js';
import { ARCH_NAMES } from '../../models/types.js';
import { BACKEND_NAMES } from '../../engine/backend-names.js';

interface TrainFlags {
  dataset: string;
  arch: string;
  epochs: string;
  lr: string;
  momentum: string;
  batchSize: string;
  lrStep: string;
  weightDecay: string;
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
  program
    .command('train')
    .description('train a victim classifier on a real dataset and save it with its provenance')
    .option('--dataset <name>', `dataset (${DATASET_NAMES.join(', ')})`, DEFAULT_DATASET)
    .option('--arch <name>', `architecture (${ARCH_NAMES.join(', ')})`, DEFAULT_ARCH)
    .option('--epochs <n>', 'epochs (SPEC: 30 for LeNet, 100 for VGG)', '30')
    .option('--lr <x>', 'SGD learning rate', '0.1')
    .option('--momentum <x>', 'SGD momentum', '0.5')
    .option('--batch-size <n>', 'batch size', '64')
    .option('--lr-step <n>', 'multiply the learning rate by 0.1 every N epochs', '50')
    .option('--weight-decay <x>', 'L2 weight decay (as PyTorch SGD weight_decay)', '0')
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
        epochs: parseNumber('--epochs', flags.epochs, { integer: true, min: 1 }),
        lr: parseNumber('--lr', flags.lr, { gt: 0 }),
        momentum: parseNumber('--momentum', flags.momentum, { min: 0, max: 0.999 }),
        batchSize: parseNumber('--batch-size', flags.batchSize, { integer: true, min: 1 }),
        lrStep: parseNumber('--lr-step', flags.lrStep, { integer: true, min: 1 }),
        weightDecay: parseNumber('--weight-decay', flags.weightDecay, { min: 0 }),
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
