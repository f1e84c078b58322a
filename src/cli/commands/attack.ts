/**
 * `poison attack`: steal the victim through a defended black box and score the copy. Flags are
 * validated here into an AttackSpec; the attack library (and TensorFlow.js) is imported inside
 * the action, so `--help` loads nothing heavy.
 */
import * as path from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { parseChoice, parseNumber, parseNumberList, parseOptionalNumber } from '../../util/parse.js';
import { ARCH_NAMES } from '../../models/types.js';
import { BACKEND_NAMES } from '../../engine/backend-names.js';
import { parseDefenseSpec } from '../../defenses/params.js';
import { addDefenseFlags, defenseFlagValues, flagText, quietOr, type Flags } from '../flags.js';
import { defenseSlug } from '../../defenses/spec.js';
import { defenseNames, UNDEFENDED } from '../../defenses/registry.js';
import { describeDefaultQueryPools } from '../../data/catalog.js';
import { DEFAULT_VICTIM_DIR } from './train.js';
import { attackSettingsOf, jacobianSettingsOf, LABEL_MODES, type AttackSettings, type JacobianSettings } from '../../attacks/names.js';
import type { AttackParam } from '../../attacks/params.js';
import { flagName, parseParamValue } from '../../params/declaration.js';
import { attackDefinition, attackNames, attackParamTable } from '../../attacks/registry.js';
import { querySourceOf } from '../../attacks/query-sources.js';
import type { AttackDefinition } from '../../attacks/types.js';
import type { AttackSpec } from '../../attack-run/spec.js';
import { adaptationDefinition, adaptationMismatch, adaptationNames, adaptationParamTable, adaptationSpecOf } from '../../adaptations/registry.js';
import type { AdaptationSpec } from '../../adaptations/types.js';
import { threatModelLine, threatModelOf } from '../../adaptations/threat-model.js';
import { TRAINING_PRESETS, trainingDefaultsTable } from '../../train/defaults.js';
import { addAttackerTrainingFlags, attackerTrainingFromFlags } from '../training-flags.js';


/** An attack parameter's flag help: who takes it, what it means, its choices and default. */
function paramHelp(param: AttackParam, attacks: readonly string[]): string {
  const choices = param.kind === 'choice' ? `${param.choices.join(', ')}; ` : '';
  // The query pool's settings default per victim dataset when --queryset is not given.
  const fallback =
    param.kind === 'choice' && param.default === undefined
      ? `default per victim dataset: ${describeDefaultQueryPools()}`
      : `default ${param.default === null ? 'none' : String(param.default)}${param.bag === 'pool' ? ", or the default pool's without --queryset" : ''}`;
  return `${attacks.join(', ')}: ${param.help} (${choices}${fallback})`;
}

/** One declared parameter's value from its flag: its default when unset (undefined: none, the victim decides). */
function paramValue(param: AttackParam, raw: string | undefined): number | string | null | undefined {
  return raw === undefined ? param.default : parseParamValue(param, raw, flagName(param), 'text');
}

/**
 * The attack's settings bags from its declared parameters: the Jacobian rounds' (reference
 * defaults for what it does not declare), the query pool's and the attack's own, keyed by parameter.
 */
function settingsBags(
  attack: AttackDefinition,
  flags: Flags,
): { jacobian: JacobianSettings; pool: Record<string, number | string | null | undefined>; settings: AttackSettings } {
  const values: Record<string, number | string | null | undefined> = {};
  for (const param of attack.params) values[param.key] = paramValue(param, flagText(flags, param.key));
  const pool = Object.fromEntries(attack.params.filter((p) => p.bag === 'pool').map((p) => [p.key, values[p.key]]));
  return { jacobian: jacobianSettingsOf(attack.params, values), pool, settings: attackSettingsOf(attack.params, values) };
}

/** Flags that belong to other attacks are refused, not silently ignored. */
function checkAttackOnlyFlags(attack: AttackDefinition, flags: Flags): void {
  for (const { param, attacks } of attackParamTable()) {
    if (flags[param.key] !== undefined && !attacks.includes(attack.name)) {
      throw new UsageError(`${param.flag.split(' ')[0]!} does not apply to --attack ${attack.name} (only to ${attacks.join(', ')})`);
    }
  }
}

