/**
 * The attacks a sweep config may name and the parameters each takes, built from the attack
 * library's own tables (src/attacks/names.ts: names, label modes, the Jacobian reference
 * defaults and which flag belongs to which attack), so the sweep accepts exactly what
 * `poison attack` accepts, under the same (camelCase) names.
 */
import { ATTACK_NAMES, ATTACK_ONLY_FLAGS, attackFamily, JACOBIAN_DEFAULTS, LABEL_MODES, type AttackName } from '../../attacks/names.js';
import { DATASET_NAMES, SPLITS } from '../../data/types.js';
import type { ParamSchema } from './param-schema.js';

export { ATTACK_NAMES, type AttackName };

const POSITIVE_INT = { integer: true, min: 1 } as const;

/** Every parameter any attack takes; which attack takes which comes from ATTACK_ONLY_FLAGS. */
const PARAMS: Record<string, ParamSchema> = {
  labelMode: { name: 'labelMode', kind: 'choice', choices: LABEL_MODES, default: 'probs', doc: 'train on ỹ (probs) or on its top-1 as one-hot (argmax)' },
  queryset: { name: 'queryset', kind: 'choice', choices: DATASET_NAMES, doc: 'the query pool (paper: emnist-letters for MNIST, cifar100 for CIFAR-10)' },
  querysetSplit: { name: 'querysetSplit', kind: 'choice', choices: SPLITS, default: 'train', doc: 'split of the query pool drawn from' },
  seedSize: { name: 'seedSize', kind: 'number', range: POSITIVE_INT, default: JACOBIAN_DEFAULTS.seedSize, doc: 'seed images from the victim’s train split' },
  kappa: { name: 'kappa', kind: 'number', range: POSITIVE_INT, nullable: true, default: JACOBIAN_DEFAULTS.kappa, doc: 'reservoir size once round ≥ sigma; null = augment all of D' },
  sigma: { name: 'sigma', kind: 'number', range: { integer: true, min: 0 }, default: JACOBIAN_DEFAULTS.sigma, doc: 'round from which the reservoir is used' },
  tau: { name: 'tau', kind: 'number', range: POSITIVE_INT, default: JACOBIAN_DEFAULTS.tau, doc: 'period of the step sign flips' },
  lambda: { name: 'lambda', kind: 'number', range: { gt: 0, max: 1 }, default: JACOBIAN_DEFAULTS.lambda, doc: 'step size λ' },
  roundEpochs: { name: 'roundEpochs', kind: 'number', range: POSITIVE_INT, default: JACOBIAN_DEFAULTS.roundEpochs, doc: 'substitute epochs per round' },
  roundLr: { name: 'roundLr', kind: 'number', range: { gt: 0 }, default: JACOBIAN_DEFAULTS.roundLr, doc: 'substitute learning rate per round' },
  roundMomentum: { name: 'roundMomentum', kind: 'number', range: { min: 0, max: 0.999 }, default: JACOBIAN_DEFAULTS.roundMomentum, doc: 'substitute momentum per round' },
  topK: { name: 'topK', kind: 'number', range: POSITIVE_INT, default: JACOBIAN_DEFAULTS.topK, doc: 'runner-up classes per image (jbtop)' },
  pgdSteps: { name: 'pgdSteps', kind: 'number', range: POSITIVE_INT, default: JACOBIAN_DEFAULTS.pgdSteps, doc: 'PGD steps per target (jbtop)' },
  pgdStepSize: { name: 'pgdStepSize', kind: 'number', range: { gt: 0 }, default: JACOBIAN_DEFAULTS.pgdStepSize, doc: 'PGD step size (jbtop)' },
};

/** The parameters of one attack, in a fixed order (labelMode first). */
export function attackParams(name: AttackName): ParamSchema[] {
  const out: ParamSchema[] = [PARAMS.labelMode!];
  for (const [key, entry] of Object.entries(ATTACK_ONLY_FLAGS)) {
    if (!entry.attacks.includes(name)) continue;
    const schema = PARAMS[key];
    // A flag the library added that this table does not know yet: fail loudly in tests, not silently here.
    if (!schema) throw new Error(`sweep attack catalogue has no schema for the attack parameter '${key}'`);
    out.push(schema);
  }
  return out;
}

/**
 * Whether an attack's queries depend on the answers. Knockoff's do not: its transfer set (images
 * and clean posteriors) is computed once and shared by every defense cell of the same pool,
 * budget and seed.
 */
export function sharesTransferSet(name: AttackName): boolean {
  return attackFamily(name) === 'pool';
}
