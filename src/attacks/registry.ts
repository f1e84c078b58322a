/**
 * Every attack, one line each. Only declarations are loaded here (each attack imports its
 * TensorFlow.js code when it runs), so the command line and the sweep config read them freely.
 */
import { UsageError } from '../errors.js';
import type { AttackName } from './names.js';
import type { AttackParam } from './params.js';
import { querySourceOf, type QuerySourceDefinition } from './query-sources.js';
import type { AttackDefinition } from './types.js';
import { knockoff } from './knockoff.js';
import { knockoffAdaptive } from './knockoff-adaptive.js';
import { jbda } from './jbda.js';
import { jbself } from './jbself.js';
import { jbtop } from './jbtop.js';
import { jbtr } from './jbtr.js';

const ATTACKS: AttackDefinition[] = [knockoff, knockoffAdaptive, jbda, jbself, jbtop, jbtr];

/** The registered attacks' names, in registration order (the order help and errors list them). */
export function attackNames(): AttackName[] {
  return ATTACKS.map((a) => a.name);
}

export function attackDefinition(name: AttackName): AttackDefinition {
  const found = ATTACKS.find((a) => a.name === name);
  if (!found) throw new UsageError(`unknown attack '${name}' (choose one of: ${attackNames().join(', ')})`);
  return found;
}

/**
 * The attacks grouped by where their queries start (registration order): the attacker's
 * reference training defaults differ between the groups, so help and docs list them per group.
 */
export function attacksByQuerySource(): { source: QuerySourceDefinition; names: AttackName[] }[] {
  const groups: { source: QuerySourceDefinition; names: AttackName[] }[] = [];
  for (const a of ATTACKS) {
    const source = querySourceOf(a);
    const group = groups.find((g) => g.source === source);
    if (group) group.names.push(a.name);
    else groups.push({ source, names: [a.name] });
  }
  return groups;
}

/**
 * Every parameter any attack declares, once per key, with the attacks that take it. Attacks may
 * share a parameter (the Jacobian rounds'): they must then declare it identically.
 */
export function attackParamTable(): { param: AttackParam; attacks: AttackName[] }[] {
  const table = new Map<string, { param: AttackParam; attacks: AttackName[] }>();
  for (const attack of ATTACKS) {
    for (const param of attack.params) {
      const seen = table.get(param.key);
      if (!seen) table.set(param.key, { param, attacks: [attack.name] });
      else if (JSON.stringify(seen.param) !== JSON.stringify(param)) throw new Error(`attacks ${seen.attacks.join(', ')} and ${attack.name} declare '${param.key}' differently`);
      else seen.attacks.push(attack.name);
    }
  }
  return [...table.values()];
}

/**
 * Adds an attack declared outside src/ (see src/extensions.ts), before any command reads the
 * registry. The attacks above are production's whole catalogue; it registers nothing here.
 */
export function registerAttack(attack: AttackDefinition): void {
  if (ATTACKS.some((a) => a.name === attack.name)) throw new UsageError(`attack '${attack.name}' is registered twice`);
  ATTACKS.push(attack);
  // A parameter declared unlike an existing attack's of the same key is refused now, not at first use.
  attackParamTable();
}
