/**
 * The store of adaptive query phases (src/attack-run/query-store.ts): an entry reads back
 * exactly, any prefix of it alone; an entry without its header (a killed write) is absent; an
 * entry that is not what its name says, or too short, is refused. And an attack that cannot serve
 * prefixes is never asked to: `poison attack` refuses several budgets for it.
 */
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RuntimeFailure, UsageError } from '../src/errors.js';
import { loadStoredQueries, storeQueries } from '../src/attack-run/query-store.js';
import { runAttack } from '../src/attack-run/run.js';
import { registerAttack } from '../src/attacks/registry.js';
import { jbda } from '../src/attacks/jbda.js';
import { JACOBIAN_DEFAULTS } from '../src/attacks/names.js';

let root: string;

before(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'poison-query-store-'));
});

after(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

const IMAGE = 6;
const K = 3;
const ROWS = 5;

function filled(n: number, scale: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.fround(scale * Math.sin(i + 1)));
}

test('an entry reads back exactly, and any prefix of it alone', async () => {
  const identity = { identity: { attack: 'jbda', seed: 1, queries: ROWS }, inputs: [] };
  const pixels = filled(ROWS * IMAGE, 1);
  const clean = filled(ROWS * K, 2);
  const released = filled(ROWS * K, 3);
  assert.equal(await loadStoredQueries(root, identity, ROWS, IMAGE, K), null, 'nothing stored yet');
  const dir = await storeQueries(root, identity, { count: ROWS, images: { kind: 'pixels', pixels }, clean, released }, IMAGE, K);
  const all = await loadStoredQueries(root, identity, ROWS, IMAGE, K);
  assert.ok(all);
  assert.equal(all.dir, dir);
  assert.deepEqual(all.images, { kind: 'pixels', pixels });
  assert.deepEqual([all.clean, all.released], [clean, released]);
  const prefix = await loadStoredQueries(root, identity, 2, IMAGE, K);
  assert.ok(prefix);
  assert.equal(prefix.count, 2);
  assert.deepEqual(prefix.images, { kind: 'pixels', pixels: pixels.slice(0, 2 * IMAGE) });
  assert.deepEqual([prefix.clean, prefix.released], [clean.slice(0, 2 * K), released.slice(0, 2 * K)]);

  // Query-pool images are kept as indices.
  const poolIdentity = { identity: { ...identity.identity, attack: 'pool-attack' }, inputs: [] };
  const indices = Int32Array.from([9, 4, 7, 0, 2]);
  await storeQueries(root, poolIdentity, { count: ROWS, images: { kind: 'pool', indices }, clean, released }, IMAGE, K);
  assert.deepEqual((await loadStoredQueries(root, poolIdentity, 3, IMAGE, K))?.images, { kind: 'pool', indices: indices.slice(0, 3) });
  assert.equal((await loadStoredQueries(root, poolIdentity, 3, IMAGE, K))?.policy, undefined, 'no policy stored, none read');

  // A policy-driven pool attack's trace travels with its queries, cut to the prefix: the first
  // actions, and the snapshots taken by then (so a replayed budget reports its own queryPolicy).
  const policyIdentity = { identity: { ...identity.identity, attack: 'bandit' }, inputs: [] };
  const policy = {
    labels: [1, 2, 3],
    actions: Int32Array.from([0, 2, 2, 1, 0]),
    snapshots: [{ queries: 0, policy: [1 / 3, 1 / 3, 1 / 3] }, { queries: 2, policy: [0.2, 0.3, 0.5] }, { queries: 5, policy: [0.1, 0.2, 0.7] }],
  };
  await storeQueries(root, policyIdentity, { count: ROWS, images: { kind: 'pool', indices }, clean, released, policy }, IMAGE, K);
  assert.deepEqual((await loadStoredQueries(root, policyIdentity, ROWS, IMAGE, K))?.policy, policy);
  assert.deepEqual((await loadStoredQueries(root, policyIdentity, 3, IMAGE, K))?.policy, {
    labels: [1, 2, 3],
    actions: Int32Array.from([0, 2, 2]),
    snapshots: policy.snapshots.slice(0, 2),
  });

  await assert.rejects(loadStoredQueries(root, identity, ROWS + 1, IMAGE, K), RuntimeFailure, 'more rows than stored');
  await assert.rejects(loadStoredQueries(root, identity, ROWS, IMAGE, K + 1), RuntimeFailure, 'another class count');
  // A header that names other settings than the entry's key.
  const header = path.join(dir, 'header.json');
  const text = await fs.readFile(header, 'utf8');
  await fs.writeFile(header, text.replace('"seed": 1', '"seed": 2'));
  await assert.rejects(loadStoredQueries(root, identity, ROWS, IMAGE, K), RuntimeFailure);
  // A data file cut short.
  await fs.writeFile(header, text);
  await fs.truncate(path.join(dir, 'clean.f32'), 8);
  await assert.rejects(loadStoredQueries(root, identity, 1, IMAGE, K), RuntimeFailure);
  // A write killed before its header: no entry.
  await fs.rm(header);
  assert.equal(await loadStoredQueries(root, identity, ROWS, IMAGE, K), null);
});

test('an attack that cannot serve prefixes is refused several budgets (and a longer query phase)', async () => {
  registerAttack({ ...jbda, name: 'jbda-budgeted', servesPrefixes: false });
  const spec = {
    victim: path.join(root, 'no-victim'),
    attack: 'jbda-budgeted',
    budgets: [100, 200],
    labelMode: 'probs',
    defense: { name: 'none' },
    querysetSplit: 'train',
    jacobian: JACOBIAN_DEFAULTS,
    training: { epochs: 1, lr: 0.1, momentum: 0.5, batchSize: 32, lrStep: 10, weightDecay: 0 },
    queryBatchSize: 32,
    seed: 1,
    out: path.join(root, 'never-written'),
    force: false,
    cacheDir: null,
  } as const;
  await assert.rejects(runAttack({ ...spec, budgets: [...spec.budgets] }), UsageError);
  await assert.rejects(runAttack({ ...spec, budgets: [100], queryBudget: 200 }), UsageError);
  await assert.rejects(fs.access(spec.out), 'nothing was written');
});
