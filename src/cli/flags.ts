/**
 * Reading commander's parsed flags, shared by the commands that take a defense (eval, attack).
 * No TensorFlow.js here: command files import it at start-up.
 */
import type { Command } from 'commander';
import { flagHelp, type DefenseFlagValues } from '../defenses/params.js';
import { defenseFlags } from '../defenses/registry.js';
import { camelCase } from '../params/declaration.js';

export type Flags = Record<string, string | boolean | undefined>;

/** A flag's string value (commander's attribute name, e.g. 'batchSize'), or undefined. */
export function flagText(flags: Flags, name: string): string | undefined {
  const v = flags[name];
  return typeof v === 'string' ? v : undefined;
}

/** Declares every defense's parameter flags on a command: one flag per key, whichever defenses declare it. */
export function addDefenseFlags(cmd: Command): void {
  for (const f of defenseFlags()) cmd.option(f.flag, flagHelp(f));
}

/** The defense parameter flags as parseDefenseSpec takes them, keyed by flag name. */
export function defenseFlagValues(flags: Flags): DefenseFlagValues {
  const values: Record<string, string | undefined> = {};
  for (const f of defenseFlags()) values[f.key] = flagText(flags, camelCase(f.key));
  return values as DefenseFlagValues;
}

/** A reporter's line printer: each line on `stream`, nothing with --quiet. */
export function quietOr(flags: Flags, stream: NodeJS.WritableStream): (text: string) => void {
  return (text) => {
    if (flags.quiet !== true) stream.write(`${text}\n`);
  };
}
