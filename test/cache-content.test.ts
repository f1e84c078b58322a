/**
 * Caches keyed by content (issue 22): a helper model replaced in place (AM's f̂ retrained by
 * `poison train --misinformation --force`, MAD's saved surrogate overwritten) or another backend
 * makes the next run recompute instead of reusing, and `poison cache ls` reports the entries
 * computed from the old bytes as stale (`prune` removes exactly those). The cache commands load no
 * TensorFlow.js.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { runAttack, type RunAttackHooks } from '../src/attack-run/run.js';
import type { AttackSpec } from '../src/attack-run/spec.js';
import type { AttackResult } from '../src/attack-run/result.js';
import { listCache, type CacheEntryInfo } from '../src/cache/inventory.js';
import { parseDefenseSpec } from '../src/defenses/params.js';
import { REPO_ROOT, runCli } from './helpers/cli.js';
import { smallAttackSpec } from './helpers/attack-spec.js';
import { saveRandomModel } from './helpers/saved-model.js';
import { useVictimWorkspace } from './helpers/victim-workspace.js';

const workspace = useVictimWorkspace('poison-cache-content-');
const NO_TFJS = ['--require', path.join(REPO_ROOT, 'test', 'helpers', 'no-tfjs.cjs')];

/**
 * Each test's own cache folder (relative to the workspace, where `poison cache` runs): no test reads
 * entries or stale rows another test left, so the tests pass alone and in any order.
 */
const CACHE = { am: 'cache-am', mad: 'cache-mad', backend: 'cache-backend', commands: 'cache-commands' } as const;

/** The small request, with the given cache folder whose keys the test inspects. */
const spec = (cache: string, overrides: Partial<AttackSpec> = {}): AttackSpec =>
  smallAttackSpec(workspace, { cacheDir: path.join(workspace.root, cache), ...overrides });

/** The run's result and the released answers ỹ the attacker trained on. */
async function run(s: AttackSpec): Promise<{ result: AttackResult; released: Float32Array }> {
  let released: Float32Array | undefined;
  const hooks: RunAttackHooks = { onTransferSet: (t) => (released = Float32Array.from(t.released)) };
  const result = await runAttack(s, hooks);
  assert.ok(released);
  return { result, released };
}

async function sideKeys(cache: string): Promise<Set<string>> {
  return new Set((await listCache(path.join(workspace.root, cache))).filter((e) => e.kind === 'side').map((e) => e.key));
}

function trainMisinformation(seed: number, force: boolean): void {
  const r = workspace.poison(['train', '--misinformation', workspace.victim, '--epochs', '1', '--limit', '128', '--seed', String(seed), '--backend', 'wasm', '--quiet', ...(force ? ['--force'] : [])]);
  assert.equal(r.status, 0, r.stderr);
}

function lsJson(cache: string): CacheEntryInfo[] {
  return JSON.parse(runNoTfjs(['cache', 'ls', cache, '--json'])) as CacheEntryInfo[];
}

