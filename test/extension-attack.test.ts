/**
 * A new attack is one file: a toy attack declared in test/helpers/toy-attack.ts, registered
 * through POISON_EXTENSION_MODULES (production names no such module), runs through
 * `poison attack` and a real sweep, its flags come from its declaration, and without the
 * variable the same name is refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { EXTENSIONS_ENV } from '../src/extensions.js';
import { useVictimWorkspace } from './helpers/victim-workspace.js';
import { TOY_ATTACK, TOY_ATTACK_MODULE, TOY_SOURCE_ATTACK } from './helpers/toy-attack.js';

const ws = useVictimWorkspace('poison-extension-');
const { poison } = ws;
const withToy = { ...process.env, [EXTENSIONS_ENV]: TOY_ATTACK_MODULE };

test('poison attack runs the toy attack from its one file; without the extension the name is refused', async () => {
  const out = path.join(ws.root, 'toy-run');
  const args = ['attack', '--victim', ws.victim, '--attack', TOY_ATTACK, '--queryset', 'mnist', '--queryset-split', 'test', '--budget', '30',
    '--backend', 'wasm', '--test-limit', '100', '--epochs', '1', '--quiet', '--no-cache', '--out', out];
  const r = poison(args, withToy);
  assert.equal(r.status, 0, r.stderr);
  const result = JSON.parse(await fs.readFile(path.join(out, 'result.json'), 'utf8')) as { attack: string; runs: { budget: number }[]; config: { queryset: unknown; jacobian: unknown } };
  assert.equal(result.attack, TOY_ATTACK);
  assert.deepEqual(result.runs.map((run) => run.budget), [30]);
  assert.deepEqual(result.config.queryset, { dataset: 'mnist', split: 'test', dir: null });
  assert.equal(result.config.jacobian, null, 'a pool attack records no Jacobian settings');

  const help = poison(['attack', '--help'], withToy);
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout.replace(/\s+/g, ' '), new RegExp(`--queryset <name> knockoff, (?:[a-z-]+, )*${TOY_ATTACK}:`));

  const refused = poison(args.map((a) => (a === out ? path.join(ws.root, 'refused') : a)));
  assert.equal(refused.status, 2);
  assert.match(refused.stderr, new RegExp(`^poison: --attack: unknown value '${TOY_ATTACK}'`));
  assert.equal(refused.stderr.trim().split('\n').length, 1, refused.stderr);

  const badModule = poison(['attack', '--help'], { ...process.env, [EXTENSIONS_ENV]: path.join(ws.root, 'no-such.js') });
  assert.equal(badModule.status, 2);
  assert.match(badModule.stderr, /^poison: POISON_EXTENSION_MODULES: cannot load .*no-such\.js/);
});

test('poison attack runs an attack that brings its own query source (the victim test split), recorded as it declares', async () => {
  const out = path.join(ws.root, 'toy-source');
  const r = poison(['attack', '--victim', ws.victim, '--attack', TOY_SOURCE_ATTACK, '--budget', '30', '--backend', 'wasm', '--test-limit', '100', '--epochs', '1',
    '--quiet', '--no-cache', '--out', out], withToy);
  assert.equal(r.status, 0, r.stderr);
  const result = JSON.parse(await fs.readFile(path.join(out, 'result.json'), 'utf8')) as { querySource: { kind: string; split: string }; config: { queryset: unknown } };
  assert.equal(result.querySource.kind, 'victim-test');
  assert.equal(result.querySource.split, 'test');
  assert.equal(result.config.queryset, null, 'its source records no query pool settings');
});

test('a sweep runs the toy attack through its workers', async () => {
  const config = path.join(ws.root, 'toy.yaml');
  await fs.writeFile(config, `
victim: {dir: ${JSON.stringify(ws.victim)}}
attacks:
  - {name: ${TOY_ATTACK}, queryset: mnist, querysetSplit: test}
defenses: {none: {}, top-k: {k: 1}}
budgets: [30]
attacker: {epochs: 1}
testLimit: 100
cacheDir: null
`);
  const r = poison(['sweep', config, '--out', 'toy-sweep', '--backend', 'wasm', '--quiet'], withToy);
  assert.equal(r.status, 0, r.stderr);
  const csv = await fs.readFile(path.join(ws.root, 'toy-sweep', 'sweep.csv'), 'utf8');
  const [header, ...rows] = csv.trimEnd().split('\n');
  const attackColumn = header!.split(',').indexOf('attack');
  assert.equal(rows.length, 2);
  for (const row of rows) assert.equal(row.split(',')[attackColumn], TOY_ATTACK);
});
