/**
 * The black box: exact budget accounting, streaming statistics that match a float64 recomputation,
 * invariant violations counted as metrics, and no tensors left behind. (Replays from the posterior
 * cache are tested end to end, against a live victim, in attack-run.test.ts.)
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../src/engine/backend.js';
import { BudgetExceededError } from '../src/blackbox/types.js';
import { victimBlackBox } from '../src/blackbox/victim.js';
import { KL_FLOOR, type QueryStatsReport } from '../src/blackbox/stats.js';
import { defineDefense } from '../src/defenses/base.js';
import { inferencePosterior } from '../src/defenses/forward.js';
import { createDefense } from '../src/defenses/create.js';
import { parseDefenseSpec } from '../src/defenses/params.js';
import type { Defense, DefenseContext } from '../src/defenses/types.js';
import { buildModel } from '../src/models/registry.js';
import { Rng } from '../src/util/rng.js';

const K = 10;
let victim: tf.LayersModel;
let ctx: DefenseContext;
let batches: tf.Tensor4D[];

before(async () => {
  await initEngine({ backend: 'wasm' });
  victim = buildModel('lenet', { inputShape: [28, 28, 1], numClasses: K, rng: new Rng(31) });
  ctx = { numClasses: K, inputShape: [28, 28, 1], arch: 'lenet', seed: 32 };
  batches = [50, 37, 13].map((n, i) => tf.randomNormal([n, 28, 28, 1], 0, 1.5, 'float32', 40 + i) as tf.Tensor4D);
});

after(() => {
  victim.dispose();
  tf.dispose(batches);
});

async function defense(name: string, flags: Record<string, string> = {}): Promise<Defense> {
  return createDefense(parseDefenseSpec(name, flags), ctx);
}

test('every image counts once; a batch past the budget is refused whole and not counted', async () => {
  const d = await defense('none');
  const box = victimBlackBox(victim, d, { budget: 60 });
  assert.equal(box.remaining, 60);
  (await box.query(batches[0]!)).dispose();
  assert.deepEqual([box.used, box.remaining], [50, 10]);
  await assert.rejects(box.query(batches[2]!), (err: unknown) => err instanceof BudgetExceededError && /13 more queries asked with 50 of 60/.test(err.message));
  assert.equal(box.used, 50);
  const few = batches[2]!.slice(0, 10);
  (await box.query(few)).dispose();
  assert.deepEqual([box.used, box.remaining], [60, 0]);
  await assert.rejects(box.query(few.slice(0, 1)), BudgetExceededError);
  const empty = await box.query(few.slice(0, 0));
  assert.deepEqual(empty.shape, [0, K]);
  empty.dispose();
  few.dispose();
  assert.equal(box.stats().queries, 60);
  await assert.rejects(box.query(tf.zeros([2, 32, 32, 3]) as tf.Tensor4D), /black box takes images \[B, 28, 28, 1\]/);
  assert.equal(victimBlackBox(victim, d).budget, Infinity);
  assert.throws(() => victimBlackBox(victim, d, { budget: 2.5 }), /whole number/);
  d.dispose();
});

/** Float64 recomputation of every statistic from all clean and released rows. */
function reference(clean: number[][], released: number[][]): Omit<QueryStatsReport, 'simplexViolations' | 'epsBallViolations'> {
  const l1: number[] = [];
  const l2: number[] = [];
  const kl: number[] = [];
  let changed = 0;
  const argmax = (r: number[]): number => r.indexOf(Math.max(...r));
  clean.forEach((y, i) => {
    const r = released[i]!;
    l1.push(y.reduce((s, v, j) => s + Math.abs(v - r[j]!), 0));
    l2.push(Math.sqrt(y.reduce((s, v, j) => s + (v - r[j]!) ** 2, 0)));
    kl.push(y.reduce((s, v, j) => s + (v > 0 ? v * (Math.log(v) - Math.log(Math.max(r[j]!, KL_FLOOR))) : 0), 0));
    if (argmax(y) !== argmax(r)) changed++;
  });
  const summary = (v: number[]): { mean: number; std: number } => {
    const mean = v.reduce((a, b) => a + b, 0) / v.length;
    return { mean, std: Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length) };
  };
  return { queries: clean.length, l1: summary(l1), l2: summary(l2), kl: summary(kl), top1Changed: changed, top1ChangeRate: changed / clean.length };
}

function assertClose(actual: number, expected: number, what: string, tol = 1e-5): void {
  assert.ok(Math.abs(actual - expected) <= tol * Math.max(1, Math.abs(expected)), `${what}: ${actual} vs ${expected}`);
}