test('AM: f̂ retrained in place → the next attack recomputes its side rows; the old rows are listed stale and pruned', async () => {
  trainMisinformation(1, false);
  const am = { name: 'adaptive-misinformation', tau: 0.9, nu: 1000, misinformation: null };
  const first = await run(spec(CACHE.am, { defense: am }));
  const before = await sideKeys(CACHE.am);
  assert.equal(before.size, 2, 'f̂ rows on the test set and on the transfer set');
  const again = await run(spec(CACHE.am, { defense: am }));
  assert.deepEqual(await sideKeys(CACHE.am), before, 'same f̂: its side rows are reused');
  assert.deepEqual(again.released, first.released);

  trainMisinformation(2, true);
  const second = await run(spec(CACHE.am, { defense: am }));
  assert.equal(second.result.transferSet.cache, 'hit', 'the victim did not change: its transfer set is reused');
  const after = await sideKeys(CACHE.am);
  const fresh = [...after].filter((k) => !before.has(k));
  assert.equal(fresh.length, 2, 'the new f̂ gets side rows of its own');
  assert.notDeepEqual(second.released, first.released, 'the answers come from the new f̂');
  assert.notEqual(second.result.defender.test.l1.mean, first.result.defender.test.l1.mean);

  const listed = lsJson(CACHE.am);
  const stale = listed.filter((e) => e.stale.length > 0);
  assert.deepEqual(stale.map((e) => e.key).sort(), [...before].sort(), 'exactly the rows of the old f̂ are stale');
  for (const e of stale) assert.match(e.stale.join('; '), /misinformation model f̂ .*misinformation changed \(sha256/);
  const text = runNoTfjs(['cache', 'ls', CACHE.am]);
  assert.match(text, /^STALE side [0-9a-f]{32} /m);
  assert.match(text, /, 2 stale/);

  const pruned = runNoTfjs(['cache', 'prune', CACHE.am]);
  assert.match(pruned, /removed 2 stale entries/);
  assert.equal((await listCache(path.join(workspace.root, CACHE.am))).filter((e) => e.stale.length > 0).length, 0);
  assert.deepEqual(await sideKeys(CACHE.am), new Set(fresh), 'the current rows stay');
});

test('MAD: a saved surrogate overwritten in place → side rows recomputed, the old ones stale', async () => {
  const surrogate = path.join(workspace.root, 'surrogate');
  await saveRandomModel(surrogate, { seed: 2, kind: 'surrogate' });
  const mad = parseDefenseSpec('mad', { eps: '0.5', surrogate });
  const first = await run(spec(CACHE.mad, { defense: mad }));
  const before = await sideKeys(CACHE.mad);
  await saveRandomModel(surrogate, { seed: 3, kind: 'surrogate' });
  const second = await run(spec(CACHE.mad, { defense: mad }));
  assert.equal(second.result.transferSet.cache, 'hit');
  const fresh = [...(await sideKeys(CACHE.mad))].filter((k) => !before.has(k));
  assert.equal(fresh.length, 2, 'new surrogate rows on the test and transfer sets');
  assert.notDeepEqual(second.released, first.released);
  const stale = lsJson(CACHE.mad).filter((e) => e.stale.length > 0);
  assert.deepEqual(stale.map((e) => e.key).sort(), [...before].sort(), 'exactly the rows of the old surrogate are stale');
  for (const e of stale) assert.match(e.stale.join('; '), /MAD surrogate .*surrogate changed/);
});

test('another backend does not reuse the cached transfer set (wasm vs cpu); each backend then hits its own', async () => {
  const wasm = await run(spec(CACHE.backend));
  assert.equal(wasm.result.transferSet.cache, 'miss', 'a cache folder of its own starts empty');
  const cpu = await run(spec(CACHE.backend, { backend: 'cpu' }));
  assert.equal(cpu.result.transferSet.cache, 'miss');
  assert.notEqual(cpu.result.transferSet.cacheEntry, wasm.result.transferSet.cacheEntry);
  const cpuAgain = await run(spec(CACHE.backend, { backend: 'cpu' }));
  assert.equal(cpuAgain.result.transferSet.cache, 'hit');
  assert.equal(cpuAgain.result.transferSet.cacheEntry, cpu.result.transferSet.cacheEntry);
  const wasmAgain = await run(spec(CACHE.backend));
  assert.equal(wasmAgain.result.transferSet.cache, 'hit', 'the cpu entry did not replace the wasm one');
  assert.equal(wasmAgain.result.transferSet.cacheEntry, wasm.result.transferSet.cacheEntry);
  const transfers = lsJson(CACHE.backend).filter((e) => e.kind === 'transfer');
  assert.deepEqual(transfers.map((e) => (e.identity as { backend: { name: string } }).backend.name).sort(), ['cpu', 'wasm']);
  // Neither is stale: the wasm entry is still right for wasm runs.
  assert.ok(transfers.every((e) => e.stale.length === 0));
});

test('cache --help, ls and prune --help load no TensorFlow.js', () => {
  for (const args of [['cache', '--help'], ['cache', 'ls', '--help'], ['cache', 'prune', '--help']]) {
    assert.match(runNoTfjs(args), /Usage: poison cache/);
  }
  assert.match(runNoTfjs(['cache', 'ls', CACHE.commands]), /entries/);
});

/** `poison ARGS` in the workspace, offline, with any load of TensorFlow.js an exit code 99. */
function runNoTfjs(args: string[]): string {
  const r = runCli(args, { cwd: workspace.root, nodeArgs: NO_TFJS, env: { POISON_OFFLINE: '1' } });
  assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
