/**
 * JBDA-TR as a user runs it: `poison attack --attack jbtr` records its own settings and spends
 * exactly each budget; its bad input is one stderr line with exit 2 and nothing written.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { AttackResult } from '../src/attack-run/result.js';
import { useVictimWorkspace } from './helpers/victim-workspace.js';

const ws = useVictimWorkspace('poison-jbtr-');

const attack = (out: string, ...extra: string[]): string[] => [
  'attack', '--victim', ws.victim, '--attack', 'jbtr', '--backend', 'wasm', '--test-limit', '50', '--epochs', '1', '--quiet',
  '--seed-size', '10', '--round-epochs', '1', '--out', path.join(ws.root, out), ...extra,
];

test('poison attack --attack jbtr: its settings in result.json, exactly B queries per budget; bad input is one stderr line', async () => {
  const r = ws.poison(attack('run', '--budget', '20,45', '--tr-steps', '3'));
  assert.equal(r.status, 0, r.stderr);
  const result = JSON.parse(await fs.readFile(path.join(ws.root, 'run', 'result.json'), 'utf8')) as AttackResult;
  assert.equal(result.attack, 'jbtr');
  assert.deepEqual(result.config.settings, { trPoints: 3, trEps: 0.1, trSteps: 3 });
  assert.deepEqual(result.runs.map((run) => run.queries), [20, 45]);

  const cases: { args: string[]; says: RegExp }[] = [
    { args: ['--budget', '30', '--tr-eps', '0'], says: /^poison: --tr-eps must be > 0, got 0$/ },
    { args: ['--budget', '30', '--tr-points', '1.5'], says: /^poison: --tr-points must be a whole number/ },
    { args: ['--budget', '30', '--lambda', '0.2'], says: /^poison: --lambda does not apply to --attack jbtr/ },
    { args: ['--budget', '5'], says: /smaller than the seed set/ },
  ];
  cases.forEach(({ args, says }, i) => {
    const bad = ws.poison(attack(`bad-${i}`, ...args));
    assert.equal(bad.status, 2, `${args.join(' ')}: ${bad.stderr}`);
    assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
    assert.match(bad.stderr.trim(), says);
    assert.equal(existsSync(path.join(ws.root, `bad-${i}`)), false);
  });
});