test('streaming statistics match a float64 recomputation over all queries', async () => {
  for (const [name, flags] of [
    ['mad', { eps: '0.8' }],
    ['top-k', { k: '2' }],
    ['reverse-sigmoid', { beta: '0.7', gamma: '0.3' }],
    ['random-noise', { 'noise-eps': '2', 'noise-norm': 'l2' }],
  ] as const) {
    const d = await defense(name, flags);
    const box = victimBlackBox(victim, d);
    const clean: number[][] = [];
    const released: number[][] = [];
    for (const x of batches) {
      const y = inferencePosterior(victim, x);
      clean.push(...((await y.array())));
      y.dispose();
      const r = await box.query(x);
      released.push(...((await r.array())));
      r.dispose();
    }
    const got = box.stats();
    const want = reference(clean, released);
    assert.equal(got.queries, 100);
    for (const m of ['l1', 'l2', 'kl'] as const) {
      assertClose(got[m].mean, want[m].mean, `${name} ${m} mean`);
      assertClose(got[m].std, want[m].std, `${name} ${m} std`, 1e-4);
    }
    assert.equal(got.top1Changed, want.top1Changed, `${name} top-1 changes`);
    assert.equal(got.top1ChangeRate, want.top1Changed / 100);
    assert.equal(got.simplexViolations, 0, `${name} simplex`);
    assert.equal(got.epsBallViolations, name === 'mad' ? 0 : null, `${name} ε-ball`);
    if (name === 'mad') assertClose(got.l1.mean, 0.8, 'MAD uses its whole L1 budget');
    if (name === 'top-k') assert.ok(got.kl.mean > 1 && Number.isFinite(got.kl.mean), 'zeroed entries give a large, finite KL');
    d.dispose();
  }
});

test('invariant violations are counted as metrics: off the simplex, NaN, negative, outside the ε-ball', async () => {
  // Rows 0–3 break something on purpose, row 4 is y itself:
  //   0: 1.5·y (sums to 1.5, L1 0.5)   1: NaN   2: (−0.1, 1.1, 0, …)   3: e₉ (on the simplex, L1 > 0.1)
  const broken = defineDefense({
    spec: { name: 'mad', eps: 0.1, ydist: 'l1', jacobian: 'closed', ablation: 'none', surrogate: null },
    numClasses: K,
    ball: { eps: 0.1, norm: 'l1' },
    transform: (y) => {
      const rest = tf.slice(y, [4, 0], [y.shape[0] - 4, K]);
      const negative = tf.tensor2d([[-0.1, 1.1, 0, 0, 0, 0, 0, 0, 0, 0]]);
      const corner = tf.oneHot(tf.tensor1d([9], 'int32'), K).toFloat();
      return tf.concat([tf.mul(tf.slice(y, [0, 0], [1, K]), 1.5), tf.fill([1, K], NaN), negative, corner, rest]) as tf.Tensor2D;
    },
  });
  const box = victimBlackBox(victim, broken);
  (await box.query(batches[2]!.slice(0, 5))).dispose();
  const s = box.stats();
  assert.equal(s.simplexViolations, 3);
  assert.equal(s.epsBallViolations, 4);
});

test('statistics do not depend on how queries are batched', async () => {
  const all = tf.concat(batches);
  const one = victimBlackBox(victim, await defense('mad-argmax', { eps: '0.4', ydist: 'l2' }));
  (await one.query(all)).dispose();
  const many = victimBlackBox(victim, await defense('mad-argmax', { eps: '0.4', ydist: 'l2' }));
  for (const x of batches) (await many.query(x)).dispose();
  const [a, b] = [one.stats(), many.stats()];
  for (const m of ['l1', 'l2', 'kl'] as const) {
    assertClose(a[m].mean, b[m].mean, `${m} mean`, 1e-6);
    assertClose(a[m].std, b[m].std, `${m} std`, 1e-4);
  }
  assert.equal(a.top1Changed, b.top1Changed);
  all.dispose();
});

test('ε = 0 through the black box releases the victim posterior bit for bit', async () => {
  const none = victimBlackBox(victim, await defense('none'));
  const mad = victimBlackBox(victim, await defense('mad-argmax', { eps: '0' }));
  const [a, b] = [await none.query(batches[1]!), await mad.query(batches[1]!)];
  assert.ok(Buffer.from((await a.data()).buffer).equals(Buffer.from((await b.data()).buffer)));
  assert.equal(mad.stats().l1.mean, 0);
  tf.dispose([a, b]);
});

test('a second run of the black box leaves the tensor count unchanged', async () => {
  const run = async (): Promise<void> => {
    const d = await defense('mad-argmax', { eps: '0.5' });
    const box = victimBlackBox(victim, d);
    for (const x of batches) (await box.query(x)).dispose();
    d.dispose();
  };
  await run();
  const before = tf.memory().numTensors;
  await run();
  assert.equal(tf.memory().numTensors, before);
});
