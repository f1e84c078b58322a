/**
 * `poison eval`: defender utility of a defense on the victim's test set. Flags are validated here
 * (defense parameters through src/defenses/params.ts, shared with `poison attack` and sweeps);
 * TensorFlow.js is only imported inside the action, so `--help` stays light.
 */
import * as path from 'node:path';
import type { Command } from 'commander';
import { parseChoice, parseNumber, parseOptionalNumber } from '../../util/parse.js';
import { BACKEND_NAMES } from '../../engine/backend-names.js';
import { parseDefenseSpec } from '../../defenses/params.js';
import { addDefenseFlags, defenseFlagValues, flagText, quietOr, type Flags } from '../flags.js';
import { defenseSlug } from '../../defenses/spec.js';
import { defenseNames, UNDEFENDED } from '../../defenses/registry.js';


export function registerEval(program: Command): void {
  const cmd = program
    .command('eval')
    .description(
      "defender utility of a defense on the victim's test set: accuracy with and without it, L1/L2/KL distortion, top-1 changes, invariant checks, speed",
    )
    .requiredOption('--victim <dir>', 'victim model directory written by `poison train`')
    .option('--defense <name>', `defense (${defenseNames().join(', ')})`, UNDEFENDED);
  addDefenseFlags(cmd);
  cmd
    .option('--seed <n>', 'seed of the defense (noise, random vertices, the random surrogate)', '1')
    .option('--batch-size <n>', 'images per black-box query', '256')
    .option('--test-limit <n>', 'evaluate on the first N test images only (quick checks; the same flag as `poison attack`)')
    .option('--data-dir <dir>', "folder holding the victim dataset's files")
    .option('--backend <name>', `force a backend (${BACKEND_NAMES.join(', ')}); default: the fastest that loads`)
    .option('--out <dir>', 'output directory for eval.json (default: results/eval/<victim>-<defense>-s<seed>)')
    .option('--force', "write into an output directory that holds another run's files", false)
    .option('--quiet', 'no progress output', false)
    .action(async (flags: Flags) => {
      const victim = flagText(flags, 'victim')!;
      const defenseName = flagText(flags, 'defense');
      const defenseValues = defenseFlagValues(flags);
      // Everything about the flags is checked before TensorFlow.js or the victim is loaded.
      parseDefenseSpec(defenseName, defenseValues);
      const seed = parseNumber('--seed', flagText(flags, 'seed'), { integer: true, min: 1, max: 2 ** 31 - 1 });
      const batchSize = parseNumber('--batch-size', flagText(flags, 'batchSize'), { integer: true, min: 1 });
      const limit = parseOptionalNumber('--test-limit', flagText(flags, 'testLimit'), { integer: true, min: 1 });
      const backendRaw = flagText(flags, 'backend');
      const backend = backendRaw === undefined ? undefined : parseChoice('--backend', backendRaw, BACKEND_NAMES);

      const { readParams } = await import('../../models/io.js');
      const params = await readParams(victim);
      const defense = parseDefenseSpec(defenseName, defenseValues, {
        dataset: params.dataset,
        numClasses: params.numClasses,
        arch: params.arch,
      });
      const out = flagText(flags, 'out') ?? path.join('results', 'eval', `${path.basename(path.resolve(victim))}-${defenseSlug(defense)}-s${seed}`);
      const { prepareDefense } = await import('../../defenses/create.js');
      // What the defense builds beside the victim (most build nothing), before the evaluation creates it.
      await prepareDefense(defense, { victimDir: victim, seed, reporter: { line: quietOr(flags, process.stderr) } });
      const { runEval, EVAL_FILE } = await import('../../eval/run.js');
      const { formatEvalTable } = await import('../../eval/format.js');
      const report = await runEval({
        victim,
        defense,
        seed,
        batchSize,
        limit,
        dataDir: flagText(flags, 'dataDir'),
        backend,
        out,
        force: flags.force === true,
        quiet: flags.quiet === true,
      });
      process.stdout.write(formatEvalTable(report));
      process.stdout.write(`wrote ${path.join(out, EVAL_FILE)}\n`);
    });
}
