/**
 * The vocabulary an attack declares itself in (AttackDefinition in types.ts): its parameters
 * and where its queries start from. Free of TensorFlow.js and of any attack, so the command
 * line and the sweep config can read every declaration without loading either.
 */
import type { PlainParam } from '../params/declaration.js';

/**
 * Where an attack's queries start from: images of a query pool from another distribution
 * (AttackSources.pool), or a seed set drawn from the victim's train split that the attack then
 * grows (AttackSources.seedPool). It also picks the attacker's reference training defaults.
 */
export type QuerySource = 'pool' | 'seed-set';

/**
 * One parameter of an attack: the one declaration type (src/params/declaration.ts) with the
 * settings bag of the run it fills: the query pool's (AttackSpec.queryset…), the Jacobian
 * rounds' (AttackSpec.jacobian), or the attack's own (AttackSpec.settings, handed to its run()
 * as AttackSources.settings; names.ts attackSettingsOf). Its key is camelCase (the sweep
 * config key, commander's attribute of its flag). No default on a choice: required in a sweep
 * config; `poison attack` takes it from the victim (the default query pool).
 */
export type AttackParam = PlainParam & { bag: 'pool' | 'jacobian' | 'attack' };

/**
 * A limit a parameter's own range cannot state (it depends on the victim, or ties two parameters
 * together): the parameter's key, what it takes, and what it got.
 */
export interface VictimLimit {
  key: string;
  expected: string;
  got: string;
}
