/**
 * The grid and its scheduling: content ids independent of YAML key order and of the rest of the
 * grid, shards that partition the cells, shared transfer sets computed by one cell while the
 * others wait (the lock files themselves: file-lock.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UsageError } from '../src/errors.js';
import { parseSweepConfig } from '../src/sweep/config/parse-config.js';
import { expandGrid, withoutCache } from '../src/sweep/plan/grid.js';
import { registerAttack } from '../src/attacks/registry.js';
import { jbda } from '../src/attacks/jbda.js';
import type { Cell, VictimIdentity } from '../src/sweep/plan/cell.js';
import { parseShard, shardOf } from '../src/sweep/plan/shard.js';
import { CellScheduler, orderForSharing, prepareTasksOf } from '../src/sweep/run/scheduler.js';
import type { SharedWorkGate } from '../src/sweep/run/shared-work.js';
import { canonicalJson } from '../src/cache/canonical-json.js';

const CONFIG = `
victim:
  train: {dataset: mnist, arch: lenet, epochs: 2, limit: 300}
attacks:
  - {name: knockoff, queryset: emnist-letters}
  - {name: knockoff, queryset: emnist-letters, labelMode: argmax}
  - {name: jbda, seedSize: 10}
defenses:
  mad: {eps: [0, 0.5], ydist: l1}
  reverse-sigmoid: {beta: 0.1}
budgets: [100, 200]
seeds: [1, 2]
`;

function cellsOf(text: string): Cell[] {
  const config = parseSweepConfig(text, 'c.yaml');
  if (config.victim.kind !== 'train') throw new Error('train victim expected');
  const victim: VictimIdentity = { dataset: config.victim.train.dataset, arch: config.victim.train.arch, train: config.victim.train };
  return expandGrid(config, victim);
}

function key(c: Cell): string {
  return canonicalJson(c.settings);
}

test('the grid is attacks × budgets × seeds × defenses × operating points, ids unique', () => {
  const cells = cellsOf(CONFIG);
  // 3 attacks × 2 budgets × 2 seeds × (none + 2 mad + 1 reverse sigmoid)
  assert.equal(cells.length, 3 * 2 * 2 * 4);
  assert.equal(new Set(cells.map((c) => c.id)).size, cells.length);
  for (const c of cells) assert.match(c.id, /^[0-9a-f]{12}$/);
  assert.deepEqual([...new Set(cells.map((c) => c.attackLabel))], ['knockoff (labelMode=probs)', 'knockoff (labelMode=argmax)', 'jbda']);
});

test('per-attack budgets: each attack entry runs its own budgets; ids are the same however a budget is given', () => {
  const own = cellsOf(CONFIG.replace('{name: jbda, seedSize: 10}', '{name: jbda, seedSize: 10, budgets: [200, 300]}'));
  const jbda = own.filter((c) => c.settings.attack.name === 'jbda');
  assert.deepEqual([...new Set(jbda.map((c) => c.settings.budget))], [200, 300]);
  assert.deepEqual([...new Set(own.filter((c) => c.settings.attack.name === 'knockoff').map((c) => c.settings.budget))], [100, 200]);
  const base = new Set(cellsOf(CONFIG).map((c) => c.id));
  for (const c of jbda.filter((c) => c.settings.budget === 200)) assert.ok(base.has(c.id));
});

test("an attack entry's defenses: runs it against those of the config's defenses only, with the cells' ids unchanged", () => {
  const only = cellsOf(CONFIG.replace('{name: jbda, seedSize: 10}', '{name: jbda, seedSize: 10, defenses: [none, reverse-sigmoid]}'));
  const jbda = only.filter((c) => c.settings.attack.name === 'jbda');
  assert.deepEqual([...new Set(jbda.map((c) => c.settings.defense.name))].sort(), ['none', 'reverse-sigmoid']);
  assert.equal(jbda.length, 2 * 2 * 2);
  assert.equal(only.filter((c) => c.settings.attack.name === 'knockoff').length, 2 * 2 * 2 * 4, 'the other entries run against every defense');
  const base = new Set(cellsOf(CONFIG).map((c) => c.id));
  for (const c of only) assert.ok(base.has(c.id), 'the same cells as in the unfiltered grid');
  assert.throws(
    () => cellsOf(CONFIG.replace('{name: jbda, seedSize: 10}', '{name: jbda, seedSize: 10, defenses: [none, grad2]}')),
    (err: Error) => err instanceof UsageError && /attacks\[2\]\.defenses\[1\]: expected one of the config's defenses \(none, mad, reverse-sigmoid\), found 'grad2'/.test(err.message),
  );
  assert.throws(() => cellsOf(CONFIG.replace('{name: jbda, seedSize: 10}', '{name: jbda, seedSize: 10, defenses: []}')), /attacks\[2\]\.defenses: expected at least one/);
});

test('cell ids do not depend on YAML key order, spelled-out defaults, or the rest of the grid', () => {
  const base = new Map(cellsOf(CONFIG).map((c) => [key(c), c.id]));
  const reordered = `
seeds: [2, 1]
budgets: [200, 100]
defenses:
  reverse-sigmoid: {gamma: 0.2, beta: 0.1}
  mad: {ydist: l1, eps: [0.5, 0], jacobian: closed}
attacks:
  - {name: jbda, seedSize: 10, kappa: 400}
  - {labelMode: argmax, queryset: emnist-letters, name: knockoff}
  - {queryset: emnist-letters, name: knockoff, querysetSplit: train}
victim:
  train: {limit: 300, epochs: 2, arch: lenet, dataset: mnist, lr: 0.1}
`;
  const again = cellsOf(reordered);
  assert.equal(again.length, base.size);
  for (const c of again) assert.equal(c.id, base.get(key(c)), `cell ${key(c)} changed id`);
  // Growing the grid elsewhere (a budget, a defense, a seed) leaves existing ids alone.
  const grown = cellsOf(CONFIG.replace('budgets: [100, 200]', 'budgets: [100, 200, 300]').replace('seeds: [1, 2]', 'seeds: [1, 2, 3]').replace('reverse-sigmoid: {beta: 0.1}', 'reverse-sigmoid: {beta: 0.1}\n  top-k: {k: 1}'));
  const grownIds = new Set(grown.map((c) => c.id));
  for (const id of base.values()) assert.ok(grownIds.has(id));
  // A setting that changes results changes the id.
  const other = cellsOf(CONFIG.replace('epochs: 2', 'epochs: 3'));
  for (const c of other) assert.ok(!new Set(base.values()).has(c.id));
});

test('knockoff cells share their transfer set across defenses and label modes, MAD cells their side information', () => {
  const cells = cellsOf(CONFIG);
  const knock = cells.filter((c) => c.settings.attack.name === 'knockoff' && c.settings.budget === 100 && c.settings.seed === 1);
  assert.equal(knock.length, 8);
  const transfer = new Set(knock.map((c) => c.shared[0]));
  assert.equal(transfer.size, 1, 'one transfer set for every defense and both label modes');
  for (const c of knock) assert.equal(c.shared.length, c.settings.defense.name === 'mad' ? 2 : 1);
  const sets = new Set(cells.filter((c) => c.settings.attack.name === 'knockoff').map((c) => c.shared[0]));
  assert.equal(sets.size, 2, 'one transfer set per seed: the budgets share it');
  for (const c of cells.filter((c) => c.settings.attack.name === 'knockoff')) {
    assert.equal(c.queryBudget, 200, 'built up to the largest budget, each cell using its prefix');
    assert.equal(c.queryStore, null, 'kept in the posterior cache, not in the sweep');
  }
});

test('an adaptive attack runs its query phase once per (attack entry, defense point, seed), up to the largest budget', () => {
  const cells = cellsOf(CONFIG.replace('{name: jbda, seedSize: 10}', '{name: jbda, seedSize: 10, budgets: [50, 150, 300]}'));
  const jbda = cells.filter((c) => c.settings.attack.name === 'jbda');
  assert.equal(jbda.length, 3 * 2 * 4);
  const groups = new Map<string, Cell[]>();
  for (const c of jbda) {
    assert.equal(c.shared.length, 1);
    assert.equal(c.queryStore, c.shared[0]);
    const store = c.queryStore ?? '';
    assert.match(store, /^queries-[0-9a-f]{16}$/);
    assert.equal(c.queryBudget, 300);
    groups.set(store, [...(groups.get(store) ?? []), c]);
  }
  assert.equal(groups.size, 2 * 4, 'one group per seed and defense operating point');
  for (const group of groups.values()) {
    assert.deepEqual(group.map((c) => c.settings.budget).sort((a, b) => a - b), [50, 150, 300]);
    const withoutBudget = (c: Cell): string => canonicalJson({ ...c.settings, budget: 0 });
    for (const c of group) assert.equal(withoutBudget(c), withoutBudget(group[0]!), 'a group differs in budget only');
  }
  // A larger budget is a new, longer query phase: its key changes, the cell ids do not.
  const grown = cellsOf(CONFIG.replace('{name: jbda, seedSize: 10}', '{name: jbda, seedSize: 10, budgets: [50, 150, 300, 400]}'));
  const grownById = new Map(grown.map((c) => [c.id, c]));
  for (const c of jbda) {
    const again = grownById.get(c.id)!;
    assert.equal(again.queryBudget, 400);
    assert.notEqual(again.queryStore, c.queryStore);
  }
  // Without a posterior cache, transfer sets are not shared (each cell queries its own budget); query phases still are.
  for (const c of cells.map(withoutCache)) {
    if (c.settings.attack.name === 'jbda') assert.equal(c.queryBudget, 300);
    else assert.deepEqual([c.shared, c.queryBudget], [[], c.settings.budget]);
  }
});

test('an attack whose queries depend on the budget (servesPrefixes: false) shares no query phase across budgets', () => {
  registerAttack({ ...jbda, name: 'jbda-budgeted', servesPrefixes: false });
  const cells = cellsOf(CONFIG.replace('{name: jbda, seedSize: 10}', '{name: jbda-budgeted, seedSize: 10}')).filter((c) => c.settings.attack.name === 'jbda-budgeted');
  assert.equal(cells.length, 2 * 2 * 4);
  assert.equal(new Set(cells.map((c) => c.queryStore)).size, cells.length);
  for (const c of cells) assert.equal(c.queryBudget, c.settings.budget);
});

test('--shard i/n: numbered from 1, a partition of the cells into near-equal parts', () => {
  for (const bad of ['3/2', '0/2', '1/0', 'a/b', '1', '1/2/3', '-1/2']) {
    assert.throws(() => parseShard(bad), UsageError, bad);
  }
  assert.deepEqual(parseShard('2/4'), { index: 2, count: 4 });
  const cells = cellsOf(CONFIG);
  const parts = [1, 2, 3, 4, 5].map((i) => shardOf(cells, { index: i, count: 5 }));
  const seen = parts.flat().map((c) => c.id);
  assert.equal(seen.length, cells.length);
  assert.equal(new Set(seen).size, cells.length);
  const sizes = parts.map((p) => p.length);
  assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `sizes ${sizes.join(',')}`);
  // The same cells whatever the order the grid was listed in.
  assert.deepEqual(shardOf([...cells].reverse(), { index: 2, count: 5 }).map((c) => c.id), parts[1]!.map((c) => c.id));
});

/** A gate in memory; `others` are keys another process leads. */
class MemoryGate implements SharedWorkGate {
  readonly readyKeys = new Set<string>();
  readonly led = new Set<string>();
  constructor(readonly others = new Set<string>()) {}
  isReady(key: string): Promise<boolean> {
    return Promise.resolve(this.readyKeys.has(key));
  }
  tryLead(key: string): Promise<boolean> {
    if (this.others.has(key) || this.led.has(key)) return Promise.resolve(false);
    this.led.add(key);
    return Promise.resolve(true);
  }
  finish(key: string, ok: boolean): Promise<void> {
    this.led.delete(key);
    if (ok) this.readyKeys.add(key);
    return Promise.resolve();
  }
  releaseAll(): Promise<void> {
    this.led.clear();
    return Promise.resolve();
  }
  heldFiles(): string[] {
    return [];
  }
}

