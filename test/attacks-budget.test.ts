/**
 * The attacks against a live black box (a random LeNet victim, no defense): exact budget
 * accounting for every attack and k, budget-independent prefixes, labels belonging to the very
 * point stored, pixel-space clipping, and no leaked tensors on a second run.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../src/engine/backend.js';
import { loadImageSet } from '../src/data/index.js';
import type { ImageSet, InputSpec } from '../src/data/types.js';
import { buildModel } from '../src/models/registry.js';
import { Rng } from '../src/util/rng.js';
import { none } from '../src/defenses/none.js';
import type { Defense } from '../src/defenses/types.js';
import { attackDefinition } from '../src/attacks/registry.js';
import { attackSettingsOf, JACOBIAN_DEFAULTS, type AttackName, type JacobianSettings, type LabelMode } from '../src/attacks/names.js';
import type { AttackContext, QueryOracle } from '../src/attacks/types.js';
import { normalise } from '../src/attacks/pixels.js';
import { roundHalfEven, roundLambda } from '../src/attacks/jacobian-rounds.js';
import { transferBatchSource, type TransferSet } from '../src/attacks/transfer-set.js';
import { BlackBoxOracle } from '../src/attack-run/oracle.js';
import { inferencePosterior } from '../src/defenses/forward.js';

const input: InputSpec = { height: 28, width: 28, channels: 1, mean: [0.1307], std: [0.3081] };
let victim: tf.LayersModel;
let seedPool: ImageSet;
let pool: ImageSet;
let undefended: Defense;

before(async () => {
  await initEngine({ backend: 'wasm' });
  victim = buildModel('lenet', { inputShape: [28, 28, 1], numClasses: 10, rng: new Rng(7) });
  seedPool = await loadImageSet('mnist', 'train', { limit: 200 });
  pool = await loadImageSet('mnist', 'test', { limit: 300 });
  undefended = await none.create({ name: none.name }, { numClasses: 10, inputShape: [28, 28, 1], arch: 'lenet', seed: 1 });
});

/**
 * Counts every image the attack sends, itself (not through the black box's counter it checks),
 * and fails the test before a batch that would pass the budget reaches the black box.
 */
class StrictOracle implements QueryOracle {
  readonly inner: BlackBoxOracle;
  /** Images sent, counted here from the batches' shapes. */
  imagesSent = 0;
  constructor(budget: number) {
    this.inner = BlackBoxOracle.live(victim, undefended, input, budget);
  }
  get numClasses(): number {
    return 10;
  }
  get budget(): number {
    return this.inner.budget;
  }
  get queriesUsed(): number {
    return this.inner.queriesUsed;
  }
  async query(batch: Parameters<QueryOracle['query']>[0]): Promise<Float32Array> {
    const n = batch.pixels.shape[0];
    assert.ok(this.imagesSent + n <= this.inner.budget, `a batch of ${n} after ${this.imagesSent} images passes the budget ${this.inner.budget}`);
    this.imagesSent += n;
    const out = await this.inner.query(batch);
    assert.equal(out.length, n * 10, 'one answer row per image');
    return out;
  }
}

function settings(overrides: Partial<JacobianSettings> = {}): JacobianSettings {
  return { ...JACOBIAN_DEFAULTS, seedSize: 10, roundEpochs: 1, kappa: 6, sigma: 2, ...overrides };
}

async function runAttack(
  name: AttackName,
  budget: number,
  jacobian: JacobianSettings,
  opts: { labelMode?: LabelMode; queryBatchSize?: number } = {},
): Promise<{ transfer: TransferSet; oracle: StrictOracle }> {
  const oracle = new StrictOracle(budget);
  const ctx: AttackContext = {
    oracle,
    budget,
    rng: new Rng(3).fork('attack'),
    input,
    numClasses: 10,
    labelMode: opts.labelMode ?? 'probs',
    queryBatchSize: opts.queryBatchSize ?? 8,
    buildSubstitute: (rng) => buildModel('lenet', { inputShape: [28, 28, 1], numClasses: 10, rng }),
    substituteBatchSize: 16,
  };
  const transfer = await attackDefinition(name).run(ctx, { pool, seedPool, jacobian, settings: attackSettingsOf(attackDefinition(name).params, {}) });
  return { transfer, oracle };
}

function assertExact(name: string, budget: number, r: { transfer: TransferSet; oracle: StrictOracle }): void {
  assert.equal(r.oracle.queriesUsed, budget, `${name}: black-box counter`);
  assert.equal(r.oracle.imagesSent, budget, `${name}: images sent (counted apart from the black box)`);
  assert.equal(r.transfer.count, budget, `${name}: transfer set size`);
  assert.equal(r.transfer.released.length, budget * 10);
}