/**
 * The adaptation of --adapt with its settings from their flags (declared defaults for the
 * others); an adaptation's flag without it, or for another adaptation, is refused.
 */
function adaptationFromFlags(flags: Flags): AdaptationSpec | null {
  const name = flagText(flags, 'adapt');
  const table = adaptationParamTable();
  const flagOf = (key: string): string => table.find(({ param }) => param.key === key)?.param.flag.split(' ')[0] ?? key;
  const given: Record<string, string> = {};
  for (const { param } of table) {
    const value = flagText(flags, param.key);
    if (value !== undefined) given[param.key] = value;
  }
  if (name === undefined) {
    const [key] = Object.keys(given);
    if (key !== undefined) throw new UsageError(`${flagOf(key)} needs --adapt ${table.find(({ param }) => param.key === key)!.adaptations.join(' or --adapt ')}`);
    return null;
  }
  return adaptationSpecOf(parseChoice('--adapt', name, adaptationNames()), given, flagOf);
}

export function registerAttack(program: Command): void {
  const cmd = program
    .command('attack')
    .description('steal a victim through its (defended) black box, train a copy per budget and score both sides')
    .option('--victim <dir>', 'victim model directory written by `poison train`', DEFAULT_VICTIM_DIR)
    .option('--attack <name>', `attack (${attackNames().join(', ')})`, attackNames()[0])
    .option('--budget <list>', 'query budget(s), comma-separated: a fresh attacker per budget on the first B queries', '10000')
    .option('--label-mode <mode>', `train on the released posteriors or only their top-1 (${LABEL_MODES.join(', ')})`, 'probs')
    .option('--defense <name>', `defense of the black box (${defenseNames().join(', ')})`, UNDEFENDED);
  addDefenseFlags(cmd);
  cmd
    .option('--queryset-dir <dir>', "attacks that draw from a query pool: folder holding the pool's files");
  for (const { param, attacks } of attackParamTable()) cmd.option(param.flag, paramHelp(param, attacks));
  cmd.option('--adapt <name>', `attacker that adapts to the defense (${adaptationNames().join(', ')}; default: none, the naive attacker)`);
  for (const { param, adaptations } of adaptationParamTable()) {
    cmd.option(param.flag, `--adapt ${adaptations.join(', ')}: ${param.help} (${param.kind === 'choice' ? `${param.choices.join(', ')}; ` : ''}default ${param.default === null ? 'none' : String(param.default)})`);
  }
  cmd
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
  policy.svg           attacks that pick pool classes by a policy: π per class over the
                       queries and the queries per class (result.json's queryPolicy)
A non-adaptive attack's transfer set and the victim's test posteriors are cached under --cache-dir, so
another defense on the same (victim, pool, budget, seed) does not run the victim again.

Training defaults (flags set explicitly override them; the same table is in docs/sweep-config.md):
${trainingDefaultsTable(ARCH_NAMES)}`,
    )
    .action(async (flags: Flags) => {
      const definition = attackDefinition(parseChoice('--attack', flagText(flags, 'attack'), attackNames()));
      const attack = definition.name;
      checkAttackOnlyFlags(definition, flags);
      const adapt = adaptationFromFlags(flags);
      const mismatch = adapt ? adaptationMismatch(adapt.name, attack) : null;
      if (mismatch !== null) throw new UsageError(`--adapt ${mismatch}`);
      const victim = flagText(flags, 'victim')!;
      const budgets = parseNumberList('--budget', flagText(flags, 'budget') ?? '', { integer: true, min: 1 });
      const sortedBudgets = [...new Set(budgets)].sort((a, b) => a - b);
      if (sortedBudgets.length !== budgets.length) throw new UsageError(`--budget lists a value twice: ${flagText(flags, 'budget')}`);
      const { jacobian, pool: poolSettings, settings } = settingsBags(definition, flags);
      // Checked here too, before TensorFlow.js and the victim load: the same rule, the same words.
      // Budgets count queries; with an adaptation spending several per image, the attack gets fewer images.
      const perImage = adapt ? adaptationDefinition(adapt.name).queriesPerImage(adapt.settings) : 1;
      if (sortedBudgets[0]! < perImage) throw new UsageError(`--budget ${sortedBudgets[0]!} buys no image at ${perImage} queries per image (--adapt ${adapt!.name})`);
      const querySource = querySourceOf(definition);
      const shortfall = querySource.shortfall(Math.floor(sortedBudgets[0]! / perImage), jacobian);
      if (shortfall !== null) throw new UsageError(shortfall);
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
      // What the victim implies for the query pool's settings the user did not give (a pool attack's default pool).
      const { dataset: queryset, split: querysetSplit } = querySource.poolFromVictim(victimParams.dataset, poolSettings, flagText(flags, 'querysetSplit') !== undefined);
      const defense = parseDefenseSpec(flagText(flags, 'defense'), defenseValues, {
        dataset: victimParams.dataset,
        numClasses: victimParams.numClasses,
        arch: victimParams.arch,
      });
      const limit = definition.victimLimit?.(jacobian, victimParams.numClasses, settings) ?? null;
      if (limit !== null) {
        const flagOf = (key: string): string => definition.params.find((p) => p.key === key)?.flag.split(' ')[0] ?? key;
        // The limit names other parameters by key (sweep config words); the command line says their flags.
        const expected = definition.params.reduce((text, p) => text.replace(new RegExp(`\\b${p.key}\\b`, 'g'), flagOf(p.key)), limit.expected);
        throw new UsageError(`${flagOf(limit.key)} must be ${expected}, got ${limit.got}`);
      }
      const attackerTraining = attackerTrainingFromFlags(flags, attackerArch ?? victimParams.arch, attack);
      const spec: AttackSpec = {
        victim,
        attack,
        adapt,
        budgets: sortedBudgets,
        labelMode: parseChoice('--label-mode', flagText(flags, 'labelMode'), LABEL_MODES),
        defense,
        queryset,
        querysetSplit,
        querysetDir: flagText(flags, 'querysetDir'),
        jacobian,
        settings,
        attackerArch,
        trainingPreset: attackerTraining.preset,
        training: attackerTraining.training,
        queryBatchSize: parseNumber('--query-batch-size', flagText(flags, 'queryBatchSize'), { integer: true, min: 1 }),
        seed,
        out: flagText(flags, 'out') ?? path.join('results', 'attacks', `${path.basename(path.resolve(victim))}-${attack}${adapt ? `-${adapt.name}` : ''}-${defenseSlug(defense)}-s${seed}`),
        force: flags.force === true,
        baseline: flagText(flags, 'baseline'),
        cacheDir: flags.cache === false ? null : (flagText(flags, 'cacheDir') ?? 'results/cache'),
        dataDir: flagText(flags, 'dataDir'),
        testLimit: parseOptionalNumber('--test-limit', flagText(flags, 'testLimit'), { integer: true, min: 1 }),
        backend: backendRaw === undefined ? undefined : parseChoice('--backend', backendRaw, BACKEND_NAMES),
        quiet: flags.quiet === true,
      };
      const { prepareDefense } = await import('../../defenses/create.js');
      // What the defense builds beside the victim (most build nothing), before the run creates it.
      await prepareDefense(defense, { victimDir: victim, seed, reporter: { line: quietOr(flags, process.stderr) } });
      const { runAttack } = await import('../../attack-run/run.js');
      const result = await runAttack(spec);
      // Which attacker these numbers are for: naive, or adapted and knowing what (an oracle one is an upper bound).
      process.stdout.write(`${spec.out}: threat model: ${threatModelLine(threatModelOf(result.adaptation))}\n`);
      for (const run of result.runs) {
        process.stdout.write(
          `${spec.out}: ${attack}${adapt ? ` + ${adapt.name}` : ''} B=${run.budget} vs ${result.defense.description}: attacker ${(100 * run.attacker.accuracy).toFixed(2)}% ` +
            `(fidelity ${(100 * run.attacker.fidelity).toFixed(2)}%), defender ${(100 * result.defender.accuracyDefended).toFixed(2)}% ` +
            `(undefended ${(100 * result.defender.accuracyUndefended).toFixed(2)}%, mean L1 ${result.defender.test.l1.mean.toFixed(3)})` +
            (run.errorAmplification !== null ? `, error amplification ${run.errorAmplification.toFixed(2)}×` : '') +
            '\n',
        );
      }
    });
}
