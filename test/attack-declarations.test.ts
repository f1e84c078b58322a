/**
 * Each attack declares its parameters once (src/attacks/<attack>.ts); these tests hold the places
 * that are derived from those declarations to them: the `poison attack` flags and --help, the
 * sweep config's keys and defaults, and the table of attack keys in docs/sweep-config.md.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { attackSettingsOf } from '../src/attacks/names.js';
import type { AttackParam } from '../src/attacks/params.js';
import { attackDefinition, attackNames, attackParamTable } from '../src/attacks/registry.js';
import { UsageError } from '../src/errors.js';
import { attackParams } from '../src/sweep/config/attack-catalog.js';
import { POISON_BIN, REPO_ROOT } from './helpers/cli.js';

/** commander's attribute of a flag: `--seed-size <n>` → `seedSize`. */
function attributeOf(flag: string): string {
  return flag
    .split(' ')[0]!
    .replace(/^--/, '')
    .replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

test('every declared parameter: its flag is its key, shared keys are declared alike, the sweep takes it with the same default', () => {
  const table = attackParamTable();
  assert.ok(table.length > 0);
  for (const { param, attacks } of table) {
    assert.equal(attributeOf(param.flag), param.key, param.flag);
    for (const attack of attacks) {
      const schema = attackParams(attack).find((s) => s.key === param.key);
      assert.ok(schema, `${attack} takes ${param.key} in a sweep config`);
      assert.equal(schema.default, param.default, `${attack}.${param.key}`);
    }
  }
});

test('docs/sweep-config.md lists every attack, and every attack key with the attacks that take it and its default', () => {
  const docs = readFileSync(path.join(REPO_ROOT, 'docs/sweep-config.md'), 'utf8');
  assert.ok(docs.includes(`| \`name\` | all | required | ${attackNames().map((n) => `\`${n}\``).join(', ')} |`), 'the name row');
  const rows = docs.split('\n').filter((l) => /^\| `[a-zA-Z]+` \|/.test(l));
  for (const { param, attacks } of attackParamTable()) {
    const shown = param.default === undefined ? 'required' : param.default === null ? 'null' : typeof param.default === 'string' ? `\`${param.default}\`` : String(param.default);
    const row = rows.find((l) => l.startsWith(`| \`${param.key}\` |`));
    assert.ok(row, `docs/sweep-config.md has a row for ${param.key}`);
    assert.ok(row.startsWith(`| \`${param.key}\` | ${attacks.join(', ')} | ${shown} |`), `${row} vs the declaration (${attacks.join(', ')}, ${shown})`);
  }
});

test('poison attack --help shows each declared flag with the attacks that take it', () => {
  const r = spawnSync(process.execPath, [POISON_BIN, 'attack', '--help'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const help = r.stdout.replace(/\s+/g, ' ');
  for (const { param, attacks } of attackParamTable()) {
    assert.ok(help.includes(`${param.flag} ${attacks.join(', ')}: ${param.help}`), `${param.flag} in --help`);
  }
});

test("the generic settings bag: an attack's own parameters (bag 'attack') with defaults, checked against the declaration", () => {
  const params: AttackParam[] = [
    { key: 'queryset', flag: '--queryset <name>', bag: 'pool', kind: 'choice', choices: ['mnist'], help: 'pool' },
    { key: 'seedSize', flag: '--seed-size <n>', bag: 'jacobian', kind: 'number', range: { integer: true, min: 1 }, default: 100, help: 'seed' },
    { key: 'mode', flag: '--mode <name>', bag: 'attack', kind: 'choice', choices: ['a', 'b'], default: 'a', help: 'mode' },
    { key: 'width', flag: '--width <n>', bag: 'attack', kind: 'number', range: { integer: true, min: 2 }, default: 4, help: 'width' },
    { key: 'cap', flag: '--cap <x|none>', bag: 'attack', kind: 'number', range: { gt: 0 }, nullable: true, default: null, help: 'cap' },
  ];
  assert.deepEqual(attackSettingsOf(params, {}), { mode: 'a', width: 4, cap: null }, 'defaults; other bags left out');
  assert.deepEqual(attackSettingsOf(params, { mode: 'b', width: 7, cap: 0.5, seedSize: 3, stray: 1 }), { mode: 'b', width: 7, cap: 0.5 });
  assert.throws(() => attackSettingsOf(params, { width: 1 }), (e: unknown) => e instanceof UsageError && e.message === '--width must be ≥ 2, got 1');
  assert.throws(() => attackSettingsOf(params, { width: 2.5 }), (e: unknown) => e instanceof UsageError && /--width must be a whole number/.test(e.message));
  assert.throws(() => attackSettingsOf(params, { width: null }), (e: unknown) => e instanceof UsageError && e.message === '--width must be a number, got none');
  assert.throws(() => attackSettingsOf(params, { mode: 'c' }), (e: unknown) => e instanceof UsageError && e.message === "--mode: unknown value \"c\" (choose one of: a, b)");
  assert.throws(() => attackSettingsOf(params, { cap: '3' }), (e: unknown) => e instanceof UsageError && e.message === '--cap must be a number, got "3"');
  // Every registered attack's own settings resolve from its defaults alone, to exactly its declared defaults.
  for (const name of attackNames()) {
    const declared = attackDefinition(name).params.filter((p) => p.bag === 'attack');
    assert.deepEqual(attackSettingsOf(attackDefinition(name).params, {}), Object.fromEntries(declared.map((p) => [p.key, p.default])), name);
  }
  assert.ok(attackNames().some((name) => attackDefinition(name).params.some((p) => p.bag === 'attack')), 'some attack has settings of its own');
});
