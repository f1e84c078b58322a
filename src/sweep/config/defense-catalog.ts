/**
 * Defenses in a sweep config: the names, parameter keys and validation are the defense library's
 * own (src/defenses/params.ts: DEFENSE_FLAGS and parseDefenseSpec, shared with `poison attack`
 * and `poison eval`), so a config accepts exactly the defenses and values the CLI does, under
 * the same keys (`eps`, `ydist`, `beta`, `noise-eps`, …), and so are each defense's operating
 * point (the axis its line runs along in the plots), the spec field of each key and the identity
 * of its side information: nothing here is written per defense.
 */
import { DEFENSE_FLAGS, flagsOf, operatingAxis, specField } from '../../defenses/params.js';
import { DEFENSE_NAMES, sideInfoIdentity, type DefenseName } from '../../defenses/spec.js';

export { DEFENSE_NAMES, operatingAxis, sideInfoIdentity, specField, type DefenseName };

export function isDefenseName(name: string): name is DefenseName {
  return (DEFENSE_NAMES as readonly string[]).includes(name);
}

/** The config keys a defense takes, in the library's order. */
export function defenseKeys(name: DefenseName): string[] {
  return flagsOf(name).map((f) => f.key);
}

/** What a key takes, from the library's help text without its "mad, mad-argmax: " prefix. */
export function keyHelp(key: string): string {
  const help = DEFENSE_FLAGS.find((f) => f.key === key)?.help ?? key;
  return help.replace(/^[a-z, -]+:\s*/, '');
}
