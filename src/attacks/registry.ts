/** Every attack, one line each. */
import type { AttackName } from './names.js';
import type { AttackDefinition } from './types.js';
import { knockoff } from './knockoff.js';
import { jbda } from './jbda.js';
import { jbself } from './jbself.js';
import { jbtop } from './jbtop.js';

const ATTACKS: Record<AttackName, AttackDefinition> = {
  knockoff,
  jbda,
  jbself,
  jbtop,
};

export function attackDefinition(name: AttackName): AttackDefinition {
  return ATTACKS[name];
}