test('the scheduler runs one cell per transfer set first (the undefended one), the rest once it is ready', async () => {
  const cells = cellsOf(CONFIG).filter((c) => c.settings.attack.name === 'knockoff');
  const gate = new MemoryGate();
  const s = new CellScheduler(cells, gate);
  const first = await s.next();
  const second = await s.next();
  assert.ok(first && second);
  assert.equal(first.settings.defense.name, 'none');
  assert.equal(second.settings.defense.name, 'none');
  assert.notEqual(first.shared[0], second.shared[0], 'the second worker takes the other seed’s transfer set');
  assert.equal(await s.next(), null, 'everything else waits on those two sets');
  await s.finished(first, true);
  assert.ok(gate.readyKeys.has(first.shared[0]!));
  const started: Cell[] = [];
  for (let c = await s.next(); c; c = await s.next()) started.push(c);
  // Of the first set's remaining cells: all but one MAD cell run; one MAD cell leads the side information.
  assert.ok(started.every((c) => c.shared[0] === first.shared[0]));
  assert.equal(started.filter((c) => c.settings.defense.name === 'mad').length, 1);
  assert.ok(started.some((c) => c.settings.defense.name === 'reverse-sigmoid'));
  // The other label mode's and the other budget's undefended cells share the set: they run now, as followers.
  const followers = started.filter((c) => c.settings.defense.name === 'none').map((c) => `${c.settings.attack.labelMode as string}@${c.settings.budget}`);
  assert.deepEqual(followers.sort(), ['argmax@100', 'argmax@200', 'probs@200']);
});

