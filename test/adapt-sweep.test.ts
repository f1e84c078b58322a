/**
 * `adapt:` in a sweep config: an attack entry with an adaptation becomes cells of their own
 * (their own ids and attack label), run through the real attack library with the adaptation, the
 * CSV's attack_settings carrying the adaptation and what the attacker knows; killed cells rerun
 * (their cell files deleted) give the same CSV; a bad `adapt:` is refused before anything runs.
 * With the fake runner: shards (i/n, and --shard auto array tasks pulling cells) give the
 * unsharded CSV, and the summary and plots say what each attacker knew, an oracle one marked as
 * the upper bound it is.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { parse } from 'csv-parse/sync';
import { VOLATILE_COLUMNS } from '../src/sweep/report/sweep-csv.js';
import { attackLabels } from '../src/sweep/plan/grid.js';
import type { AttackEntry } from '../src/sweep/config/config-types.js';
import { threatModelLine, threatModelOf, UPPER_BOUND_MARK } from '../src/adaptations/threat-model.js';
import { POISON_BIN } from './helpers/cli.js';
import { FAKE_RUNNER } from './helpers/fake-runner.js';
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
  const file = await fs.readFile(path.join(ws.root, dir, 'sweep.csv'), 'utf8');
  // A fake runner's CSV starts with a '#' line saying so, above the header.
  const text = file.startsWith('#') ? file.slice(file.indexOf('\n') + 1) : file;
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
  const entry = (index: number, params: AttackEntry['params']): AttackEntry => ({ name: 'knockoff', params: { labelMode: 'probs', ...params }, index, budgets: null, budgetsNode: null, defenses: null });
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

test('threat model line: naive, adapted with what the attacker knows, an oracle one marked as an upper bound', () => {
  assert.match(threatModelLine(threatModelOf(null)), /^naive attacker \(no adaptation/);
  const smoothing = threatModelOf({ name: 'smoothing', settings: { qpi: 3 } });
  assert.equal(smoothing.upperBound, false);
  assert.equal(threatModelLine(smoothing), 'adapts with smoothing (qpi=3); attackerKnows nothing (nothing of the defense)');
  const answer = threatModelLine(threatModelOf({ name: 'bayes', settings: { bayesSamples: 1000, bayesPrior: 'answer', concentration: 8 } }));
  assert.match(answer, /^adapts with bayes \(bayesSamples=1000, bayesPrior=answer, concentration=8\); attackerKnows defense-params /);
  assert.ok(!answer.includes(UPPER_BOUND_MARK), answer);
  const oracle = threatModelOf({ name: 'bayes', settings: { bayesSamples: 1000, bayesPrior: 'oracle', concentration: 8 } });
  assert.equal(oracle.upperBound, true);
  assert.match(threatModelLine(oracle), /attackerKnows oracle \(.*no real attacker has\) \(oracle: upper bound\)$/);
});

/** A fake-runner sweep (no training): naive, smoothing, a realistic and an oracle bayes attacker, and JBDA with smoothing. */
const FAKE_CONFIG = `
victim:
  train: {dataset: mnist, arch: lenet, epochs: 1, limit: 300, seed: 1}
attacks:
  - {name: knockoff, queryset: emnist-letters}
  - {name: knockoff, queryset: emnist-letters, adapt: {name: smoothing, qpi: 2}}
  - {name: knockoff, queryset: emnist-letters, adapt: {name: bayes, bayesPrior: answer}}
  - {name: knockoff, queryset: emnist-letters, adapt: {name: bayes, bayesPrior: oracle}}
  - {name: jbda, seedSize: 10, roundEpochs: 1, adapt: smoothing}
defenses:
  none: {}
  mad: {eps: [0.5, 1.0]}
budgets: [100]
seeds: [1, 2]
attacker: {epochs: 2}
`;
const FAKE_CELLS = 5 * 3 * 2;
/** No job-array variables from the machine the suite runs on. */
const NO_ARRAY: NodeJS.ProcessEnv = { ...FAKE_RUNNER, SLURM_ARRAY_TASK_ID: '', JOB_COMPLETION_INDEX: '', AWS_BATCH_JOB_ARRAY_INDEX: '' };

async function fakeSweep(): Promise<string> {
  const file = path.join(ws.root, 'fake-adapt.yaml');
  await fs.writeFile(file, FAKE_CONFIG);
  if (!(await fs.access(path.join(ws.root, 'fake-whole', 'sweep.csv')).then(() => true, () => false))) {
    const r = ws.poison(['sweep', file, '--out', 'fake-whole', '--jobs', '2', '--quiet'], { ...process.env, ...NO_ARRAY });
    assert.equal(r.status, 0, r.stderr);
  }
  return file;
}

