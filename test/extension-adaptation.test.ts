/**
 * A new adaptation is one file (test/helpers/toy-adaptation.ts) plus its registration: loaded
 * through POISON_EXTENSION_MODULES, its one declared parameter is a sweep config key (camelCase,
 * checked by the declaration's range, a default when absent), its cells carry it, and the budget
 * check asks its queriesPerImage. (`poison attack --adapt` with its flag and --help: adapt-cli.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UsageError } from '../src/errors.js';
import { EXTENSIONS_ENV, loadExtensions } from '../src/extensions.js';
import { adaptationNames } from '../src/adaptations/registry.js';
import { parseSweepConfig } from '../src/sweep/config/parse-config.js';
import { expandGrid } from '../src/sweep/plan/grid.js';
import { TOY_ADAPTATION, TOY_ADAPTATION_MODULE } from './helpers/toy-adaptation.js';

const config = (adapt: string, budgets = '[30]'): string => `
victim:
  train: {dataset: mnist, arch: lenet, epochs: 1, limit: 300}
attacks:
  - {name: knockoff, queryset: mnist, adapt: ${adapt}}
defenses: {none: {}}
budgets: ${budgets}
`;

test('a toy adaptation registered from one file: its sweep key is read by its declaration, its cells carry it', async () => {
  assert.ok(!adaptationNames().includes(TOY_ADAPTATION), 'production registers no toy');
  assert.throws(() => parseSweepConfig(config(`{name: ${TOY_ADAPTATION}, repeats: 3}`), 'toy.yaml'), UsageError, 'unknown before it is loaded');
  await loadExtensions({ [EXTENSIONS_ENV]: TOY_ADAPTATION_MODULE });

  const parsed = parseSweepConfig(config(`{name: ${TOY_ADAPTATION}, repeats: 3}`), 'toy.yaml');
  assert.deepEqual(parsed.attacks[0]!.params, { labelMode: 'probs', queryset: 'mnist', querysetSplit: 'train', adapt: TOY_ADAPTATION, repeats: 3 });
  if (parsed.victim.kind !== 'train') throw new Error('train victim expected');
  const cells = expandGrid(parsed, { dataset: 'mnist', arch: 'lenet', train: parsed.victim.train });
  assert.deepEqual(cells.map((c) => c.settings.attack), [{ name: 'knockoff', labelMode: 'probs', queryset: 'mnist', querysetSplit: 'train', adapt: TOY_ADAPTATION, repeats: 3 }]);

  // By name alone: the declared default.
  assert.equal(parseSweepConfig(config(TOY_ADAPTATION), 'toy.yaml').attacks[0]!.params.repeats, 2);
  // Its declared range, at the key's line, as for any built-in parameter.
  assert.throws(
    () => parseSweepConfig(config(`{name: ${TOY_ADAPTATION}, repeats: 0}`), 'toy.yaml'),
    (e: unknown) => e instanceof UsageError && /attacks\[0\]\.adapt\.repeats: expected a whole number ≥ 1, found 0/.test(e.message),
  );
  // Budgets count queries: its queriesPerImage decides what a budget buys.
  assert.throws(
    () => parseSweepConfig(config(`{name: ${TOY_ADAPTATION}, repeats: 3}`, '[2]'), 'toy.yaml'),
    (e: unknown) => e instanceof UsageError && /budgets\[0\]: expected at least 3 \(attacks\[0\] adapts with toy-most-confident, 3 queries per image\)/.test(e.message),
  );
});
