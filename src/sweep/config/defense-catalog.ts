/**
 * Defenses in a sweep config: the names, parameter keys and validation are the defense library's
 * own (each defense's declaration, src/defenses/definition.ts, read through params.ts and
 * registry.ts, shared with `poison attack` and `poison eval`), so a config accepts exactly the
 * defenses and values the CLI does, under its keys spelt camelCase (`eps`, `ydist`, `noiseEps`, …),
 * and so are each defense's operating point (the axis its line runs along in the plots), the spec
 * field of each key and the identities of its side information and of what its prepare() builds:
 * nothing here is written per defense.
 */
import { operatingAxis, paramHelp, specField } from '../../defenses/params.js';
import { defenseDefinition, defenseNames, isDefenseName, UNDEFENDED } from '../../defenses/registry.js';
import { preparedIdentity, sideInfoIdentity } from '../../defenses/spec.js';
import type { DefenseParam } from '../../defenses/definition.js';

export { defenseNames, isDefenseName, operatingAxis, preparedIdentity, sideInfoIdentity, specField, UNDEFENDED };

/** The keys a defense takes (its flags' names, `noise-eps`; a config spells them camelCase), in its declaration's order. */
export function defenseKeys(name: string): string[] {
  return defenseDefinition(name).params.map((p) => p.key);
}

/** A defense's declared parameters, in its declaration's order. */
export function defenseParams(name: string): readonly DefenseParam[] {
  return defenseDefinition(name).params;
}

/** What one of a defense's keys takes, by that defense's own declaration (two defenses may differ). */
export function keyHelp(name: string, key: string): string {
  const param = defenseDefinition(name).params.find((p) => p.key === key);
  return param ? paramHelp(param) : key;
}
