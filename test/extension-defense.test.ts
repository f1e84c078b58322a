/**
 * A new defense is one file: a toy defense declared in test/helpers/toy-defense.ts, registered
 * through POISON_EXTENSION_MODULES (production names no such module), runs through `poison eval`,
 * `poison attack` and a real sweep; its flag and operating axis come from its declaration; its
 * prepare() runs before create() (and once per spec in a sweep, as a worker's task ahead of its
 * cells); without the variable the same name is refused. Also: the registry's rules for a declaration.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { parse } from 'csv-parse/sync';
import { UsageError } from '../src/errors.js';
import { EXTENSIONS_ENV } from '../src/extensions.js';
import type { DefenseDefinition } from '../src/defenses/definition.js';
import { flagHelp, operatingAxis, parseDefenseSpec } from '../src/defenses/params.js';
import { defenseFlags, registerDefense } from '../src/defenses/registry.js';
import { describeDefense, defenseSlug } from '../src/defenses/spec.js';
import { useVictimWorkspace } from './helpers/victim-workspace.js';
import { TOY_DEFENSE, TOY_DEFENSE_MODULE, TOY_PREPARE_LOG } from './helpers/toy-defense.js';

const ws = useVictimWorkspace('poison-extension-defense-');
const { poison } = ws;
const withToy = { ...process.env, [EXTENSIONS_ENV]: TOY_DEFENSE_MODULE };

async function prepareLog(dir: string): Promise<string[]> {
  return (await fs.readFile(path.join(dir, TOY_PREPARE_LOG), 'utf8').catch(() => '')).split('\n').filter((l) => l !== '');
}

test('poison eval and poison attack run the toy defense from its one file, prepared first; without the extension the name is refused', async () => {
  const out = path.join(ws.root, 'toy-eval');
  const evalArgs = ['eval', '--victim', ws.victim, '--defense', TOY_DEFENSE, '--toy-temperature', '3', '--test-limit', '50', '--backend', 'wasm', '--quiet', '--out', out];
  const r = poison(evalArgs, withToy);
  assert.equal(r.status, 0, r.stderr);
  const report = JSON.parse(await fs.readFile(path.join(out, 'eval.json'), 'utf8')) as { defense: { description: string; spec: unknown }; results: { queries: number; l1: { mean: number } } };
  assert.deepEqual(report.defense.spec, { name: TOY_DEFENSE, temperature: 3 });
  assert.equal(report.defense.description, `${TOY_DEFENSE}(toy-temperature=3)`);
  assert.equal(report.results.queries, 50);
  assert.ok(report.results.l1.mean > 0, 'T = 3 changes the released posteriors');
  assert.deepEqual(await prepareLog(ws.victim), ['3 built']);

  const attackOut = path.join(ws.root, 'toy-attack');
  const a = poison(['attack', '--victim', ws.victim, '--defense', TOY_DEFENSE, '--toy-temperature', '3', '--queryset', 'mnist', '--queryset-split', 'test',
    '--budget', '30', '--backend', 'wasm', '--test-limit', '50', '--epochs', '1', '--quiet', '--no-cache', '--out', attackOut], withToy);
  assert.equal(a.status, 0, a.stderr);
  const result = JSON.parse(await fs.readFile(path.join(attackOut, 'result.json'), 'utf8')) as { defense: { name: string; temperature: number }; runs: { budget: number }[] };
  assert.equal(result.defense.name, TOY_DEFENSE);
  assert.equal(result.defense.temperature, 3);
  assert.deepEqual(result.runs.map((run) => run.budget), [30]);
  assert.deepEqual(await prepareLog(ws.victim), ['3 built', '3 found'], 'prepare() is idempotent: the second run finds its marker');

  // The default output directory is named by the derived slug.
  const byDefault = poison(['eval', '--victim', ws.victim, '--defense', TOY_DEFENSE, '--test-limit', '20', '--backend', 'wasm', '--quiet'], withToy);
  assert.equal(byDefault.status, 0, byDefault.stderr);
  await fs.access(path.join(ws.root, 'results', 'eval', `victim-${TOY_DEFENSE}-toy-temperature1-s1`, 'eval.json'));

  for (const command of ['eval', 'attack']) {
    const help = poison([command, '--help'], withToy);
    assert.equal(help.status, 0, help.stderr);
    const text = help.stdout.replace(/\s+/g, ' ');
    assert.ok(text.includes(`--toy-temperature <t> ${TOY_DEFENSE}: temperature T in (0, 100] (default 1)`), `${command} --help: ${text}`);
    assert.ok(text.includes(`, ${TOY_DEFENSE})`), `${command} --help lists the defense`);
  }

  const bad = poison([...evalArgs.slice(0, -1), path.join(ws.root, 'bad')].map((x) => (x === '3' ? '0' : x)), withToy);
  assert.equal(bad.status, 2);
  assert.equal(bad.stderr, 'poison: --toy-temperature must be > 0, got 0\n');

  const refused = poison(['eval', '--victim', ws.victim, '--defense', TOY_DEFENSE, '--backend', 'wasm', '--out', path.join(ws.root, 'refused')]);
  assert.equal(refused.status, 2);
  assert.match(refused.stderr, new RegExp(`^poison: --defense: unknown value '${TOY_DEFENSE}'`));
  assert.equal(refused.stderr.trim().split('\n').length, 1, refused.stderr);
});

test('a sweep prepares the toy defense once per spec before its cells, then runs them with the declared operating axis', async () => {
  // A copy of the victim, so this sweep's prepare log holds only its own calls.
  const sweepVictim = path.join(ws.root, 'sweep-victim');
  await fs.cp(ws.victim, sweepVictim, { recursive: true, filter: (src) => !path.basename(src).startsWith('toy-temper') });
  const config = path.join(ws.root, 'toy-defense.yaml');
  await fs.writeFile(config, `
victim: {dir: ${JSON.stringify(sweepVictim)}}
attacks:
  - {name: knockoff, queryset: mnist, querysetSplit: test}
defenses: {${TOY_DEFENSE}: {toy-temperature: [2, 4]}}
budgets: [20, 30]
attacker: {epochs: 1}
testLimit: 50
cacheDir: null
`);
  const r = poison(['sweep', config, '--out', 'toy-defense-sweep', '--backend', 'wasm', '--jobs', '2', '--quiet'], withToy);
  assert.equal(r.status, 0, r.stderr);
  // One build per distinct spec, by a prepare task, before any of its cells; each cell's worker then finds it.
  const log = await prepareLog(sweepVictim);
  for (const t of ['2', '4']) assert.deepEqual(log.filter((l) => l.startsWith(`${t} `)), [`${t} built`, `${t} found`, `${t} found`], log.join(', '));
  const rows: Record<string, string>[] = parse(await fs.readFile(path.join(ws.root, 'toy-defense-sweep', 'sweep.csv'), 'utf8'), { columns: true, comment: '#' });
  assert.equal(rows.length, 6, 'none and two temperatures at two budgets');
  const toyRows = rows.filter((row) => row.defense === TOY_DEFENSE);
  assert.equal(toyRows.length, 4);
  for (const row of toyRows) {
    assert.equal(row.defense_param, 'toy-temperature');
    assert.equal(row.defense_settings, `temperature=${row.defense_value}`);
  }
  assert.deepEqual([...new Set(toyRows.map((row) => row.defense_value))].sort(), ['2', '4']);

  // A rerun finds every cell done: nothing to prepare.
  const again = poison(['sweep', config, '--out', 'toy-defense-sweep', '--backend', 'wasm', '--quiet'], withToy);
  assert.equal(again.status, 0, again.stderr);
  assert.equal((await prepareLog(sweepVictim)).length, 6);
});

test('the registry: duplicates refused; a key shared with different ranges is validated by each defense its own way', () => {
  const budget: DefenseDefinition = {
    name: 'toy-budget',
    summary: 'a stand-in with an L1 budget in [0, 2] under the key MAD uses for its own ε',
    params: [{ key: 'eps', field: 'budget', flag: '--eps <x>', kind: 'number', range: { min: 0, max: 2 }, help: 'L1 budget in [0, 2]' }],
    operatingAxis: 'eps',
    drawsRandomness: () => false,
    sideInfoIdentity: () => null,
    create: () => Promise.reject(new Error('not run here')),
  };
  registerDefense(budget);
  assert.throws(() => registerDefense(budget), (err: unknown) => err instanceof UsageError && /defense 'toy-budget' is registered twice/.test(err.message));
  assert.throws(
    () => registerDefense({ ...budget, name: 'toy-other-flag', params: [{ ...budget.params[0]!, flag: '--eps <n>' }] }),
    (err: unknown) => err instanceof UsageError && /differs from '--eps <x>'/.test(err.message),
  );
  assert.throws(() => registerDefense({ ...budget, name: 'toy-bad-axis', operatingAxis: 'beta' }), /operating axis 'beta'/);

  assert.deepEqual(parseDefenseSpec('toy-budget', { eps: '1.5' }), { name: 'toy-budget', budget: 1.5 });
  assert.throws(() => parseDefenseSpec('toy-budget', { eps: '3' }), (err: unknown) => err instanceof UsageError && err.message === '--eps must be ≤ 2, got 3');
  assert.throws(() => parseDefenseSpec('toy-budget', {}), /defense 'toy-budget' needs --eps \(L1 budget in \[0, 2\]\)/);
  assert.equal(parseDefenseSpec('mad', { eps: '3' }).eps, 3, "MAD's own declaration of --eps has no upper bound");
  const eps = defenseFlags().find((f) => f.key === 'eps');
  assert.ok(eps);
  const help = flagHelp(eps);
  assert.ok(help.startsWith('mad, mad-argmax: budget ε ≥ 0 on ‖ỹ − y‖ (default 0.5); '), help);
  assert.ok(help.endsWith('; toy-budget: L1 budget in [0, 2] (required)'), help);
  assert.deepEqual(operatingAxis('toy-budget'), { key: 'eps', field: 'budget' });
  const spec = parseDefenseSpec('toy-budget', { eps: '0.25' });
  assert.equal(describeDefense(spec), 'toy-budget(eps=0.25)');
  assert.equal(defenseSlug(spec), 'toy-budget-eps0.25');
});
