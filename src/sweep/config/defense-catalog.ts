/**
 * Defenses in a sweep config: the names, parameter keys and validation are the defense library's
 * own (src/defenses/params.ts: DEFENSE_FLAGS and parseDefenseSpec, shared with `poison attack`
 * and `poison eval`), so a config accepts exactly the defenses and values the CLI does, under
 * the same keys (`eps`, `ydist`, `beta`, `noise-eps`, …). What the sweep adds is which
 * parameter is each defense's operating point: the axis its line runs along in the plots.
 */
import { DEFENSE_FLAGS, flagsOf } from '../../defenses/params.js';
import { DEFENSE_NAMES, type DefenseName, type DefenseSpec } from '../../defenses/spec.js';

export { DEFENSE_NAMES, type DefenseName };

interface OperatingAxis {
  /** The key in the config (and the flag without dashes). */
  key: string;
  /** The field of the resolved DefenseSpec that holds it. */
  field: string;
}

/** A defense's operating point, or null for a defense with a single point (none, argmax). */
const AXES: Record<DefenseName, OperatingAxis | null> = {
  none: null,
  argmax: null,
  'top-k': { key: 'k', field: 'k' },
  rounding: { key: 'decimals', field: 'decimals' },
  'reverse-sigmoid': { key: 'beta', field: 'beta' },
  'random-noise': { key: 'noise-eps', field: 'epsZ' },
  mad: { key: 'eps', field: 'eps' },
  'mad-argmax': { key: 'eps', field: 'eps' },
};

export function isDefenseName(name: string): name is DefenseName {
  return (DEFENSE_NAMES as readonly string[]).includes(name);
}

export function operatingAxis(name: DefenseName): OperatingAxis | null {
  return AXES[name];
}

/** The config keys a defense takes, in the library's order. */
export function defenseKeys(name: DefenseName): string[] {
  return flagsOf(name).map((f) => f.key);
}

/** The DefenseSpec field a config key resolves to (random noise's keys carry a `noise-` prefix). */
export function specField(key: string): string {
  const fields: Record<string, string> = { 'noise-eps': 'epsZ', 'noise-norm': 'norm', 'noise-dist': 'dist' };
  return fields[key] ?? key;
}

/** What a key takes, from the library's help text without its "mad, mad-argmax: " prefix. */
export function keyHelp(key: string): string {
  const help = DEFENSE_FLAGS.find((f) => f.key === key)?.help ?? key;
  return help.replace(/^[a-z, -]+:\s*/, '');
}

/**
 * Identity of the side information a defense computes per query image (MAD's surrogate
 * posteriors or gradients), or null when it needs none. Cells with the same transfer set and the
 * same identity share it, so only one of them computes it.
 */
export function sideInfoIdentity(spec: DefenseSpec): Record<string, unknown> | null {
  if ((spec.name === 'mad' || spec.name === 'mad-argmax') && spec.ablation === 'none') {
    return { surrogate: spec.surrogate, jacobian: spec.jacobian };
  }
  return null;
}