test('a failed leader hands its transfer set to the next cell; keys led by another process block', async () => {
  const cells = cellsOf(CONFIG).filter((c) => c.settings.attack.name === 'knockoff' && c.settings.seed === 1 && c.settings.budget === 100);
  const gate = new MemoryGate();
  const s = new CellScheduler(cells, gate);
  const leader = await s.next();
  assert.ok(leader);
  assert.equal(await s.next(), null);
  await s.finished(leader, false);
  assert.ok(!gate.readyKeys.has(leader.shared[0]!));
  const next = await s.next();
  assert.ok(next, 'another cell leads the set now');
  assert.equal(next.shared[0], leader.shared[0]);

  const blocked = new CellScheduler(cells, new MemoryGate(new Set([leader.shared[0]!])));
  assert.equal(await blocked.next(), null);
  assert.equal(blocked.blockedElsewhere, true);
});

test('sharing order: grid order, undefended cell first within a transfer set', () => {
  const cells = cellsOf(CONFIG);
  const ordered = orderForSharing(cells);
  assert.equal(ordered.length, cells.length);
  const firstOfSet = new Map<string, Cell>();
  for (const c of ordered) if (c.shared[0]?.startsWith('transfer-') && !firstOfSet.has(c.shared[0])) firstOfSet.set(c.shared[0], c);
  for (const c of firstOfSet.values()) assert.equal(c.settings.defense.name, 'none');
});

