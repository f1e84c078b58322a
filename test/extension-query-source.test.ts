/**
 * An attack may bring its own query source (test/helpers/toy-attack.ts declares one: the victim's
 * test split), and nothing in src/ branches on it: the training defaults, the sweep config's
 * budget check and its data check ask the declaration. (`poison attack` running it:
 * extension-attack.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UsageError } from '../src/errors.js';
import { EXTENSIONS_ENV, loadExtensions } from '../src/extensions.js';
import { attackDefinition } from '../src/attacks/registry.js';
import { querySourceOf } from '../src/attacks/query-sources.js';
import { attackerTrainingDefaults, trainingDefaultsTable } from '../src/train/defaults.js';
import { parseSweepConfig } from '../src/sweep/config/parse-config.js';
import { TOY_ATTACK_MODULE, TOY_SOURCE_ATTACK, TOY_SOURCE_TRAINING } from './helpers/toy-attack.js';

const config = (budgets: string): string => `
victim:
  train: {dataset: mnist, arch: lenet, epochs: 1, limit: 300}
attacks:
  - {name: ${TOY_SOURCE_ATTACK}}
defenses: {none: {}}
budgets: ${budgets}
`;

test("an attack's own query source is asked for its reference training, its splits and its budget limit", async () => {
  await loadExtensions({ [EXTENSIONS_ENV]: TOY_ATTACK_MODULE });
  assert.deepEqual(attackerTrainingDefaults('lenet', TOY_SOURCE_ATTACK, 'reference'), TOY_SOURCE_TRAINING);
  assert.deepEqual(attackerTrainingDefaults('lenet', 'knockoff', 'reference').epochs, 50, 'the built-in pool source keeps its recipe');
  assert.deepEqual(attackerTrainingDefaults('lenet', 'jbda', 'reference').epochs, 100, 'the built-in seed-set source keeps its recipe');
  assert.match(trainingDefaultsTable(['lenet']), new RegExp(`\\| attacker \\| reference \\| ${TOY_SOURCE_ATTACK} \\| lenet \\| 7 \\| 0.02 \\|`));

  assert.deepEqual(querySourceOf(attackDefinition(TOY_SOURCE_ATTACK)).splits('mnist', {}), [{ name: 'mnist', split: 'test' }]);
  const parsed = parseSweepConfig(config('[30]'), 'toy.yaml');
  assert.deepEqual(parsed.attacks[0]!.params, { labelMode: 'probs' });
  assert.throws(
    () => parseSweepConfig(config('[30, 20000]'), 'toy.yaml'),
    (e: unknown) => e instanceof UsageError && /budgets\[1\]: expected at most 10000 \(attacks\[0\] asks the victim's test split\), found 20000/.test(e.message),
  );
});
