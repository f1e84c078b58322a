/**
 * `runAttack` end to end on a tiny trained victim: the posterior cache (a second defense on the
 * same transfer set runs the victim zero times and gives the same ỹ as a fresh run), fresh
 * attackers per budget, error amplification against a baseline, the files written, and no
 * leaked tensors on a second run.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { trainVictim } from '../src/train/victim.js';
import { runAttack, type RunAttackHooks } from '../src/attack-run/run.js';
import type { AttackSpec } from '../src/attack-run/spec.js';
import type { AttackResult } from '../src/attack-run/result.js';
import type { TransferSet } from '../src/attacks/transfer-set.js';
import { JACOBIAN_DEFAULTS } from '../src/attacks/names.js';
import { UsageError } from '../src/errors.js';

let root: string;
let victimDir: string;

before(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'poison-attack-run-'));
  victimDir = path.join(root, 'victim');
  await trainVictim({
    dataset: 'mnist', arch: 'lenet', epochs: 1, lr: 0.1, momentum: 0.5, batchSize: 64, lrStep: 50, weightDecay: 0,
    seed: 1, out: victimDir, force: false, limit: 500, backend: 'wasm', quiet: true,
  });
});

after(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

let outCount = 0;
function spec(overrides: Partial<AttackSpec> = {}): AttackSpec {
  return {
    victim: victimDir,
    attack: 'knockoff',
    budgets: [60],
    labelMode: 'probs',
    defense: { name: 'none' },
    queryset: 'mnist',
    querysetSplit: 'test',
    jacobian: { ...JACOBIAN_DEFAULTS, seedSize: 10, roundEpochs: 1 },
    training: { epochs: 2, lr: 0.1, momentum: 0.5, batchSize: 32, lrStep: 50, weightDecay: 0 },
    queryBatchSize: 16,
    seed: 5,
    out: path.join(root, `out-${++outCount}`),
    force: false,
    cacheDir: path.join(root, 'cache'),
    testLimit: 300,
    backend: 'wasm',
    quiet: true,
    ...overrides,
  };
}

/** Runs the attack, counting the victim's forward passes and keeping the transfer set. */
async function spied(s: AttackSpec): Promise<{ result: AttackResult; victimCalls: number; transfer: TransferSet }> {
  let victimCalls = 0;
  let transfer: TransferSet | undefined;
  const hooks: RunAttackHooks = {
    onVictimLoaded: (victim) => {
      const apply = victim.apply.bind(victim);
      victim.apply = (...args: Parameters<typeof apply>) => {
        victimCalls++;
        return apply(...args);
      };
      const predict = victim.predict.bind(victim);
      victim.predict = (...args: Parameters<typeof predict>) => {
        victimCalls++;
        return predict(...args);
      };
    },
    onTransferSet: (t) => {
      transfer = t;
    },
  };
  const result = await runAttack(s, hooks);
  if (!transfer) throw new Error('no transfer set');
  return { result, victimCalls, transfer };
}

/** The cache folder of the undefended baseline run, and of the tests' runs that reuse its transfer set. */
const baselineCache = (): string => path.join(root, 'cache-baseline');
let baselineRun: Promise<{ result: AttackResult; victimCalls: number; transfer: TransferSet; file: string }> | undefined;

/**
 * The undefended run (knockoff, B = 60), done once for whichever test asks first, into a cache
 * folder no other run has touched: it computes the transfer set (a miss) and leaves it cached.
 * So each test finds what it needs whatever order the tests run in.
 */
function undefendedBaseline(): NonNullable<typeof baselineRun> {
  baselineRun ??= spied(spec({ cacheDir: baselineCache() })).then((r) => ({ ...r, file: path.join(r.result.config.out as string, 'result.json') }));
  return baselineRun;
}