const WITH_PREPARED = CONFIG.replace('reverse-sigmoid: {beta: 0.1}', 'reverse-sigmoid: {beta: 0.1}\n  adaptive-misinformation: {amTau: [0.5, 0.9]}\n  grad2: {eps: 0.5}');

test('what a defense builds beside the victim is one prepare- key per victim, shared by every point and seed, kept without a cache', () => {
  const cells = cellsOf(WITH_PREPARED);
  const prepareKeys = (c: Cell): string[] => c.shared.filter((k) => k.startsWith('prepare-'));
  const byDefense = new Map<string, Set<string>>();
  for (const c of cells) {
    const keys = prepareKeys(c);
    const name = c.settings.defense.name;
    if (name !== 'adaptive-misinformation' && name !== 'grad2') {
      assert.deepEqual(keys, [], `${name} builds nothing beside the victim`);
      continue;
    }
    assert.equal(keys.length, 1);
    assert.equal(c.shared.at(-1), keys[0], 'built last: after the query work it goes with');
    byDefense.set(name, new Set([...(byDefense.get(name) ?? []), ...keys]));
    assert.deepEqual(prepareKeys(withoutCache(c)), keys, 'no cache: still built once');
  }
  assert.equal(byDefense.get('adaptive-misinformation')?.size, 1, 'one f̂ for both τ, both seeds, every attack');
  assert.equal(byDefense.get('grad2')?.size, 1);
  assert.notDeepEqual(byDefense.get('grad2'), byDefense.get('adaptive-misinformation'));
  // A model of the user's: nothing to build.
  const own = cellsOf(WITH_PREPARED.replace('amTau: [0.5, 0.9]', 'amTau: [0.5, 0.9], misinformation: /models/fhat'));
  for (const c of own.filter((c) => c.settings.defense.name === 'adaptive-misinformation')) assert.deepEqual(prepareKeys(c), []);
  // One task per key.
  assert.deepEqual(prepareTasksOf(cells).map((t) => t.key).sort(), [...byDefense.values()].flatMap((keys) => [...keys]).sort());
  // Without a cache knockoff cells share no transfer set: grid order, prepare- keys group nothing.
  const uncached = cells.filter((c) => c.settings.attack.name === 'knockoff').map(withoutCache);
  assert.deepEqual(orderForSharing(uncached).map((c) => c.id), uncached.map((c) => c.id));
});

