/**
 * A real sweep, end to end through the attack library: a LeNet victim trained on 300 MNIST
 * images for 1 epoch, knockoff with 50 queries from the MNIST test split against none, MAD and
 * top-1, scored on 500 test images. Two runs (the first filling the posterior cache, the second
 * replaying it) give the same CSV, which matches the committed golden file; the transfer set is
 * queried from the victim exactly once.
 */
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'csv-stringify/sync';
import { VOLATILE_COLUMNS } from '../src/sweep/report/sweep-csv.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const bin = path.join(repo, 'bin/poison');
const golden = path.join(repo, 'test/fixtures/sweep/golden-real.csv');
let root: string;
let config: string;

before(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'poison-sweep-real-'));
  config = path.join(root, 'real-tiny.yaml');
  const text = await fs.readFile(path.join(repo, 'test/fixtures/sweep/real-tiny.yaml'), 'utf8');
  await fs.writeFile(config, text.replace('cacheDir: null', `cacheDir: ${JSON.stringify(path.join(root, 'cache'))}`));
});

after(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

function sweep(out: string, jobs: string): void {
  const r = spawnSync(process.execPath, [bin, 'sweep', config, '--out', out, '--jobs', jobs, '--backend', 'wasm', '--quiet'], { cwd: root, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
}

/** Rows as objects, and the CSV without timing / version columns. */
function read(csv: string): { rows: Record<string, string>[]; stable: string } {
  // No field of this sweep holds a comma or a quote, so a plain split is exact here.
  const lines = csv.trimEnd().split('\n').map((l) => l.split(','));
  const header = lines[0]!;
  const keep = header.map((h, i) => ((VOLATILE_COLUMNS as readonly string[]).includes(h) ? -1 : i)).filter((i) => i >= 0);
  return {
    rows: lines.slice(1).map((l) => Object.fromEntries(header.map((h, i) => [h, l[i] ?? '']))),
    stable: stringify(lines.map((l) => keep.map((i) => l[i] ?? '')), { record_delimiter: 'unix' }),
  };
}

async function cacheStates(out: string): Promise<string[]> {
  const runs = path.join(root, out, 'runs');
  const states: string[] = [];
  for (const id of (await fs.readdir(runs)).sort()) {
    const result = JSON.parse(await fs.readFile(path.join(runs, id, 'result.json'), 'utf8')) as { transferSet: { cache: string } };
    states.push(result.transferSet.cache);
  }
  return states.sort();
}

test('a real tiny sweep: deterministic, cached once, and equal to the golden CSV', async () => {
  sweep('first', '2');
  sweep('second', '1');
  const first = read(await fs.readFile(path.join(root, 'first', 'sweep.csv'), 'utf8'));
  const second = read(await fs.readFile(path.join(root, 'second', 'sweep.csv'), 'utf8'));
  assert.equal(second.stable, first.stable, 'the cache-filling run and the cache-replaying run agree');

  // One cell built the transfer set (the others waited for it); the second sweep only replayed it.
  assert.deepEqual(await cacheStates('first'), ['hit', 'hit', 'miss']);
  assert.deepEqual(await cacheStates('second'), ['hit', 'hit', 'hit']);

  const rows = first.rows;
  assert.deepEqual(rows.map((r) => r.defense), ['none', 'mad', 'top-k']);
  for (const r of rows) {
    assert.equal(r.backend, 'wasm');
    assert.equal(r.queries, '50');
    assert.equal(r.test_images, '500');
    assert.equal(r.query_pool, 'mnist/test');
    assert.equal(r.invariant_violations, '0');
    assert.equal(r.defender_acc_undefended, rows[0]!.defender_acc_undefended);
  }
  const [none, mad, top1] = rows as [Record<string, string>, Record<string, string>, Record<string, string>];
  assert.equal(none.defender_acc, none.defender_acc_undefended, 'no defense, no change');
  assert.equal(none.l1_mean, '0');
  assert.equal(none.error_amplification, '1');
  // MAD spends its whole L1 budget on every query (closed-form step to the chosen vertex).
  assert.ok(Math.abs(Number(mad.query_l1_mean) - 0.5) < 1e-3, `MAD query L1 ${mad.query_l1_mean}`);
  // Top-1 keeps every argmax: defender accuracy unchanged.
  assert.equal(top1.defender_acc, none.defender_acc);
  assert.equal(top1.top1_change_rate, '0');
  for (const r of [mad, top1]) {
    const expected = (1 - Number(r.attacker_acc)) / (1 - Number(none.attacker_acc));
    assert.ok(Math.abs(Number(r.error_amplification) - expected) < 1e-12);
  }

  if (process.env.POISON_UPDATE_GOLDEN === '1') await fs.writeFile(golden, first.stable);
  assert.equal(first.stable, await fs.readFile(golden, 'utf8'), 'sweep.csv differs from test/fixtures/sweep/golden-real.csv');
});