test('knockoff: exactly B distinct pool images, answered in order', async () => {
  const r = await runAttack('knockoff', 37, settings(), { queryBatchSize: 10 });
  assertExact('knockoff', 37, r);
  assert.ok(r.transfer.images.kind === 'pool', r.transfer.images.kind);
  assert.equal(new Set(r.transfer.images.indices).size, 37, 'distinct images');
  await assert.rejects(() => runAttack('knockoff', 301, settings()), /larger than the query pool/);
});

test('jbda and jbself: counter equals B exactly for budgets that do not divide evenly', async () => {
  for (const name of ['jbda', 'jbself'] as const) {
    for (const budget of [10, 11, 37, 53]) {
      assertExact(`${name} B=${budget}`, budget, await runAttack(name, budget, settings()));
    }
  }
});

test('jbtop: counter equals B exactly for k = 1, 2, 3, 5', async () => {
  for (const k of [1, 2, 3, 5]) {
    for (const budget of [37, 41]) {
      assertExact(`jbtop k=${k} B=${budget}`, budget, await runAttack('jbtop', budget, settings({ topK: k })));
    }
  }
});

test('a budget below the seed set is refused before any query', async () => {
  await assert.rejects(() => runAttack('jbda', 9, settings()), /smaller than the seed set/);
});

test('the first B queries do not depend on the budget (one transfer set serves every budget)', async () => {
  for (const name of ['knockoff', 'jbda', 'jbtop'] as const) {
    const small = await runAttack(name, 23, settings());
    const large = await runAttack(name, 37, settings());
    assert.deepEqual(large.transfer.released.subarray(0, 23 * 10), small.transfer.released, `${name}: answers`);
    if (small.transfer.images.kind === 'pixels' && large.transfer.images.kind === 'pixels') {
      assert.deepEqual(large.transfer.images.pixels.subarray(0, small.transfer.images.pixels.length), small.transfer.images.pixels);
    }
  }
});

test('jbda and jbself store the very point they queried, clipped to [0, 1] in pixel space', async () => {
  for (const name of ['jbda', 'jbself', 'jbtop'] as const) {
    const { transfer } = await runAttack(name, 30, settings());
    assert.ok(transfer.images.kind === 'pixels', transfer.images.kind);
    const pixels = transfer.images.pixels;
    let min = Infinity;
    let max = -Infinity;
    for (const v of pixels) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    assert.ok(min >= 0 && max <= 1, `${name}: pixels in [0, 1], got [${min}, ${max}]`);
    // Asking the victim again about the stored points gives the stored answers.
    const again = tf.tidy(() => inferencePosterior(victim, normalise(tf.tensor4d(pixels, [30, 28, 28, 1]), input)));
    const values = again.dataSync();
    again.dispose();
    for (let i = 0; i < values.length; i++) assert.ok(Math.abs(values[i]! - transfer.released[i]!) < 1e-5, `${name}: row ${Math.floor(i / 10)}`);
  }
});

test('jbda and jbself step in opposite directions from the same seed images', async () => {
  // With κ = none and one round the augmented rows are made from the seed rows in order.
  const jbda = await runAttack('jbda', 20, settings({ kappa: null }));
  const jbself = await runAttack('jbself', 20, settings({ kappa: null }));
  if (jbda.transfer.images.kind !== 'pixels' || jbself.transfer.images.kind !== 'pixels') throw new Error('pixels expected');
  const a = jbda.transfer.images.pixels;
  const b = jbself.transfer.images.pixels;
  const size = 28 * 28;
  let opposite = 0;
  let interior = 0;
  let moved = 0;
  for (let i = 0; i < 10; i++) {
    for (let p = 0; p < size; p++) {
      const x = a[i * size + p]!;
      assert.equal(x, b[i * size + p], 'the seed rows are the same images');
      const up = a[(10 + i) * size + p]! - x;
      const down = b[(10 + i) * size + p]! - x;
      if (x >= 0.1 && x <= 0.9) {
        interior++;
        // sign(∂) is 0 where the substitute's gradient is exactly 0: such a pixel stays put in
        // both attacks, which a change of the random streams can produce for a pixel or two.
        const still = Math.abs(up) < 1e-6;
        assert.ok(still || Math.abs(Math.abs(up) - 0.1) < 1e-6, `jbda moves an interior pixel by λ or not at all, got ${up}`);
        if (!still) moved++;
        if (Math.abs(up + down) < 1e-6) opposite++;
      }
    }
  }
  assert.ok(interior > 100);
  assert.ok(moved > 0.95 * interior, `jbda moved ${moved} of ${interior} interior pixels`);
  assert.equal(opposite, interior, 'jbself steps exactly against jbda');
});

