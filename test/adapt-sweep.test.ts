/**
 * `adapt:` in a sweep config: an attack entry with an adaptation becomes cells of their own
 * (their own ids and attack label), run through the real attack library with the adaptation, the
 * CSV's attack_settings carrying the adaptation and what the attacker knows; killed cells rerun
 * (their cell files deleted) give the same CSV; a bad `adapt:` is refused before anything runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { parse } from 'csv-parse/sync';
import { VOLATILE_COLUMNS } from '../src/sweep/report/sweep-csv.js';
import { attackLabels } from '../src/sweep/plan/grid.js';
import type { AttackEntry } from '../src/sweep/config/config-types.js';
import { useVictimWorkspace } from './helpers/victim-workspace.js';

const ws = useVictimWorkspace('poison-adapt-sweep-');

const config = (adapt: string): string => `
victim: {dir: ${JSON.stringify(ws.victim)}}
attacks:
  - {name: knockoff, queryset: mnist, querysetSplit: test}
  - {name: knockoff, queryset: mnist, querysetSplit: test, adapt: ${adapt}}
defenses: {none: {}, top-k: {k: 1}}
budgets: [21]
seeds: [3]
attacker: {epochs: 1}
queryBatchSize: 8
testLimit: 100
cacheDir: null
`;

/** The CSV's rows as objects, and the CSV text without its timing / version columns. */
async function readCsv(dir: string): Promise<{ rows: Record<string, string>[]; stable: string }> {
  const text = await fs.readFile(path.join(ws.root, dir, 'sweep.csv'), 'utf8');
  const rows = parse<Record<string, string>>(text, { columns: true });
  const stable = rows
    .map((row) => Object.entries(row).filter(([c]) => !(VOLATILE_COLUMNS as readonly string[]).includes(c)).map(([c, v]) => `${c}=${v}`).join(','))
    .join('\n');
  return { rows, stable };
}

test('a sweep with an adapt: entry runs adapted cells, and a resumed sweep gives the same CSV', async () => {
  const file = path.join(ws.root, 'adapt.yaml');
  await fs.writeFile(file, config('{name: smoothing, qpi: 2}'));
  const r = ws.poison(['sweep', file, '--out', 'adapt-sweep', '--backend', 'wasm', '--quiet']);
  assert.equal(r.status, 0, r.stderr);
  const first = await readCsv('adapt-sweep');
  assert.equal(first.rows.length, 4);
  const adapted = first.rows.filter((row) => row.attack_settings!.includes('adapt=smoothing'));
  assert.equal(adapted.length, 2);
  for (const row of adapted) {
    assert.match(row.attack_settings!, /\bqpi=2\b/);
    assert.match(row.attack_settings!, /\battackerKnows=nothing\b/);
    const result = JSON.parse(await fs.readFile(path.join(ws.root, 'adapt-sweep', 'runs', row.cell_id!, 'result.json'), 'utf8')) as {
      adaptation: unknown; attackerKnows: unknown; runs: { queries: number; images: number }[];
    };
    assert.deepEqual(result.adaptation, { name: 'smoothing', settings: { qpi: 2 } });
    assert.equal(result.attackerKnows, 'nothing');
    assert.deepEqual(result.runs.map((run) => [run.queries, run.images]), [[20, 10]], 'budget 21 at 2 queries per image: 10 images, 20 queries');
  }
  const naive = first.rows.filter((row) => !row.attack_settings!.includes('adapt='));
  assert.equal(naive.length, 2);
  assert.deepEqual([...new Set(first.rows.map((row) => row.attack_label))].sort(), ['knockoff', 'knockoff + smoothing'], 'the adapted entry has its own label');

  // Kill the adapted cells (their cell files gone): the rerun computes them again, identically.
  for (const row of adapted) await fs.rm(path.join(ws.root, 'adapt-sweep', 'cells', `${row.cell_id!}.json`));
  const again = ws.poison(['sweep', file, '--out', 'adapt-sweep', '--backend', 'wasm', '--quiet']);
  assert.equal(again.status, 0, again.stderr);
  assert.equal((await readCsv('adapt-sweep')).stable, first.stable);
});

test('a bad adapt: in a sweep config is refused before anything runs, naming where it is', async () => {
  for (const [adapt, expected] of [
    ['nope', /attacks\[1\]\.adapt/],
    ['{name: smoothing, qpi: 0}', /attacks\[1\]\.adapt\.qpi/],
    ['{name: smoothing, depth: 2}', /depth/],
    ['{name: smoothing, qpi: 30}', /budgets.*at least 30 \(attacks\[1\] adapts with smoothing, 30 queries per image\)/],
  ] as const) {
    const file = path.join(ws.root, 'bad.yaml');
    await fs.writeFile(file, config(adapt));
    const r = ws.poison(['sweep', file, '--out', 'bad-sweep', '--backend', 'wasm', '--quiet']);
    assert.equal(r.status, 2, `${adapt}: ${r.stderr}`);
    assert.match(r.stderr, expected);
    assert.ok(!r.stderr.includes('    at '), r.stderr);
    await assert.rejects(fs.access(path.join(ws.root, 'bad-sweep', 'sweep.csv')));
  }
});

test('attack labels: an adapted entry says its adaptation, an oracle one is marked as an upper bound, naive labels are unchanged', () => {
  const entry = (index: number, params: AttackEntry['params']): AttackEntry => ({ name: 'knockoff', params: { labelMode: 'probs', ...params }, index, budgets: null, budgetsNode: null });
  const labels = attackLabels([
    entry(0, {}),
    entry(1, { labelMode: 'argmax' }),
    entry(2, { adapt: 'bayes', bayesSamples: 1000, bayesPrior: 'answer', concentration: 8 }),
    entry(3, { adapt: 'bayes', bayesSamples: 1000, bayesPrior: 'oracle', concentration: 8 }),
    entry(4, { adapt: 'smoothing', qpi: 3 }),
  ]);
  assert.deepEqual([...labels.entries()].sort((a, b) => a[0] - b[0]).map(([, label]) => label), [
    'knockoff (labelMode=probs)',
    'knockoff (labelMode=argmax)',
    'knockoff + bayes (bayesPrior=answer)',
    'knockoff + bayes (bayesPrior=oracle) [oracle: upper bound]',
    'knockoff + smoothing',
  ]);
});