test('a second defense on a cached transfer set runs the victim zero times and matches a fresh run', async () => {
  const first = await undefendedBaseline();
  assert.equal(first.result.transferSet.cache, 'miss');
  assert.ok(first.victimCalls > 0);

  const defense = { name: 'reverse-sigmoid', beta: 0.5, gamma: 0.2 } as const;
  const cached = await spied(spec({ defense, cacheDir: baselineCache() }));
  assert.equal(cached.result.transferSet.cache, 'hit');
  assert.equal(cached.victimCalls, 0, 'the victim model ran on a cached transfer set');
  assert.equal(cached.result.transferSet.victimQueryBatches, 0);

  const fresh = await spied(spec({ defense, cacheDir: null }));
  assert.equal(fresh.result.transferSet.cache, 'off');
  assert.ok(fresh.victimCalls > 0);
  assert.deepEqual(cached.transfer.released, fresh.transfer.released, 'same ỹ from the cache as from the live victim');
  assert.notDeepEqual(cached.transfer.released, first.transfer.released, 'the defense changed ỹ');
  assert.equal(cached.result.runs[0]!.attacker.accuracy, fresh.result.runs[0]!.attacker.accuracy);
  assert.deepEqual(cached.result.defender, fresh.result.defender);
  assert.deepEqual(cached.result.runs[0]!.queryDistortion, fresh.result.runs[0]!.queryDistortion);
  assert.ok(cached.result.runs[0]!.queryDistortion.l1.mean > 0);
});

test('MAD on the cached transfer set: surrogate side rows cached too, same ỹ as a live run, ε-ball kept', async () => {
  await undefendedBaseline(); // caches the transfer set
  const defense = { name: 'mad', eps: 0.5, ydist: 'l1', jacobian: 'closed', ablation: 'none', surrogate: null } as const;
  const cached = await spied(spec({ defense, cacheDir: baselineCache() }));
  assert.equal(cached.result.transferSet.cache, 'hit');
  assert.equal(cached.victimCalls, 0);
  const again = await spied(spec({ defense, cacheDir: baselineCache() }));
  assert.equal(again.victimCalls, 0);
  const fresh = await spied(spec({ defense, cacheDir: null }));
  assert.ok(fresh.victimCalls > 0);
  const a = cached.transfer.released;
  const b = fresh.transfer.released;
  let maxDiff = 0;
  for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i]! - b[i]!));
  assert.ok(maxDiff < 1e-6, `cached and live MAD answers differ by ${maxDiff}`);
  assert.deepEqual(again.transfer.released, cached.transfer.released);
  const q = cached.result.runs[0]!.queryDistortion;
  assert.equal(q.epsBallViolations, 0);
  assert.ok(q.l1.mean > 0.3 && q.l1.mean <= 0.5 + 1e-5, `MAD uses its L1 budget, mean ${q.l1.mean}`);
});

test('every budget trains a fresh attacker on the first B queries of one transfer set', async () => {
  const both = await runAttack(spec({ budgets: [30, 60], cacheDir: null }));
  const alone = await runAttack(spec({ budgets: [30], cacheDir: null }));
  assert.deepEqual(both.runs.map((r) => [r.budget, r.queries]), [[30, 30], [60, 60]]);
  const untimed = (r: AttackResult['runs'][number]): unknown => ({
    ...r.attacker,
    trainSeconds: 0,
    epochs: r.attacker.epochs.map((e) => ({ ...e, seconds: 0 })),
  });
  assert.deepEqual(untimed(both.runs[0]!), untimed(alone.runs[0]!), 'B = 30 alone or next to B = 60: the same fresh attacker');
  const dir = both.config.out as string;
  const files = (await fs.readdir(dir)).sort();
  assert.deepEqual(files, ['budget-30', 'budget-60', 'result.json']);
  const params = JSON.parse(await fs.readFile(path.join(dir, 'budget-60', 'params.json'), 'utf8')) as { kind: string; budget: number };
  assert.equal(params.kind, 'attacker');
  assert.equal(params.budget, 60);
  const log = (await fs.readFile(path.join(dir, 'budget-60', 'train-log.csv'), 'utf8')).trim().split('\n');
  assert.equal(log[0], 'epoch,loss,train_agreement,test_acc,seconds,lr');
  assert.equal(log.length, 3, 'one row per epoch');
  const best = Math.max(...both.runs[1]!.attacker.epochs.map((e) => e.testAccuracy));
  assert.equal(both.runs[1]!.attacker.bestEpochAccuracy, best);
  assert.equal(both.runs[1]!.attacker.accuracy, both.runs[1]!.attacker.epochs.at(-1)!.testAccuracy);
});

