/**
 * The attacks a sweep config may name and the parameters each takes, read from each attack's
 * own declaration (src/attacks/registry.ts), so the sweep accepts exactly what `poison attack`
 * accepts, under the same (camelCase) names.
 */
import { LABEL_MODES, type AttackName } from '../../attacks/names.js';
import { attackDefinition, attackNames } from '../../attacks/registry.js';
import { adaptationDefinition } from '../../adaptations/registry.js';
import type { PlainParam } from '../../params/declaration.js';

export { attackNames, type AttackName };

/** Every attack entry's label mode (the command line's --label-mode, declared by the command). */
const LABEL_MODE: PlainParam = { key: 'labelMode', flag: '--label-mode <mode>', kind: 'choice', choices: LABEL_MODES, default: 'probs', help: 'train on ỹ (probs) or on its top-1 as one-hot (argmax)' };

/** The parameters of one attack, in its declared order after labelMode: its own declarations. */
export function attackParams(name: AttackName): PlainParam[] {
  return [LABEL_MODE, ...attackDefinition(name).params];
}

/** The parameters of one adaptation (an attack entry's `adapt:`), in its declared order. */
export function adaptationParams(name: string): readonly PlainParam[] {
  return adaptationDefinition(name).params;
}

/**
 * Whether an attack's queries depend on the answers. When they do not, its transfer set (images
 * and clean posteriors) is computed once and shared by every defense cell of the same pool,
 * budget and seed.
 */
export function sharesTransferSet(name: AttackName): boolean {
  return !attackDefinition(name).adaptive;
}
