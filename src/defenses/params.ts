/**
 * From flag values (`--eps 0.5 --ydist l1`, or the same keys in a sweep config) to a typed,
 * validated DefenseSpec. Shared by `poison eval`, `poison attack` and the sweep YAML, and free of
 * TensorFlow.js. Every failure is a UsageError naming the parameter and what it takes.
 */
import { UsageError } from '../errors.js';
import { parseChoice, parseNumber } from '../util/parse.js';
import {
  DEFENSE_NAMES,
  JACOBIAN_MODES,
  MAD_ABLATIONS,
  NOISE_DISTS,
  NORMS,
  type DefenseName,
  type DefenseSpec,
  type MadSpec,
} from './spec.js';

interface DefenseFlag {
  /** Flag name without the dashes; also the key in a sweep config. */
  key: string;
  /** The DefenseSpec field the value lands in (random noise's `noise-` keys differ from their fields). */
  field: string;
  /** Commander syntax, e.g. `--eps <x>`. */
  syntax: string;
  help: string;
  defenses: readonly DefenseName[];
}

const MAD_BOTH = ['mad', 'mad-argmax'] as const;
/**
 * MAD's ε when none is given, so a bare `poison attack --defense mad` runs: 0.5 (L1), the middle
 * of the paper's MNIST sweep, where MAD already lowers a query-pool attacker while the victim's
 * top-1 mostly stands.
 */
const DEFAULT_MAD_EPS = 0.5;

/** Every defense parameter, in the order help lists them. */
export const DEFENSE_FLAGS: readonly DefenseFlag[] = [
  { key: 'eps', field: 'eps', syntax: '--eps <x>', defenses: MAD_BOTH, help: `mad, mad-argmax: budget ε ≥ 0 on ‖ỹ − y‖ (default ${DEFAULT_MAD_EPS})` },
  { key: 'ydist', field: 'ydist', syntax: '--ydist <norm>', defenses: MAD_BOTH, help: 'mad, mad-argmax: norm of the budget, l1 | l2 (default l1)' },
  {
    key: 'jacobian',
    field: 'jacobian',
    syntax: '--jacobian <mode>',
    defenses: MAD_BOTH,
    help: 'mad, mad-argmax: closed | autodiff (last layer, reference code) | autodiff-all (all parameters, paper text) (default closed)',
  },
  {
    key: 'ablation',
    field: 'ablation',
    syntax: '--ablation <kind>',
    defenses: MAD_BOTH,
    help: 'mad, mad-argmax: none | identity (G = I) | random-vertex (seeded random y*) (default none)',
  },
  {
    key: 'surrogate',
    field: 'surrogate',
    syntax: '--surrogate <dir>',
    defenses: MAD_BOTH,
    help: "mad, mad-argmax: saved model used as surrogate (default: the victim's architecture, randomly initialised from --seed)",
  },
  { key: 'k', field: 'k', syntax: '--k <n>', defenses: ['top-k'], help: 'top-k: entries kept, a whole number in 1..K, then renormalised to sum to 1 (required)' },
  { key: 'decimals', field: 'decimals', syntax: '--decimals <n>', defenses: ['rounding'], help: 'rounding: decimals kept, a whole number in 0..20, then renormalised to sum to 1 (required)' },
  { key: 'beta', field: 'beta', syntax: '--beta <x>', defenses: ['reverse-sigmoid'], help: 'reverse-sigmoid: strength β in [0, 1] (required)' },
  {
    key: 'gamma',
    field: 'gamma',
    syntax: '--gamma <x>',
    defenses: ['reverse-sigmoid'],
    help: 'reverse-sigmoid: γ > 0 (default per dataset: mnist 0.2, fashion-mnist 0.4, cifar10 0.1, others 0.2)',
  },
  { key: 'noise-eps', field: 'epsZ', syntax: '--noise-eps <x>', defenses: ['random-noise'], help: 'random-noise: radius ε_z ≥ 0 of the logit noise (required)' },
  { key: 'noise-norm', field: 'norm', syntax: '--noise-norm <norm>', defenses: ['random-noise'], help: 'random-noise: ball of the noise, l1 | l2 (default l1)' },
  { key: 'noise-dist', field: 'dist', syntax: '--noise-dist <dist>', defenses: ['random-noise'], help: 'random-noise: uniform | gaussian (default uniform)' },
];

/**
 * Each defense's operating point: the parameter (flag key) a sweep varies to trace its line in
 * the plots; null for a defense with a single point. Typed over every defense name, so a new
 * defense cannot be left out.
 */
const OPERATING_AXES: { readonly [N in DefenseName]: string | null } = {
  none: null,
  argmax: null,
  'top-k': 'k',
  rounding: 'decimals',
  'reverse-sigmoid': 'beta',
  'random-noise': 'noise-eps',
  mad: 'eps',
  'mad-argmax': 'eps',
};

/** A defense's operating-point parameter: its flag key and its DefenseSpec field; null = single point. */
export function operatingAxis(name: DefenseName): { key: string; field: string } | null {
  const key = OPERATING_AXES[name];
  return key === null ? null : { key, field: specField(key) };
}

/** The DefenseSpec field of a flag key; an unknown key is a programming error, not a user's. */
export function specField(key: string): string {
  const flag = DEFENSE_FLAGS.find((f) => f.key === key);
  if (!flag) throw new Error(`no defense parameter '${key}'`);
  return flag.field;
}

/** Flag values by key; undefined = not given. Numbers are accepted for configs parsed from YAML. */
export type DefenseFlagValues = Readonly<Record<string, string | number | undefined>>;