test('error amplification against an undefended baseline; a mismatched baseline is refused', async () => {
  const baseline = await undefendedBaseline();
  const defended = await runAttack(spec({ defense: { name: 'argmax' }, baseline: baseline.file }));
  const base = baseline.result.runs[0]!.attacker.accuracy;
  const acc = defended.runs[0]!.attacker.accuracy;
  assert.equal(defended.runs[0]!.baselineAccuracy, base);
  assert.equal(defended.runs[0]!.errorAmplification, (1 - acc) / (1 - base));
  await assert.rejects(() => runAttack(spec({ seed: 6, baseline: baseline.file })), (e: unknown) => e instanceof UsageError && /seed/.test(e.message));
  await assert.rejects(() => runAttack(spec({ budgets: [50], baseline: baseline.file })), (e: unknown) => e instanceof UsageError && /budget/.test(e.message));
  await assert.rejects(() => runAttack(spec({ attack: 'jbda', budgets: [60], baseline: baseline.file })), (e: unknown) => e instanceof UsageError && /attack/.test(e.message));
  await assert.rejects(
    () => runAttack(spec({ baseline: path.join(defended.config.out as string, 'result.json') })),
    (e: unknown) => e instanceof UsageError && /undefended/.test(e.message),
  );
});

test('the defender utility row: defended and undefended accuracy, distortion, invariants', async () => {
  const r = await runAttack(spec({ defense: { name: 'top-k', k: 1 } }));
  assert.equal(r.defender.testCount, 300);
  assert.equal(r.defender.accuracyDefended, r.defender.accuracyUndefended, 'top-1 keeps argmax');
  assert.equal(r.defender.test.top1ChangeRate, 0);
  assert.equal(r.defender.test.simplexViolations, 0);
  assert.ok(r.defender.test.l1.mean > 0 && r.defender.test.kl.mean > 0);
  assert.equal(r.runs[0]!.queryDistortion.queries, 60);
});

test('a second runAttack leaves tf.memory().numTensors unchanged', async () => {
  await runAttack(spec({ budgets: [20, 40], defense: { name: 'rounding', decimals: 1 } }));
  const before = tf.memory().numTensors;
  await runAttack(spec({ budgets: [20, 40], defense: { name: 'rounding', decimals: 1 } }));
  assert.equal(tf.memory().numTensors, before);
});

test('independent streams: --test-limit leaves the attacker’s released labels bit-identical (random noise, MAD random vertex)', async () => {
  const defenses = [
    { name: 'random-noise', epsZ: 1, norm: 'l1', dist: 'uniform' },
    { name: 'mad', eps: 0.5, ydist: 'l1', jacobian: 'closed', ablation: 'random-vertex', surrogate: null },
  ] as const;
  for (const defense of defenses) {
    const few = await spied(spec({ defense, testLimit: 100, training: { epochs: 1, lr: 0.1, momentum: 0.5, batchSize: 32, lrStep: 50, weightDecay: 0 } }));
    const many = await spied(spec({ defense, testLimit: 300, training: { epochs: 1, lr: 0.1, momentum: 0.5, batchSize: 32, lrStep: 50, weightDecay: 0 } }));
    assert.equal(few.result.defender.testCount, 100);
    assert.equal(many.result.defender.testCount, 300);
    assert.ok(Buffer.from(few.transfer.released.buffer).equals(Buffer.from(many.transfer.released.buffer)), `${defense.name}: the attacker's ỹ moved with --test-limit`);
    const plain = await spied(spec({ testLimit: 100, training: { epochs: 1, lr: 0.1, momentum: 0.5, batchSize: 32, lrStep: 50, weightDecay: 0 } }));
    assert.notDeepEqual(few.transfer.released, plain.transfer.released, `${defense.name} perturbs ỹ`);
  }
});