test('label mode argmax trains on one-hot top-1 rows', async () => {
  const { transfer } = await runAttack('jbda', 15, settings(), { labelMode: 'argmax' });
  const source = transferBatchSource(transfer, 15, 'argmax');
  const { x, y } = source.batch(Int32Array.from({ length: 15 }, (_, i) => i));
  const targets = y.arraySync();
  x.dispose();
  y.dispose();
  targets.forEach((row, i) => {
    assert.equal(row.reduce((a, b) => a + b, 0), 1);
    const top = transfer.released.subarray(i * 10, (i + 1) * 10);
    assert.equal(row.indexOf(1), top.indexOf(Math.max(...top)));
  });
});

test('λ flips sign with period τ like the reference (Python rounding)', () => {
  assert.equal(roundHalfEven(0.5), 0);
  assert.equal(roundHalfEven(1.5), 2);
  assert.equal(roundHalfEven(2.5), 2);
  const signs = Array.from({ length: 13 }, (_, r) => Math.sign(roundLambda(0.1, r, 5)));
  assert.deepEqual(signs, [1, 1, 1, -1, -1, -1, -1, -1, 1, 1, 1, 1, 1]);
});

test('a second attack run leaves tf.memory().numTensors unchanged', async () => {
  const rounds = async (name: AttackName, budget: number, jacobian: JacobianSettings): Promise<number> => {
    let trainings = 0;
    const oracle = new StrictOracle(budget);
    await attackDefinition(name).run(
      {
        oracle,
        budget,
        rng: new Rng(3).fork('attack'),
        input,
        numClasses: 10,
        labelMode: 'probs',
        queryBatchSize: 8,
        buildSubstitute: (rng) => buildModel('lenet', { inputShape: [28, 28, 1], numClasses: 10, rng }),
        substituteBatchSize: 16,
        reporter: { roundStart: () => void trainings++ },
      },
      { pool, seedPool, jacobian, settings: {} },
    );
    return trainings;
  };
  await rounds('jbtop', 25, settings({ topK: 2 }));
  await rounds('jbda', 25, settings());
  await rounds('knockoff', 25, settings());
  const before = tf.memory().numTensors;
  let trainings = 0;
  trainings += await rounds('jbtop', 25, settings({ topK: 2 }));
  trainings += await rounds('jbda', 25, settings());
  trainings += await rounds('jbself', 25, settings());
  trainings += await rounds('knockoff', 25, settings());
  assert.ok(trainings >= 3);
  assert.equal(tf.memory().numTensors, before);
});

test('knockoff-adaptive against the live black box: exactly B distinct images of the drawn classes, budget-independent prefixes, no leaked tensors', async () => {
  const definition = attackDefinition('knockoff-adaptive');
  const run = async (budget: number, reward: string): Promise<{ transfer: TransferSet; oracle: StrictOracle }> => {
    const oracle = new StrictOracle(budget);
    const ctx: AttackContext = {
      oracle,
      budget,
      rng: new Rng(3).fork('attack'),
      input,
      numClasses: 10,
      labelMode: 'probs',
      queryBatchSize: 5,
      buildSubstitute: (rng) => buildModel('lenet', { inputShape: [28, 28, 1], numClasses: 10, rng }),
      substituteBatchSize: 16,
    };
    const settings = attackSettingsOf(definition.params, { banditBatch: 8, refitEvery: 16, reward });
    const transfer = await definition.run(ctx, { pool, seedPool, jacobian: JACOBIAN_DEFAULTS, settings });
    return { transfer, oracle };
  };
  const full = await run(37, 'all');
  assertExact('knockoff-adaptive', 37, full);
  const images = full.transfer.images;
  assert.ok(images.kind === 'pool', images.kind);
  assert.equal(new Set(images.indices).size, 37, 'distinct images');
  const trace = full.transfer.policy;
  assert.ok(trace, 'a policy trace');
  assert.deepEqual(trace.labels, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  images.indices.forEach((i, j) => assert.equal(pool.labels[i], trace.labels[trace.actions[j]!]));
  assert.deepEqual(trace.snapshots.map((s) => s.queries), [0, 16, 32, 37], 'start, after each refit, end');
  for (const s of trace.snapshots) assert.ok(Math.abs(s.policy.reduce((a, b) => a + b, 0) - 1) <= 1e-6);
  // The first 20 (a cut inside the third round of 8, after a refit) are the run at 20.
  const part = await run(20, 'all');
  assertExact('knockoff-adaptive B=20', 20, part);
  assert.ok(part.transfer.images.kind === 'pool', part.transfer.images.kind);
  assert.deepEqual(Array.from(part.transfer.images.indices), Array.from(images.indices.subarray(0, 20)));
  assert.deepEqual(Array.from(part.transfer.released), Array.from(full.transfer.released.subarray(0, 200)));
  await assert.rejects(() => run(301, 'cert'), /larger than the query pool/);
  await run(20, 'loss');
  const before = tf.memory().numTensors;
  await run(20, 'loss');
  await run(37, 'all');
  assert.equal(tf.memory().numTensors, before);
});
