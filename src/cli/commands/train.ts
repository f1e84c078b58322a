import * as path from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { misinformationDirOf } from '../../train/artifacts.js';
import { parseChoice, parseNumber, parseOptionalNumber } from '../../util/parse.js';
import { DATASET_NAMES } from '../../data/types.js';
import { ARCH_NAMES } from '../../models/types.js';
import { BACKEND_NAMES } from '../../engine/backend-names.js';
import { addVictimTrainingFlags, trainingFromFlagsOver, victimTrainingFromFlags } from '../training-flags.js';

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
  misinformation?: string;
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
    .option(
      '--misinformation <victim>',
      "instead of a victim, train adaptive misinformation's model f̂ for the saved victim <victim>: its architecture and training data, " +
        "loss −log(1 − f̂(x)_true + 1e-7), SGD Nesterov 0.9, weight decay 5e-4, cosine schedule; epochs, batch size and --limit default to the victim's, " +
        "--seed to the victim's; written to <victim>/misinformation (where the defense looks) unless --out",
    )
    .action(async (flags: TrainFlags, command: Command) => {
      if (flags.misinformation !== undefined) {
        await trainMisinformationModel(flags, flags.misinformation, command);
        return;
      }
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

/** `poison train --misinformation <victim>`: f̂ for adaptive misinformation, beside the victim by default. */
async function trainMisinformationModel(flags: TrainFlags, victimDir: string, command: Command): Promise<void> {
  if (victimDir.trim() === '') throw new UsageError('--misinformation needs the victim directory, got an empty string');
  // The victim fixes the dataset and architecture; a conflicting flag would be silently ignored.
  for (const [option, flag] of [['dataset', '--dataset'], ['arch', '--arch'], ['lrStep', '--lr-step']] as const) {
    if (command.getOptionValueSource(option) === 'cli') {
      const why = option === 'lrStep' ? 'the misinformation model follows a cosine schedule' : "the victim's is used";
      throw new UsageError(`${flag} does not apply with --misinformation (${why})`);
    }
  }
  const { readParams } = await import('../../models/io.js');
  const { misinformationDefaults, trainMisinformation } = await import('../../train/misinformation.js');
  const victim = await readParams(victimDir);
  const defaults = misinformationDefaults(victim);
  const settings = trainingFromFlagsOver(flags, defaults.settings);
  const limit = parseOptionalNumber('--limit', flags.limit, { integer: true, min: 1 }) ?? defaults.limit;
  const seed = command.getOptionValueSource('seed') === 'cli' ? parseNumber('--seed', flags.seed, { integer: true, min: 1, max: 2 ** 31 - 1 }) : victim.seed;
  const out = flags.out ?? misinformationDirOf(victimDir);
  const quiet = flags.quiet === true;
  const result = await trainMisinformation({
    victimDir,
    out,
    force: flags.force === true,
    seed,
    settings,
    limit,
    ...(flags.dataDir === undefined ? {} : { dataDir: flags.dataDir }),
    ...(flags.backend === undefined ? {} : { backend: parseChoice('--backend', flags.backend, BACKEND_NAMES) }),
    ...(quiet ? {} : { report: (line: string) => process.stderr.write(`${line}\n`) }),
  });
  process.stdout.write(
    `${path.normalize(result.out)}: misinformation model, test accuracy ${(100 * result.testAccuracy).toFixed(2)}% ` +
      `(chance ${(100 / victim.numClasses).toFixed(2)}%) after ${settings.epochs} epochs (${result.seconds.toFixed(0)} s)\n`,
  );
}