/** What is known about the victim when parsing; limits and defaults depend on it. */
interface DefenseParseContext {
  /** The victim's dataset: picks reverse sigmoid's default γ. */
  dataset?: string;
  /** The victim's class count: bounds top-k's k. */
  numClasses?: number;
}

/** The paper's γ per dataset (docs/spec.md): MNIST 0.2, FashionMNIST 0.4, CIFAR-10 0.1, others 0.2. */
export function defaultGamma(dataset: string | undefined): number {
  if (dataset === 'fashion-mnist') return 0.4;
  if (dataset === 'cifar10') return 0.1;
  return 0.2;
}

export function flagsOf(defense: DefenseName): DefenseFlag[] {
  return DEFENSE_FLAGS.filter((f) => f.defenses.includes(defense));
}

function text(raw: string | number | undefined): string | undefined {
  return raw === undefined ? undefined : String(raw);
}

export function parseDefenseSpec(
  defense: string | undefined,
  flags: DefenseFlagValues,
  context: DefenseParseContext = {},
): DefenseSpec {
  const name = parseChoice('--defense', defense ?? 'none', DEFENSE_NAMES);
  const own = flagsOf(name);
  for (const [key, value] of Object.entries(flags)) {
    if (value === undefined) continue;
    const known = DEFENSE_FLAGS.find((f) => f.key === key);
    if (!known) {
      throw new UsageError(`unknown defense parameter '${key}' (known: ${DEFENSE_FLAGS.map((f) => f.key).join(', ')})`);
    }
    if (!own.includes(known)) {
      const takes = own.length > 0 ? `it takes ${own.map((f) => `--${f.key}`).join(', ')}` : 'it takes no parameters';
      throw new UsageError(`--${key} does not apply to defense '${name}' (${takes})`);
    }
  }
  const required = (key: string, what: string): string => {
    const v = text(flags[key]);
    if (v === undefined) throw new UsageError(`defense '${name}' needs --${key} (${what})`);
    return v;
  };

  let spec: DefenseSpec;
  switch (name) {
    case 'none':
    case 'argmax':
      spec = { name };
      break;
    case 'top-k':
      spec = { name, k: parseNumber('--k', required('k', 'a whole number in 1..K'), { integer: true, min: 1 }) };
      break;
    case 'rounding':
      spec = {
        name,
        decimals: parseNumber('--decimals', required('decimals', 'a whole number in 0..20'), { integer: true, min: 0, max: 20 }),
      };
      break;
    case 'reverse-sigmoid': {
      // β ≤ 1 is exactly the range where y − r(y) stays positive for every y and γ: with β > 1,
      // an entry just above ½ and a large γ gives y − β(σ(γ·logit y) − ½) < 0, off the simplex.
      const beta = parseNumber('--beta', required('beta', 'a number in [0, 1]'), { min: 0, max: 1 });
      const gammaRaw = text(flags.gamma);
      const gamma = gammaRaw === undefined ? defaultGamma(context.dataset) : parseNumber('--gamma', gammaRaw, { gt: 0 });
      spec = { name, beta, gamma };
      break;
    }
    case 'random-noise':
      spec = {
        name,
        epsZ: parseNumber('--noise-eps', required('noise-eps', 'a number ≥ 0'), { min: 0 }),
        norm: parseChoice('--noise-norm', text(flags['noise-norm']) ?? 'l1', NORMS),
        dist: parseChoice('--noise-dist', text(flags['noise-dist']) ?? 'uniform', NOISE_DISTS),
      };
      break;
    case 'mad':
    case 'mad-argmax':
      spec = parseMad(name, flags);
      break;
  }
  if (context.numClasses !== undefined) checkDefenseForClasses(spec, context.numClasses);
  return spec;
}

function parseMad(name: 'mad' | 'mad-argmax', flags: DefenseFlagValues): MadSpec {
  const ablation = parseChoice('--ablation', text(flags.ablation) ?? 'none', MAD_ABLATIONS);
  if (ablation !== 'none') {
    // The ablations replace the surrogate's geometry: a surrogate or Jacobian mode would be ignored.
    for (const key of ['jacobian', 'surrogate'] as const) {
      if (flags[key] !== undefined) {
        throw new UsageError(`--${key} does not apply with --ablation ${ablation} (that ablation uses no surrogate)`);
      }
    }
  }
  const surrogate = text(flags.surrogate);
  if (surrogate !== undefined && surrogate.trim() === '') throw new UsageError('--surrogate needs a directory, got an empty string');
  return {
    name,
    eps: parseNumber('--eps', text(flags.eps) ?? String(DEFAULT_MAD_EPS), { min: 0 }),
    ydist: parseChoice('--ydist', text(flags.ydist) ?? 'l1', NORMS),
    jacobian: parseChoice('--jacobian', text(flags.jacobian) ?? 'closed', JACOBIAN_MODES),
    ablation,
    surrogate: surrogate ?? null,
  };
}

/** Limits that depend on the victim's class count. */
export function checkDefenseForClasses(spec: DefenseSpec, numClasses: number): void {
  if (!Number.isInteger(numClasses) || numClasses < 2) {
    throw new UsageError(`a defense needs a classifier with at least 2 classes, got ${numClasses}`);
  }
  if (spec.name === 'top-k' && spec.k > numClasses) {
    throw new UsageError(`--k must be a whole number in 1..${numClasses} (the victim's class count), got ${spec.k}`);
  }
}
