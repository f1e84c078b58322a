/**
 * `poison eval`: defender utility of a defense on the victim's test set. Flags are validated here
 * (defense parameters through src/defenses/params.ts, shared with `poison attack` and sweeps);
 * TensorFlow.js is only imported inside the action, so `--help` stays light.
 */
import * as path from 'node:path';
import type { Command } from 'commander';
import { parseChoice, parseNumber, parseOptionalNumber } from '../validate.js';
import { BACKEND_NAMES } from '../../engine/backend-names.js';
import { DEFENSE_FLAGS, parseDefenseSpec, type DefenseFlagValues } from '../../defenses/params.js';
import { DEFENSE_NAMES, defenseSlug } from '../../defenses/spec.js';

type Flags = Record<string, string | boolean | undefined>;

/** commander's attribute name for a flag key: 'noise-eps' → 'noiseEps'. */
function attributeOf(key: string): string {
  return key.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

function text(flags: Flags, name: string): string | undefined {
  const v = flags[name];
  return typeof v === 'string' ? v : undefined;
}

export function registerEval(program: Command): void {
  const cmd = program
    .command('eval')
    .description(
      "defender utility of a defense on the victim's test set: accuracy with and without it, L1/L2/KL distortion, top-1 changes, invariant checks, speed",
    )
    .requiredOption('--victim <dir>', 'victim model directory written by `poison train`')
    .option('--defense <name>', `defense (${DEFENSE_NAMES.join(', ')})`, 'none');
  for (const f of DEFENSE_FLAGS) cmd.option(f.syntax, f.help);
  cmd
    .option('--seed <n>', 'seed of the defense (noise, random vertices, the random surrogate)', '1')
    .option('--batch-size <n>', 'images per black-box query', '256')
    .option('--limit <n>', 'evaluate on the first N test images only')
    .option('--data-dir <dir>', "folder holding the victim dataset's files")
    .option('--backend <name>', `force a backend (${BACKEND_NAMES.join(', ')}); default: the fastest that loads`)
    .option('--out <dir>', 'output directory for eval.json (default: results/eval/<victim>-<defense>-s<seed>)')
    .option('--force', "write into an output directory that holds another run's files", false)
    .option('--quiet', 'no progress output', false)
    .action(async (flags: Flags) => {
      const victim = text(flags, 'victim')!;
      const defenseName = text(flags, 'defense');
      const defenseValues: Record<string, string | undefined> = {};
      for (const f of DEFENSE_FLAGS) defenseValues[f.key] = text(flags, attributeOf(f.key));
      // Everything about the flags is checked before TensorFlow.js or the victim is loaded.
      parseDefenseSpec(defenseName, defenseValues as DefenseFlagValues);
      const seed = parseNumber('--seed', text(flags, 'seed'), { integer: true, min: 1, max: 2 ** 31 - 1 });
      const batchSize = parseNumber('--batch-size', text(flags, 'batchSize'), { integer: true, min: 1 });
      const limit = parseOptionalNumber('--limit', text(flags, 'limit'), { integer: true, min: 1 });
      const backendRaw = text(flags, 'backend');
      const backend = backendRaw === undefined ? undefined : parseChoice('--backend', backendRaw, BACKEND_NAMES);

      const { readParams } = await import('../../models/io.js');
      const params = await readParams(victim);
      const defense = parseDefenseSpec(defenseName, defenseValues as DefenseFlagValues, {
        dataset: params.dataset,
        numClasses: params.numClasses,
      });
      const out = text(flags, 'out') ?? path.join('results', 'eval', `${path.basename(path.resolve(victim))}-${defenseSlug(defense)}-s${seed}`);
      const { runEval, EVAL_FILE } = await import('../../eval/run.js');
      const { formatEvalTable } = await import('../../eval/format.js');
      const report = await runEval({
        victim,
        defense,
        seed,
        batchSize,
        limit,
        dataDir: text(flags, 'dataDir'),
        backend,
        out,
        force: flags.force === true,
        quiet: flags.quiet === true,
      });
      process.stdout.write(formatEvalTable(report));
      process.stdout.write(`wrote ${path.join(out, EVAL_FILE)}\n`);
    });
}
