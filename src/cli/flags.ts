/**
 * Reading commander's parsed flags, shared by the commands that take a defense (eval, attack).
 * No TensorFlow.js here: command files import it at start-up.
 */
import type { Command } from 'commander';
import { DEFENSE_FLAGS, type DefenseFlagValues } from '../defenses/params.js';

export type Flags = Record<string, string | boolean | undefined>;

/** A flag's string value (commander's attribute name, e.g. 'batchSize'), or undefined. */
export function flagText(flags: Flags, name: string): string | undefined {
  const v = flags[name];
  return typeof v === 'string' ? v : undefined;
}

/** commander's attribute name for a flag key: 'noise-eps' → 'noiseEps'. */
function attributeOf(key: string): string {
  return key.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** Declares every defense's parameter flags on a command. */
export function addDefenseFlags(cmd: Command): void {
  for (const f of DEFENSE_FLAGS) cmd.option(f.syntax, f.help);
}

/** The defense parameter flags as parseDefenseSpec takes them, keyed by flag name. */
export function defenseFlagValues(flags: Flags): DefenseFlagValues {
  const values: Record<string, string | undefined> = {};
  for (const f of DEFENSE_FLAGS) values[f.key] = flagText(flags, attributeOf(f.key));
  return values as DefenseFlagValues;
}
