/**
 * What every attack shares, kept free of TensorFlow.js so the command file can validate flags
 * (and print --help) without loading it: label modes, the query pool's parameters, the
 * Jacobian family's settings bag with its reference defaults and declared parameters, and the
 * generic bag of an attack's own parameters. Which attacks exist is registry.ts's.
 */
import { DATASET_NAMES, SPLITS } from '../data/types.js';
import { UsageError } from '../errors.js';
import { flagName, parseParamValue } from '../params/declaration.js';
import type { AttackParam } from './params.js';

/** An attack's name, as registered (registry.ts). */
export type AttackName = string;

/** probs: train on the released posterior ỹ; argmax: keep only its top-1, as one-hot. */
export const LABEL_MODES = ['probs', 'argmax'] as const;
export type LabelMode = (typeof LABEL_MODES)[number];

/** Settings of the Jacobian family (reference defaults in JACOBIAN_DEFAULTS). */
export interface JacobianSettings {
  /** Images drawn (seeded) from the victim dataset's train split to start D; each is one query. */
  seedSize: number;
  /** Reservoir size once round ≥ sigma; null = augment all of D every round. */
  kappa: number | null;
  sigma: number;
  /** Step sign flips with period tau: λ_ρ = lambda·(−1)^round(ρ/τ). */
  tau: number;
  lambda: number;
  /** Substitute training inside each round (reference: 20 epochs, SGD lr 0.1, momentum 0.9). */
  roundEpochs: number;
  roundLr: number;
  roundMomentum: number;
  /** Only for the attack that declares them (top-k PGD): runner-up classes per image, PGD steps and step size. */
  topK: number;
  pgdSteps: number;
  pgdStepSize: number;
}

/**
 * Reference defaults (prediction-poisoning's jacobian.py): seed 100, σ = 3, τ = 5, λ = 0.1,
 * 20 epochs at lr 0.1 momentum 0.9 per round; κ = 400 (the JacobianAdversary default, as in
 * Papernot et al.; its command line leaves κ unset, which `--kappa none` reproduces);
 * top-k PGD: k = 3, 8 PGD steps of 0.01.
 */
export const JACOBIAN_DEFAULTS: JacobianSettings = {
  seedSize: 100,
  kappa: 400,
  sigma: 3,
  tau: 5,
  lambda: 0.1,
  roundEpochs: 20,
  roundLr: 0.1,
  roundMomentum: 0.9,
  topK: 3,
  pgdSteps: 8,
  pgdStepSize: 0.01,
};

/**
 * The one statement of the seed-set rule: a Jacobian attack sends its whole seed set as its first
 * queries, so a budget below the seed-set size cannot be spent as asked. The message for a budget
 * that breaks it, or null. The library (attack-run/run.ts, jacobian-rounds.ts) throws it; the
 * sweep config reports the same rule at the budget's YAML line.
 */
export function seedSetShortfall(budget: number, seedSize: number): string | null {
  return budget < seedSize ? `--budget ${budget} is smaller than the seed set (--seed-size ${seedSize}): every seed image is a query` : null;
}

/**
 * The parameters of every attack that draws from a query pool: which pool, which split. No
 * default pool in a sweep config; `poison attack` takes the victim dataset's (data/catalog.ts).
 */
export const POOL_PARAMS: readonly AttackParam[] = [
  { key: 'queryset', flag: '--queryset <name>', bag: 'pool', kind: 'choice', choices: DATASET_NAMES, help: 'the query pool dataset (paper: emnist-letters for MNIST, cifar100 for CIFAR-10)' },
  { key: 'querysetSplit', flag: '--queryset-split <split>', bag: 'pool', kind: 'choice', choices: SPLITS, default: 'train', help: 'split of the query pool drawn from' },
];

const POSITIVE_INT = { integer: true, min: 1 } as const;

