/**
 * The posterior cache on disk: content-addressed keys, complete entries only (the header is
 * written last), side rows per source, and damaged files reported, never half-read.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  cacheEntryDir,
  loadCachedPosteriors,
  loadCachedSide,
  storeCachedPosteriors,
  storeCachedSide,
  type PosteriorCacheKey,
} from '../src/attack-run/posterior-cache.js';
import { RuntimeFailure } from '../src/errors.js';

const roots: string[] = [];
after(async () => {
  for (const r of roots) await fs.rm(r, { recursive: true, force: true });
});

const identity = {
  attack: 'knockoff',
  victim: 'ab'.repeat(32),
  pool: { dataset: 'fashion-mnist', split: 'train', count: 60000, sha256: 'ef'.repeat(32) },
  budget: 3,
  seed: 1,
  backend: 'wasm',
};
const key: PosteriorCacheKey = { kind: 'transfer', identity, inputs: [] };
const withIdentity = (change: Record<string, unknown>): PosteriorCacheKey => ({ ...key, identity: { ...identity, ...change } });

test('store then load gives the same rows; another key is a miss', async () => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'poison-cache-'));
  roots.push(root);
  const indices = Int32Array.from([5, 9, 2]);
  const clean = Float32Array.from({ length: 30 }, (_, i) => i / 30);
  const entry = await storeCachedPosteriors(root, key, indices, clean, 10);
  const loaded = await loadCachedPosteriors(root, key);
  assert.ok(loaded);
  assert.deepEqual(loaded.poolIndices, indices);
  assert.deepEqual(loaded.clean, clean);
  assert.equal(loaded.dir, entry.dir);
  assert.equal(await loadCachedPosteriors(root, withIdentity({ seed: 2 })), null);
  assert.equal(await loadCachedPosteriors(root, withIdentity({ victim: 'cd'.repeat(32) })), null);
  assert.equal(await loadCachedPosteriors(root, withIdentity({ backend: 'cpu' })), null);
  assert.notEqual(cacheEntryDir(root, key), cacheEntryDir(root, withIdentity({ budget: 4 })));
  // One canonical JSON: the order of the identity's keys does not change the entry.
  const reordered = Object.fromEntries(Object.entries(identity).reverse());
  assert.equal(cacheEntryDir(root, { ...key, identity: reordered }), cacheEntryDir(root, key));

  const side = { rowShape: [2, 5], data: Float32Array.from({ length: 30 }, (_, i) => -i) };
  const source = (sideInfoKey: string): { sideInfoKey: string; inputs: [] } => ({ sideInfoKey, inputs: [] });
  assert.equal(await loadCachedSide(entry, source('surrogate-a')), null);
  await storeCachedSide(entry, source('surrogate-a'), side);
  assert.deepEqual(await loadCachedSide(entry, source('surrogate-a')), side);
  assert.equal(await loadCachedSide(entry, source('surrogate-b')), null, 'side rows are per source');
});

test('an entry without its header (a killed write) is a miss; a damaged file is an error', async () => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'poison-cache-'));
  roots.push(root);
  const entry = await storeCachedPosteriors(root, key, Int32Array.from([1, 2, 3]), new Float32Array(30), 10);
  await fs.rm(path.join(entry.dir, 'header.json'));
  assert.equal(await loadCachedPosteriors(root, key), null);

  await storeCachedPosteriors(root, key, Int32Array.from([1, 2, 3]), new Float32Array(30), 10);
  await fs.writeFile(path.join(entry.dir, 'clean.f32'), new Uint8Array(7));
  await assert.rejects(() => loadCachedPosteriors(root, key), (e: unknown) => e instanceof RuntimeFailure && /has 7 bytes/.test(e.message));
});