test('prepare tasks run ahead: cells needing the key wait for it while the others run; a failed task leaves the key to the first such cell', async () => {
  const cells = cellsOf(WITH_PREPARED).filter((c) => c.settings.attack.name === 'jbda' && c.settings.seed === 1 && c.settings.budget === 100);
  const needs = (c: Cell, key: string): boolean => c.shared.includes(key);
  const gate = new MemoryGate();
  const tasks = prepareTasksOf(cells);
  assert.equal(tasks.length, 2);
  const s = new CellScheduler(cells, gate, tasks);
  const am = await s.nextPrepare();
  const g2 = await s.nextPrepare();
  assert.ok(am && g2);
  assert.equal(await s.nextPrepare(), null, 'one task per key');
  // Every cell that needs no prepared artifact runs meanwhile; the others wait.
  const started: Cell[] = [];
  for (let c = await s.next(); c; c = await s.next()) started.push(c);
  assert.equal(started.length, cells.length - 3, 'two AM points and one GRAD² point wait');
  assert.ok(started.every((c) => !needs(c, am.key) && !needs(c, g2.key)));
  await s.prepared(am, true);
  assert.ok(gate.readyKeys.has(am.key));
  const afterAm: Cell[] = [];
  for (let c = await s.next(); c; c = await s.next()) afterAm.push(c);
  assert.deepEqual(afterAm.map((c) => c.settings.defense.name), ['adaptive-misinformation', 'adaptive-misinformation']);
  await s.prepared(g2, false);
  assert.ok(!gate.readyKeys.has(g2.key));
  const leader = await s.next();
  assert.ok(leader && needs(leader, g2.key), 'the GRAD² cell leads the key itself (its worker builds it)');
  assert.ok(gate.led.has(g2.key));

  // Another process (a shard) builds it: the task is dropped and its cells wait for that one.
  const elsewhere = new CellScheduler(cells, new MemoryGate(new Set([am.key])), prepareTasksOf(cells));
  const only = await elsewhere.nextPrepare();
  assert.equal(only?.key, g2.key);
  assert.equal(await elsewhere.nextPrepare(), null);
  // Ready already (a rerun): no task at all.
  const readyGate = new MemoryGate();
  readyGate.readyKeys.add(am.key);
  readyGate.readyKeys.add(g2.key);
  assert.equal(await new CellScheduler(cells, readyGate, prepareTasksOf(cells)).nextPrepare(), null);
});

test("old key spellings (noise-eps) still read, one warning line per old key, the same cells and ids as the camelCase ones", () => {
  const renamed = CONFIG.replace(
    'reverse-sigmoid: {beta: 0.1}',
    'reverse-sigmoid: {beta: 0.1}\n  random-noise: {noiseEps: [0.5, 1], noiseNorm: l2}\n  adaptive-misinformation: {amTau: 0.9, amNu: 500}\n  grad2: {grad2Target: min-ip}',
  );
  const old = renamed
    .replace('noiseEps', 'noise-eps')
    .replace('noiseNorm', 'noise-norm')
    .replace('amTau', 'am-tau')
    .replace('amNu', 'am-nu')
    .replace('grad2Target', 'grad2-target');
  const cellsWith = (text: string, warnings: string[]): Cell[] => {
    const config = parseSweepConfig(text, 'old.yaml', { warn: (line) => warnings.push(line) });
    if (config.victim.kind !== 'train') throw new Error('train victim expected');
    return expandGrid(config, { dataset: config.victim.train.dataset, arch: config.victim.train.arch, train: config.victim.train });
  };
  const quiet: string[] = [];
  const current = cellsWith(renamed, quiet);
  assert.deepEqual(quiet, [], 'the camelCase spelling warns about nothing');
  const warnings: string[] = [];
  const legacy = cellsWith(old, warnings);
  assert.deepEqual(warnings, [
    "poison: old.yaml: key 'noise-eps' is deprecated, write 'noiseEps' (same parameter, same cells)",
    "poison: old.yaml: key 'noise-norm' is deprecated, write 'noiseNorm' (same parameter, same cells)",
    "poison: old.yaml: key 'am-tau' is deprecated, write 'amTau' (same parameter, same cells)",
    "poison: old.yaml: key 'am-nu' is deprecated, write 'amNu' (same parameter, same cells)",
    "poison: old.yaml: key 'grad2-target' is deprecated, write 'grad2Target' (same parameter, same cells)",
  ]);
  assert.deepEqual(legacy.map((c) => c.id), current.map((c) => c.id));
  const noise = current.filter((c) => c.settings.defense.name === 'random-noise');
  assert.deepEqual([...new Set(noise.map((c) => c.settings.defense.epsZ))], [0.5, 1]);
  assert.ok(noise.every((c) => c.settings.defense.norm === 'l2'), 'noiseNorm reaches the spec');

  // Both spellings of one key: an error at the old one, not a silent choice.
  assert.throws(
    () => parseSweepConfig(renamed.replace('noiseNorm: l2', 'noiseNorm: l2, noise-norm: l1'), 'both.yaml', { warn: () => undefined }),
    (e: unknown) => e instanceof UsageError && /defenses\.random-noise\.noise-norm: expected 'noiseNorm' once .*found both spellings/.test(e.message),
  );
});