/**
 * The parameters of the Jacobian rounds every seed-set attack takes (its own, e.g. PGD's, it
 * declares itself), each defaulting to the reference's value above.
 */
export const JACOBIAN_ROUND_PARAMS: readonly AttackParam[] = [
  { key: 'seedSize', flag: '--seed-size <n>', bag: 'jacobian', kind: 'number', range: POSITIVE_INT, default: JACOBIAN_DEFAULTS.seedSize, help: "seed images drawn from the victim's train split (each one a query)" },
  { key: 'kappa', flag: '--kappa <n|none>', bag: 'jacobian', kind: 'number', range: POSITIVE_INT, nullable: true, default: JACOBIAN_DEFAULTS.kappa, help: 'reservoir size once round ≥ sigma; none = augment all of D' },
  { key: 'sigma', flag: '--sigma <n>', bag: 'jacobian', kind: 'number', range: { integer: true, min: 0 }, default: JACOBIAN_DEFAULTS.sigma, help: 'first round that samples the reservoir' },
  { key: 'tau', flag: '--tau <n>', bag: 'jacobian', kind: 'number', range: POSITIVE_INT, default: JACOBIAN_DEFAULTS.tau, help: "period of the step's sign flip" },
  { key: 'lambda', flag: '--lambda <x>', bag: 'jacobian', kind: 'number', range: { gt: 0, max: 1 }, default: JACOBIAN_DEFAULTS.lambda, help: 'step size λ in pixel units' },
  { key: 'roundEpochs', flag: '--round-epochs <n>', bag: 'jacobian', kind: 'number', range: POSITIVE_INT, default: JACOBIAN_DEFAULTS.roundEpochs, help: 'substitute epochs per round' },
  { key: 'roundLr', flag: '--round-lr <x>', bag: 'jacobian', kind: 'number', range: { gt: 0 }, default: JACOBIAN_DEFAULTS.roundLr, help: 'substitute learning rate per round' },
  { key: 'roundMomentum', flag: '--round-momentum <x>', bag: 'jacobian', kind: 'number', range: { min: 0, max: 0.999 }, default: JACOBIAN_DEFAULTS.roundMomentum, help: 'substitute momentum per round' },
];

/**
 * The Jacobian rounds' settings of an attack from its parameter values (by key): what it declares
 * in that bag from `values`, the rest the reference's (an attack without Jacobian rounds ignores them).
 */
export function jacobianSettingsOf(params: readonly AttackParam[], values: Readonly<Record<string, unknown>>): JacobianSettings {
  const settings: Record<string, unknown> = { ...JACOBIAN_DEFAULTS };
  for (const param of params) {
    if (param.bag === 'jacobian' && values[param.key] !== undefined) settings[param.key] = values[param.key];
  }
  return settings as unknown as JacobianSettings;
}

/**
 * The values of an attack's own parameters (bag 'attack'), by key: what its run() reads from
 * AttackSources.settings, result.json records under config.settings and the sweep CSV under
 * attack_settings. Each attack reads its own keys with the types it declared.
 */
export type AttackSettings = Readonly<Record<string, number | string | null>>;

/**
 * An attack's own settings (bag 'attack') from parameter values by key: each declared one from
 * `values`, or its default when absent, checked against its declaration (a library caller may
 * pass anything; the flags and the sweep config have checked them already, with the same words).
 * Keys the attack does not declare in this bag are ignored, as jacobianSettingsOf ignores them.
 */
export function attackSettingsOf(params: readonly AttackParam[], values: Readonly<Record<string, unknown>>): AttackSettings {
  const settings: Record<string, number | string | null> = {};
  for (const param of params) {
    if (param.bag !== 'attack') continue;
    const flag = flagName(param);
    const value = values[param.key] === undefined ? param.default : values[param.key];
    if (value === undefined) throw new UsageError(`${flag} is required`);
    settings[param.key] = parseParamValue(param, value, flag, 'value');
  }
  return settings;
}
