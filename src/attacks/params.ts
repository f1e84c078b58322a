/**
 * The vocabulary an attack declares itself in (AttackDefinition in types.ts): its parameters
 * and where its queries start from. Free of TensorFlow.js and of any attack, so the command
 * line and the sweep config can read every declaration without loading either.
 */
import type { NumberRange } from '../util/parse.js';

/**
 * Where an attack's queries start from: images of a query pool from another distribution
 * (AttackSources.pool), or a seed set drawn from the victim's train split that the attack then
 * grows (AttackSources.seedPool). It also picks the attacker's reference training defaults.
 */
export type QuerySource = 'pool' | 'seed-set';

/**
 * One parameter of an attack, declared once: the `poison attack` flag, the sweep config key, the
 * validation of both, `--help`, the docs' table (a test compares them) and the CSV's
 * attack_settings all come from it.
 */
export type AttackParam = {
  /** camelCase: the sweep config key, the field of its settings bag, commander's attribute of `flag`. */
  key: string;
  /** The flag's commander syntax, e.g. `--seed-size <n>`. */
  flag: string;
  /**
   * The settings bag of the run it fills: the query pool's (AttackSpec.queryset…), the Jacobian
   * rounds' (AttackSpec.jacobian), or the attack's own (AttackSpec.settings, handed to its run()
   * as AttackSources.settings; names.ts attackSettingsOf).
   */
  bag: 'pool' | 'jacobian' | 'attack';
  /** What it means, for `--help` and sweep config errors. */
  help: string;
} & (
  | {
      kind: 'number';
      range: NumberRange;
      /** Also takes null: `none` on the command line, `null` in a sweep config. */
      nullable?: boolean;
      default: number | null;
    }
  | {
      kind: 'choice';
      choices: readonly string[];
      /** Absent: required in a sweep config; `poison attack` takes it from the victim (the default query pool). */
      default?: string;
    }
);

/**
 * A limit a parameter's own range cannot state (it depends on the victim, or ties two parameters
 * together): the parameter's key, what it takes, and what it got.
 */
export interface VictimLimit {
  key: string;
  expected: string;
  got: string;
}
