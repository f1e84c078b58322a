/**
 * The attacks a sweep config may name and the parameters each takes, read from each attack's
 * own declaration (src/attacks/registry.ts), so the sweep accepts exactly what `poison attack`
 * accepts, under the same (camelCase) names.
 */
import { LABEL_MODES, type AttackName } from '../../attacks/names.js';
import type { AttackParam } from '../../attacks/params.js';
import { attackDefinition, attackNames } from '../../attacks/registry.js';
import type { ParamSchema } from './param-schema.js';
import { adaptationDefinition } from '../../adaptations/registry.js';
import type { AdaptationParam } from '../../adaptations/types.js';

export { attackNames, type AttackName };

const LABEL_MODE: ParamSchema = { name: 'labelMode', kind: 'choice', choices: LABEL_MODES, default: 'probs', doc: 'train on ỹ (probs) or on its top-1 as one-hot (argmax)' };

/** A declared attack parameter as the sweep config reads it (YAML `null` where the flag says `none`). */
function schemaOf(param: AttackParam | AdaptationParam): ParamSchema {
  const doc = param.help.replace(/\bnone\b/, 'null');
  return param.kind === 'number'
    ? { name: param.key, kind: 'number', range: param.range, ...(param.nullable ? { nullable: true } : {}), default: param.default, doc }
    : { name: param.key, kind: 'choice', choices: param.choices, ...(param.default === undefined ? {} : { default: param.default }), doc };
}

/** The parameters of one attack, in its declared order after labelMode. */
export function attackParams(name: AttackName): ParamSchema[] {
  return [LABEL_MODE, ...attackDefinition(name).params.map(schemaOf)];
}

/** The parameters of one adaptation (an attack entry's `adapt:`), in its declared order. */
export function adaptationParams(name: string): ParamSchema[] {
  return adaptationDefinition(name).params.map(schemaOf);
}

/**
 * Whether an attack's queries depend on the answers. When they do not, its transfer set (images
 * and clean posteriors) is computed once and shared by every defense cell of the same pool,
 * budget and seed.
 */
export function sharesTransferSet(name: AttackName): boolean {
  return !attackDefinition(name).adaptive;
}
