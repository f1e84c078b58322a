/**
 * Sweeps reuse work across budgets, with the real attack library: a sweep over budgets [30, 45]
 * runs the query phase once per group (knockoff: once per transfer set; JBDA: once per defense
 * point), up to 45, and serves 30 from its prefix, yet every row equals the row of a sweep that
 * ran that budget alone (timing columns aside). Killed cells (cell files deleted) are rerun from
 * one query phase and give the same rows again. Queries are sent in batches of 8, so the
 * prefixes end inside a batch and inside a Jacobian round.
 */
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse/sync';
import { VOLATILE_COLUMNS } from '../src/sweep/report/sweep-csv.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const bin = path.join(repo, 'bin/poison');
let root: string;

const CONFIG = (budgets: string): string => `
victim:
  train: {dataset: mnist, arch: lenet, epochs: 1, limit: 300, seed: 7}
attacks:
  - {name: knockoff, queryset: mnist, querysetSplit: test}
  - {name: jbda, seedSize: 10, roundEpochs: 1}
defenses:
  none: {}
  mad: {eps: [0.5]}
  random-noise: {noiseEps: [1.0]}
budgets: ${budgets}
seeds: [3]
attacker: {epochs: 1}
queryBatchSize: 8
testLimit: 100
`;

before(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'poison-sweep-reuse-'));
});

after(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

/** Run a sweep of these budgets into root/<name> with its own cache; its rows by cell id, timing columns dropped. */
async function sweep(name: string, budgets: string, jobs = '1'): Promise<Map<string, string>> {
  const config = path.join(root, `${name}.yaml`);
  await fs.writeFile(config, CONFIG(budgets));
  const args = [bin, 'sweep', config, '--out', name, '--cache-dir', `${name}-cache`, '--jobs', jobs, '--backend', 'wasm', '--quiet'];
  const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const [header, ...rows] = parse(await fs.readFile(path.join(root, name, 'sweep.csv'), 'utf8'));
  const columns: string[] = header ?? [];
  const kept = columns.map((c, i) => ((VOLATILE_COLUMNS as readonly string[]).includes(c) ? -1 : i)).filter((i) => i >= 0);
  return new Map(rows.map((row: string[]): [string, string] => [row[columns.indexOf('cell_id')] ?? '', kept.map((i) => `${columns[i]}=${row[i]}`).join(',')]));
}

interface RunSummary {
  attack: string;
  defense: string;
  budget: number;
  cache: string;
  victimQueryBatches: number;
}

async function runs(name: string): Promise<RunSummary[]> {
  const dir = path.join(root, name, 'runs');
  const out: RunSummary[] = [];
  for (const id of await fs.readdir(dir)) {
    const result = JSON.parse(await fs.readFile(path.join(dir, id, 'result.json'), 'utf8')) as {
      attack: string;
      defense: { name: string };
      runs: { budget: number }[];
      transferSet: { cache: string; victimQueryBatches: number };
    };
    out.push({ attack: result.attack, defense: result.defense.name, budget: result.runs[0]!.budget, ...result.transferSet });
  }
  return out;
}

test('budgets [30, 45] in one sweep: one query phase per group, rows identical to sweeps of [30] and [45] alone', async () => {
  const both = await sweep('both', '[30, 45]', '2');
  const alone = new Map([...(await sweep('only-30', '[30]')), ...(await sweep('only-45', '[45]'))]);
  assert.equal(both.size, 12);
  assert.deepEqual([...both.keys()].sort(), [...alone.keys()].sort(), 'the same cells');
  for (const [id, row] of both) assert.equal(row, alone.get(id), `cell ${id} changed when its query phase was shared`);

  const all = await runs('both');
  // Knockoff: the undefended cell of the first budget fills the transfer set up to 45 (6 batches of 8); everything else replays it.
  const knockoff = all.filter((r) => r.attack === 'knockoff');
  assert.deepEqual(knockoff.filter((r) => r.cache === 'miss').map((r) => [r.budget, r.victimQueryBatches]), [[30, 6]]);
  assert.equal(knockoff.filter((r) => r.cache === 'hit' && r.victimQueryBatches === 0).length, 5);
  // JBDA: per defense point, one cell queries the victim (up to 45) and the other budget replays it.
  const jbda = all.filter((r) => r.attack === 'jbda');
  for (const defense of ['none', 'mad', 'random-noise']) {
    const group = jbda.filter((r) => r.defense === defense);
    assert.deepEqual(group.map((r) => r.cache).sort(), ['hit', 'miss'], defense);
    assert.ok(group.find((r) => r.cache === 'miss')!.victimQueryBatches > 0);
    assert.equal(group.find((r) => r.cache === 'hit')!.victimQueryBatches, 0);
  }
  // The separate sweeps query the victim for every JBDA cell.
  assert.ok((await runs('only-30')).filter((r) => r.attack === 'jbda').every((r) => r.cache === 'miss' && r.victimQueryBatches > 0));
  // A group's stored queries are deleted once all its cells are finished.
  assert.deepEqual(await fs.readdir(path.join(root, 'both', 'queries')), []);

  // Two cells of one JBDA group lost (as if killed before their cell files were written): the
  // rerun runs exactly those two, from one query phase, and writes the same rows.
  const byBudget = new Map<number, string>();
  for (const id of await fs.readdir(path.join(root, 'both', 'runs'))) {
    const result = JSON.parse(await fs.readFile(path.join(root, 'both', 'runs', id, 'result.json'), 'utf8')) as { attack: string; defense: { name: string }; runs: { budget: number }[] };
    if (result.attack === 'jbda' && result.defense.name === 'mad') byBudget.set(result.runs[0]!.budget, id);
  }
  assert.equal(byBudget.size, 2);
  for (const id of byBudget.values()) await fs.rm(path.join(root, 'both', 'cells', `${id}.json`));
  const started = Date.now();
  const rerun = await sweep('both', '[30, 45]');
  assert.deepEqual(rerun, both);
  const rerunRuns = (await runs('both')).filter((r) => r.attack === 'jbda' && r.defense === 'mad');
  assert.deepEqual(rerunRuns.map((r) => r.cache).sort(), ['hit', 'miss']);
  // Only the two lost cells ran: every other run directory is older than the rerun.
  for (const id of await fs.readdir(path.join(root, 'both', 'runs'))) {
    const mtime = (await fs.stat(path.join(root, 'both', 'runs', id, 'result.json'))).mtimeMs;
    assert.equal(mtime >= started, [...byBudget.values()].includes(id), `run ${id}`);
  }
});
