/**
 * `poison attack`: steal the victim through a defended black box and score the copy. Flags are
 * validated here into an AttackSpec; the attack library (and TensorFlow.js) is imported inside
 * the action, so `--help` loads nothing heavy.
 */
import * as path from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { parseChoice, parseNumber, parseNumberList, parseOptionalNumber } from '../../util/parse.js';
import { DATASET_NAMES, SPLITS, type DatasetName, type Split } from '../../data/types.js';
import { ARCH_NAMES } from '../../models/types.js';
import { BACKEND_NAMES } from '../../engine/backend-names.js';
import { parseDefenseSpec } from '../../defenses/params.js';
import { addDefenseFlags, defenseFlagValues, flagText, type Flags } from '../flags.js';
import { DEFENSE_NAMES, defenseSlug } from '../../defenses/spec.js';
import { defaultQueryPool, describeDefaultQueryPools } from '../../data/catalog.js';
import { DEFAULT_VICTIM_DIR } from './train.js';
import {
  ATTACK_NAMES,
  ATTACK_ONLY_FLAGS,
  attackFamily,
  JACOBIAN_DEFAULTS,
  LABEL_MODES,
  type AttackName,
  type JacobianSettings,
} from '../../attacks/names.js';
import type { AttackSpec } from '../../attack-run/spec.js';
import { TRAINING_PRESETS, trainingDefaultsTable } from '../../train/defaults.js';
import { addAttackerTrainingFlags, attackerTrainingFromFlags } from '../training-flags.js';


function parseKappa(raw: string | undefined): number | null {
  if (raw === undefined) return JACOBIAN_DEFAULTS.kappa;
  if (raw.trim() === 'none') return null;
  return parseNumber('--kappa', raw, { integer: true, min: 1 });
}

function jacobianSettings(flags: Flags): JacobianSettings {
  const n = (name: keyof JacobianSettings, flag: string, range: Parameters<typeof parseNumber>[2]): number => {
    const raw = flagText(flags, name);
    return raw === undefined ? (JACOBIAN_DEFAULTS[name] as number) : parseNumber(flag, raw, range);
  };
  return {
    seedSize: n('seedSize', '--seed-size', { integer: true, min: 1 }),
    kappa: parseKappa(flagText(flags, 'kappa')),
    sigma: n('sigma', '--sigma', { integer: true, min: 0 }),
    tau: n('tau', '--tau', { integer: true, min: 1 }),
    lambda: n('lambda', '--lambda', { gt: 0, max: 1 }),
    roundEpochs: n('roundEpochs', '--round-epochs', { integer: true, min: 1 }),
    roundLr: n('roundLr', '--round-lr', { gt: 0 }),
    roundMomentum: n('roundMomentum', '--round-momentum', { min: 0, max: 0.999 }),
    topK: n('topK', '--top-k', { integer: true, min: 1 }),
    pgdSteps: n('pgdSteps', '--pgd-steps', { integer: true, min: 1 }),
    pgdStepSize: n('pgdStepSize', '--pgd-step-size', { gt: 0 }),
  };
}

/** Flags that belong to other attacks are refused, not silently ignored. */
function checkAttackOnlyFlags(attack: AttackName, flags: Flags): void {
  for (const [attribute, { flag, attacks }] of Object.entries(ATTACK_ONLY_FLAGS)) {
    if (flags[attribute] !== undefined && !attacks.includes(attack)) {
      throw new UsageError(`${flag} does not apply to --attack ${attack} (only to ${attacks.join(', ')})`);
    }
  }
}

