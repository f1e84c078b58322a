/**
 * knockoff-adaptive as a user runs it: `poison attack` with its flags (the generic 'attack'
 * settings bag) writes the settings into result.json's config, the queries per class and the
 * policy over time into queryPolicy, and policy.svg beside it; bad inputs are one stderr line
 * with exit 2; a sweep config takes the same keys, checks R ≥ b at its line, and its CSV lists them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { parse } from 'csv-parse/sync';
import { UsageError } from '../src/errors.js';
import { parseSweepConfig } from '../src/sweep/config/parse-config.js';
import { useVictimWorkspace } from './helpers/victim-workspace.js';
import type { AttackResult } from '../src/attack-run/result.js';

const ws = useVictimWorkspace('poison-adaptive-');
const { poison } = ws;

const attack = (out: string, ...extra: string[]): string[] => [
  'attack', '--victim', ws.victim, '--attack', 'knockoff-adaptive', '--queryset', 'mnist', '--queryset-split', 'test',
  '--backend', 'wasm', '--test-limit', '100', '--epochs', '1', '--quiet', '--out', path.join(ws.root, out), ...extra,
];

test('poison attack --attack knockoff-adaptive: settings in the config, queries per class and π over time in result.json, policy.svg', async () => {
  const r = poison(attack('run', '--budget', '30,70', '--bandit-batch', '8', '--refit-every', '24', '--reward', 'cert', '--div-window', '5'));
  assert.equal(r.status, 0, r.stderr);
  const result = JSON.parse(await fs.readFile(path.join(ws.root, 'run', 'result.json'), 'utf8')) as AttackResult;
  assert.equal(result.attack, 'knockoff-adaptive');
  assert.deepEqual(result.config.settings, {
    reward: 'cert', banditBatch: 8, refitEvery: 24, refitEpochs: 1, refitLr: 0.1, refitMomentum: 0.5, divWindow: 5, banditStep: null,
  });
  assert.equal(result.config.jacobian, null);
  assert.equal(result.transferSet.cache, 'off', 'an adaptive attack never replays a cache');
  const policy = result.queryPolicy;
  assert.ok(policy);
  assert.deepEqual(policy.labels, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(policy.counts.map((c) => [c.budget, c.perClass.reduce((a, b) => a + b, 0)]), [[30, 30], [70, 70]], 'ΣN = B for each budget');
  policy.counts[0]!.perClass.forEach((n, a) => assert.ok(n <= policy.counts[1]!.perClass[a]!, 'the smaller budget is a prefix'));
  assert.deepEqual(policy.policy.map((s) => s.queries), [0, 24, 48, 70]);
  for (const s of policy.policy) {
    assert.ok(Math.abs(s.pi.reduce((a, b) => a + b, 0) - 1) <= 1e-6);
    assert.ok(s.pi.every((p) => p >= 0));
  }
  assert.equal(policy.plot, 'policy.svg');
  const svg = await fs.readFile(path.join(ws.root, 'run', 'policy.svg'), 'utf8');
  assert.match(svg, /^<svg/);
  assert.match(svg, /π\(class\)/);
  assert.deepEqual(result.runs.map((run) => run.queries), [30, 70]);

  // A pool attack without a policy writes neither.
  const plain = poison(['attack', '--victim', ws.victim, '--attack', 'knockoff', '--queryset', 'mnist', '--queryset-split', 'test', '--budget', '20',
    '--backend', 'wasm', '--test-limit', '50', '--epochs', '1', '--quiet', '--no-cache', '--out', path.join(ws.root, 'plain')]);
  assert.equal(plain.status, 0, plain.stderr);
  const plainResult = JSON.parse(await fs.readFile(path.join(ws.root, 'plain', 'result.json'), 'utf8')) as AttackResult;
  assert.equal(plainResult.queryPolicy, null);
  assert.equal(plainResult.config.settings, null, 'knockoff declares no settings of its own');
  assert.equal(existsSync(path.join(ws.root, 'plain', 'policy.svg')), false);
});

test('knockoff-adaptive bad inputs: one stderr line, exit 2, nothing written', () => {
  const cases: { args: string[]; says: RegExp }[] = [
    { args: ['--budget', '50', '--bandit-batch', '32', '--refit-every', '16'], says: /^poison: --refit-every must be at least --bandit-batch \(32\), got 16$/ },
    { args: ['--budget', '50', '--bandit-batch', '0'], says: /^poison: --bandit-batch must be ≥ 1, got 0$/ },
    { args: ['--budget', '50', '--reward', 'surprise'], says: /^poison: --reward: unknown value 'surprise' \(choose one of: cert, div, loss, all\)$/ },
    { args: ['--budget', '50', '--bandit-step', '0'], says: /^poison: --bandit-step must be > 0, got 0$/ },
    { args: ['--budget', '50', '--div-window', '2.5'], says: /^poison: --div-window must be a whole number, got '2.5'$/ },
    { args: ['--budget', '10001'], says: /larger than the query pool/ },
    { args: ['--budget', '50', '--kappa', '3'], says: /^poison: --kappa does not apply to --attack knockoff-adaptive/ },
  ];
  cases.forEach(({ args, says }, i) => {
    const r = poison(attack(`bad-${i}`, ...args));
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr.trim(), says);
    assert.equal(existsSync(path.join(ws.root, `bad-${i}`)), false);
  });
  const other = poison(['attack', '--victim', ws.victim, '--attack', 'knockoff', '--queryset', 'mnist', '--refit-every', '10']);
  assert.equal(other.status, 2);
  assert.match(other.stderr, /^poison: --refit-every does not apply to --attack knockoff \(only to knockoff-adaptive\)/);
});

test('a sweep config takes its keys, reports R < b at its line, and the CSV lists its settings', async () => {
  const config = (extra: string): string => `
victim: {dir: ${JSON.stringify(ws.victim)}}
attacks:
  - {name: knockoff-adaptive, queryset: mnist, querysetSplit: test, banditBatch: 8, ${extra}}
defenses: {none: {}}
budgets: [40]
attacker: {epochs: 1}
testLimit: 50
cacheDir: null
`;
  assert.throws(
    () => parseSweepConfig(config('refitEvery: 4'), 'c.yaml'),
    (err: unknown) => err instanceof UsageError && /attacks\[0\]\.refitEvery.*at least banditBatch \(8\).*4/.test(err.message),
  );
  assert.throws(
    () => parseSweepConfig(config('reward: surprise'), 'c.yaml'),
    (err: unknown) => err instanceof UsageError && /attacks\[0\]\.reward.*one of cert, div, loss, all/.test(err.message),
  );
  await fs.writeFile(path.join(ws.root, 'adaptive.yaml'), config('refitEvery: 16, reward: div'));
  const r = poison(['sweep', 'adaptive.yaml', '--out', 'adaptive-sweep', '--backend', 'wasm', '--quiet']);
  assert.equal(r.status, 0, r.stderr);
  const rows: Record<string, string>[] = parse(await fs.readFile(path.join(ws.root, 'adaptive-sweep', 'sweep.csv'), 'utf8'), { columns: true });
  assert.equal(rows.length, 1);
  assert.equal(rows[0]!.attack, 'knockoff-adaptive');
  assert.equal(
    rows[0]!.attack_settings,
    'banditBatch=8 banditStep=null divWindow=100 refitEpochs=1 refitEvery=16 refitLr=0.1 refitMomentum=0.5 reward=div',
  );
});