test('shards with adapt: cells: --shard 1/2 then 2/2, and two --shard auto array tasks pulling cells, give the unsharded CSV', async () => {
  const file = await fakeSweep();
  const whole = await readCsv('fake-whole');
  assert.equal(whole.rows.length, FAKE_CELLS);
  // The fake runner spends an adaptation's queries per image, as the real one: 100 queries at qpi 2 or 3.
  const queriesOf = (label: string): string[] => [...new Set(whole.rows.filter((row) => row.attack_label === label).map((row) => row.queries!))];
  assert.deepEqual(queriesOf('knockoff + smoothing'), ['100']);
  assert.deepEqual(queriesOf('jbda + smoothing'), ['99']);
  assert.deepEqual(queriesOf('knockoff'), ['100']);

  for (const i of [1, 2]) {
    const r = ws.poison(['sweep', file, '--out', 'fake-sharded', '--shard', `${i}/2`, '--jobs', '1', '--quiet'], { ...process.env, ...NO_ARRAY });
    assert.equal(r.status, 0, r.stderr);
  }
  assert.equal((await readCsv('fake-sharded')).stable, whole.stable, 'shards 1/2 and 2/2');

  const task = (i: number): Promise<{ code: number | null; stderr: string }> =>
    new Promise((resolve) => {
      const env = { ...process.env, ...NO_ARRAY, SLURM_ARRAY_TASK_ID: String(i), SLURM_ARRAY_TASK_COUNT: '2', POISON_SWEEP_FAKE_DELAY_MS: '50' };
      const child = spawn(process.execPath, [POISON_BIN, 'sweep', file, '--out', 'fake-pulled', '--shard', 'auto', '--jobs', '1'], { cwd: ws.root, env });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.stdout.resume();
      child.on('exit', (code) => resolve({ code, stderr }));
    });
  const tasks = await Promise.all([task(1), task(2)]);
  for (const t of tasks) assert.equal(t.code, 0, t.stderr);
  const ran = tasks.flatMap((t) => [...t.stderr.matchAll(/^\[\d+\/\d+\] ([0-9a-f]{12}) /gm)].map((m) => m[1]!));
  assert.equal(new Set(ran).size, FAKE_CELLS, 'every cell pulled exactly once between the two tasks');
  assert.equal(ran.length, FAKE_CELLS);
  assert.equal((await readCsv('fake-pulled')).stable, whole.stable, 'two --shard auto tasks');
});

test('summary and plots say what each attacker knew; an oracle attacker is marked as an upper bound, a realistic one is not', async () => {
  await fakeSweep();
  const out = path.join(ws.root, 'fake-whole');
  const summary = await fs.readFile(path.join(out, 'summary.md'), 'utf8');
  const section = (heading: string): string => {
    const start = summary.indexOf(`## ${heading}, budget 100\n`);
    assert.ok(start >= 0, `a section for ${heading}`);
    const end = summary.indexOf('\n## ', start + 1);
    return summary.slice(start, end < 0 ? undefined : end);
  };
  assert.match(section('knockoff'), /\nAttacker: naive attacker \(no adaptation/);
  assert.match(section('knockoff + smoothing'), /\nAttacker: adapts with smoothing \(qpi=2\); attackerKnows nothing /);
  const realistic = section('knockoff + bayes (bayesPrior=answer)');
  assert.match(realistic, /attackerKnows defense-params/);
  const oracle = section('knockoff + bayes (bayesPrior=oracle) [oracle: upper bound]');
  assert.match(oracle, /attackerKnows oracle .*\(oracle: upper bound\)/);
  assert.match(oracle, /\| defense \| defender within 1 pt: lowest attacker acc \(oracle: upper bound\) \|/);
  for (const s of [section('knockoff'), section('knockoff + smoothing'), realistic, section('jbda + smoothing')]) assert.ok(!s.includes(UPPER_BOUND_MARK), s);

  const plots = (await fs.readdir(path.join(out, 'plots'))).sort();
  assert.deepEqual(plots, [
    'jbda-smoothing-b100.svg', 'knockoff-b100.svg', 'knockoff-bayes-bayesprior-answer-b100.svg',
    'knockoff-bayes-bayesprior-oracle-oracle-upper-bound-b100.svg', 'knockoff-smoothing-b100.svg',
  ]);
  const svg = (name: string): Promise<string> => fs.readFile(path.join(out, 'plots', name), 'utf8');
  const oracleSvg = await svg('knockoff-bayes-bayesprior-oracle-oracle-upper-bound-b100.svg');
  // The legend names each defense line as an upper bound, and the lines are dashed.
  assert.ok(oracleSvg.includes(`>mad ${UPPER_BOUND_MARK}</text>`), 'legend entry marked');
  const dashedLines = (text: string): number => [...text.matchAll(/<g class="mark-line role-mark[^"]*"[^>]*>(.*?)<\/g>/gs)].filter((m) => /stroke-dasharray="7,3"/.test(m[1]!)).length;
  assert.equal(dashedLines(oracleSvg), 2, 'the defense lines of both panels are dashed');
  for (const name of ['knockoff-b100.svg', 'knockoff-smoothing-b100.svg', 'knockoff-bayes-bayesprior-answer-b100.svg', 'jbda-smoothing-b100.svg']) {
    const text = await svg(name);
    assert.ok(!text.includes('upper bound'), `${name} is not marked`);
    assert.ok(text.includes('>mad</text>'), `${name}: the legend names the defense plainly`);
    assert.equal(dashedLines(text), 0, `${name}: solid lines`);
  }
});