export function registerAttack(program: Command): void {
  const cmd = program
    .command('attack')
    .description('steal a victim through its (defended) black box, train a copy per budget and score both sides')
    .option('--victim <dir>', 'victim model directory written by `poison train`', DEFAULT_VICTIM_DIR)
    .option('--attack <name>', `attack (${ATTACK_NAMES.join(', ')})`, 'knockoff')
    .option('--budget <list>', 'query budget(s), comma-separated: a fresh attacker per budget on the first B queries', '10000')
    .option('--label-mode <mode>', `train on the released posteriors or only their top-1 (${LABEL_MODES.join(', ')})`, 'probs')
    .option('--defense <name>', `defense of the black box (${DEFENSE_NAMES.join(', ')})`, 'none');
  addDefenseFlags(cmd);
  cmd
    .option('--queryset <name>', `knockoff: query pool dataset (${DATASET_NAMES.join(', ')}; default per victim dataset: ${describeDefaultQueryPools()})`)
    .option('--queryset-split <split>', `knockoff: split of the query pool (${SPLITS.join(', ')}; default train, or the default pool's)`)
    .option('--queryset-dir <dir>', "knockoff: folder holding the query pool's files")
    .option('--seed-size <n>', `jbda, jbself, jbtop: seed images from the victim's train split (default ${JACOBIAN_DEFAULTS.seedSize})`)
    .option('--kappa <n|none>', `jbda, jbself, jbtop: reservoir size once round ≥ sigma, or none (default ${JACOBIAN_DEFAULTS.kappa})`)
    .option('--sigma <n>', `jbda, jbself, jbtop: first round that samples the reservoir (default ${JACOBIAN_DEFAULTS.sigma})`)
    .option('--tau <n>', `jbda, jbself, jbtop: period of the step sign flip (default ${JACOBIAN_DEFAULTS.tau})`)
    .option('--lambda <x>', `jbda, jbself, jbtop: step size λ in pixel units (default ${JACOBIAN_DEFAULTS.lambda})`)
    .option('--round-epochs <n>', `jbda, jbself, jbtop: substitute epochs per round (default ${JACOBIAN_DEFAULTS.roundEpochs})`)
    .option('--round-lr <x>', `jbda, jbself, jbtop: substitute learning rate per round (default ${JACOBIAN_DEFAULTS.roundLr})`)
    .option('--round-momentum <x>', `jbda, jbself, jbtop: substitute momentum per round (default ${JACOBIAN_DEFAULTS.roundMomentum})`)
    .option('--top-k <n>', `jbtop: runner-up classes per image (default ${JACOBIAN_DEFAULTS.topK})`)
    .option('--pgd-steps <n>', `jbtop: PGD steps per target (default ${JACOBIAN_DEFAULTS.pgdSteps})`)
    .option('--pgd-step-size <x>', `jbtop: PGD step size (default ${JACOBIAN_DEFAULTS.pgdStepSize})`)
    .option('--attacker-arch <name>', `attacker architecture (${ARCH_NAMES.join(', ')}; default: the victim's)`)
    .option('--preset <name>', `attacker training defaults (${TRAINING_PRESETS.join(', ')}): the paper's, or the authors' scripts' (docs/spec-reference-preset.md)`, 'paper');
  // Attacker (and substitute batch) training flags; unset ones come from the preset (src/train/defaults.ts).
  addAttackerTrainingFlags(cmd);
  cmd
    .option('--query-batch-size <n>', 'images per black-box call', '128')
    .option('--seed <n>', 'seed for everything (queries, attacker initialisation and data order, defense randomness)', '1')
    .option('--baseline <file>', 'result.json of the undefended run (same attack, budgets, seed): reports error amplification')
    .option('--cache-dir <dir>', 'where clean posteriors of transfer and test sets are cached', 'results/cache')
    .option('--no-cache', 'neither read nor write the posterior cache')
    .option('--data-dir <dir>', "folder holding the victim dataset's files (test split, seed set)")
    .option('--test-limit <n>', 'score on the first N test images only (quick checks)')
    .option('--backend <name>', `force a backend (${BACKEND_NAMES.join(', ')}); default: the fastest that loads`)
    .option('--out <dir>', 'output directory (default: results/attacks/<victim>-<attack>-<defense with its parameters>-s<seed>)')
    .option('--force', "replace an output directory that holds another run's files", false)
    .option('--quiet', 'no progress output', false)
    .addHelpText(
      'after',
      `
Output (--out, written atomically: a killed run leaves only an ignored .<name>.tmp-* folder):
  result.json          the whole row per budget: attacker accuracy (final epoch; best epoch
                       labelled as such), fidelity, error amplification (with --baseline),
                       defender accuracy and L1/L2/KL over the test set and over the queries,
                       resolved config, provenance and timings (eval, query, train)
  budget-<B>/          the attacker trained on the first B queries: model.json, weights.bin,
                       params.json (kind 'attacker'), train-log.csv (one row per epoch)
Knockoff's transfer set and the victim's test posteriors are cached under --cache-dir, so
another defense on the same (victim, pool, budget, seed) does not run the victim again.

Training defaults (flags set explicitly override them; the same table is in docs/sweep-config.md):
${trainingDefaultsTable(ARCH_NAMES)}`,
    )
    .action(async (flags: Flags) => {
      const attack = parseChoice('--attack', flagText(flags, 'attack'), ATTACK_NAMES);
      checkAttackOnlyFlags(attack, flags);
      const victim = flagText(flags, 'victim')!;
      const budgets = parseNumberList('--budget', flagText(flags, 'budget') ?? '', { integer: true, min: 1 });
      const sortedBudgets = [...new Set(budgets)].sort((a, b) => a - b);
      if (sortedBudgets.length !== budgets.length) throw new UsageError(`--budget lists a value twice: ${flagText(flags, 'budget')}`);
      const jacobian = jacobianSettings(flags);
      if (attackFamily(attack) === 'jacobian' && sortedBudgets[0]! < jacobian.seedSize) {
        throw new UsageError(`--budget ${sortedBudgets[0]!} is smaller than the seed set (--seed-size ${jacobian.seedSize}): every seed image is a query`);
      }
      const defenseValues = defenseFlagValues(flags);
      const seed = parseNumber('--seed', flagText(flags, 'seed'), { integer: true, min: 1, max: 2 ** 31 - 1 });
      const attackerArchRaw = flagText(flags, 'attackerArch');
      const attackerArch = attackerArchRaw === undefined ? undefined : parseChoice('--attacker-arch', attackerArchRaw, ARCH_NAMES);
      const backendRaw = flagText(flags, 'backend');

      const { readParams } = await import('../../models/io.js');
      const victimParams = await readParams(victim).catch((err: unknown) => {
        if (cmd.getOptionValueSource('victim') === 'default' && err instanceof UsageError) {
          throw new UsageError(`no victim in ${DEFAULT_VICTIM_DIR} (the default --victim): train one there with \`poison train\`, or pass --victim DIR`);
        }
        throw err;
      });
      let queryset: DatasetName | undefined;
      let querysetSplit: Split = 'train';
      if (attack === 'knockoff') {
        const raw = flagText(flags, 'queryset');
        // Without --queryset: the victim dataset's default pool (one that needs no download for MNIST).
        const pool = raw === undefined ? defaultQueryPool(victimParams.dataset) : { dataset: parseChoice('--queryset', raw, DATASET_NAMES), split: 'train' as Split };
        queryset = pool.dataset;
        querysetSplit = parseChoice('--queryset-split', flagText(flags, 'querysetSplit') ?? pool.split, SPLITS);
      }
      const defense = parseDefenseSpec(flagText(flags, 'defense'), defenseValues, {
        dataset: victimParams.dataset,
        numClasses: victimParams.numClasses,
      });
      if (attack === 'jbtop' && jacobian.topK > victimParams.numClasses - 1) {
        throw new UsageError(`--top-k must be at most ${victimParams.numClasses - 1} (the victim's classes other than the top-1), got ${jacobian.topK}`);
      }
      const attackerTraining = attackerTrainingFromFlags(flags, attackerArch ?? victimParams.arch, attack);
      const spec: AttackSpec = {
        victim,
        attack,
        budgets: sortedBudgets,
        labelMode: parseChoice('--label-mode', flagText(flags, 'labelMode'), LABEL_MODES),
        defense,
        queryset,
        querysetSplit,
        querysetDir: flagText(flags, 'querysetDir'),
        jacobian,
        attackerArch,
        trainingPreset: attackerTraining.preset,
        training: attackerTraining.training,
        queryBatchSize: parseNumber('--query-batch-size', flagText(flags, 'queryBatchSize'), { integer: true, min: 1 }),
        seed,
        out: flagText(flags, 'out') ?? path.join('results', 'attacks', `${path.basename(path.resolve(victim))}-${attack}-${defenseSlug(defense)}-s${seed}`),
        force: flags.force === true,
        baseline: flagText(flags, 'baseline'),
        cacheDir: flags.cache === false ? null : (flagText(flags, 'cacheDir') ?? 'results/cache'),
        dataDir: flagText(flags, 'dataDir'),
        testLimit: parseOptionalNumber('--test-limit', flagText(flags, 'testLimit'), { integer: true, min: 1 }),
        backend: backendRaw === undefined ? undefined : parseChoice('--backend', backendRaw, BACKEND_NAMES),
        quiet: flags.quiet === true,
      };
      const { runAttack } = await import('../../attack-run/run.js');
      const result = await runAttack(spec);
      for (const run of result.runs) {
        process.stdout.write(
          `${spec.out}: ${attack} B=${run.budget} vs ${result.defense.description}: attacker ${(100 * run.attacker.accuracy).toFixed(2)}% ` +
            `(fidelity ${(100 * run.attacker.fidelity).toFixed(2)}%), defender ${(100 * result.defender.accuracyDefended).toFixed(2)}% ` +
            `(undefended ${(100 * result.defender.accuracyUndefended).toFixed(2)}%, mean L1 ${result.defender.test.l1.mean.toFixed(3)})` +
            (run.errorAmplification !== null ? `, error amplification ${run.errorAmplification.toFixed(2)}×` : '') +
            '\n',
        );
      }
    });
}
