/**
 * JBDA-TR (`jbtr`, SPEC-ADAPTIVE §3) against a live black box (a random LeNet victim, no defense):
 * exact budget accounting for every k, budget-independent prefixes, each new point inside the
 * ε-ball of an image of D and labelled where it lands, k different points per image, no leaked
 * tensors. As a user runs it: attack-jbtr-cli.test.ts.
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
import { attackDefinition } from '../src/attacks/registry.js';
import { attackSettingsOf, JACOBIAN_DEFAULTS } from '../src/attacks/names.js';
import type { AttackContext } from '../src/attacks/types.js';
import { normalise } from '../src/attacks/pixels.js';
import type { TransferSet } from '../src/attacks/transfer-set.js';
import { BlackBoxOracle } from '../src/attack-run/oracle.js';
import { inferencePosterior } from '../src/defenses/forward.js';

const input: InputSpec = { height: 28, width: 28, channels: 1, mean: [0.1307], std: [0.3081] };
const SEED = 10;
let victim: tf.LayersModel;
let seedPool: ImageSet;
let oracleOf: (budget: number) => BlackBoxOracle;

before(async () => {
  await initEngine({ backend: 'wasm' });
  victim = buildModel('lenet', { inputShape: [28, 28, 1], numClasses: 10, rng: new Rng(7) });
  seedPool = await loadImageSet('mnist', 'train', { limit: 200 });
  const undefended = await none.create({ name: none.name }, { numClasses: 10, inputShape: [28, 28, 1], arch: 'lenet', seed: 1 });
  oracleOf = (budget) => BlackBoxOracle.live(victim, undefended, input, budget);
});

async function runJbtr(budget: number, own: Record<string, number> = {}): Promise<{ transfer: TransferSet; oracle: BlackBoxOracle; rounds: number }> {
  const oracle = oracleOf(budget);
  let rounds = 0;
  let most = 0;
  const ctx: AttackContext = {
    oracle: {
      numClasses: 10,
      budget,
      get queriesUsed() {
        return oracle.queriesUsed;
      },
      async query(batch) {
        const out = await oracle.query(batch);
        most = Math.max(most, oracle.queriesUsed);
        return out;
      },
    },
    budget,
    rng: new Rng(3).fork('attack'),
    input,
    numClasses: 10,
    labelMode: 'probs',
    queryBatchSize: 8,
    buildSubstitute: (rng) => buildModel('lenet', { inputShape: [28, 28, 1], numClasses: 10, rng }),
    substituteBatchSize: 16,
    reporter: { roundStart: () => void rounds++ },
  };
  const definition = attackDefinition('jbtr');
  const jacobian = { ...JACOBIAN_DEFAULTS, seedSize: SEED, roundEpochs: 1 };
  const transfer = await definition.run(ctx, { seedPool, jacobian, settings: attackSettingsOf(definition.params, own) });
  assert.equal(most, budget, 'never more than the budget');
  return { transfer, oracle, rounds };
}

function pixelsOf(transfer: TransferSet): Float32Array {
  if (transfer.images.kind !== 'pixels') throw new Error('pixels expected');
  return transfer.images.pixels;
}

test('jbtr: the counter equals B exactly for k = 1, 2, 3 and budgets that do not divide evenly; D grows ×(k + 1) per round', async () => {
  for (const k of [1, 2, 3]) {
    for (const budget of [11, 37, 53]) {
      const r = await runJbtr(budget, { trPoints: k, trSteps: 2 });
      assert.equal(r.oracle.queriesUsed, budget, `k=${k} B=${budget}: black-box counter`);
      assert.equal(r.transfer.count, budget);
      assert.equal(r.transfer.released.length, budget * 10);
      // 10 → 10(k + 1) → 10(k + 1)² …: the rounds needed to pass B.
      let rounds = 0;
      for (let d = SEED; d < budget; d *= k + 1) rounds++;
      assert.equal(r.rounds, rounds, `k=${k} B=${budget}: rounds`);
    }
  }
});

test('jbtr: the first B queries do not depend on the budget', async () => {
  const small = await runJbtr(23, { trSteps: 3 });
  const large = await runJbtr(47, { trSteps: 3 });
  assert.deepEqual(large.transfer.released.subarray(0, 23 * 10), small.transfer.released);
  assert.deepEqual(pixelsOf(large.transfer).subarray(0, 23 * 784), pixelsOf(small.transfer));
});

test('jbtr: each new point lies in the ε-ball of an image of D and in [0, 1], k different points per image, labelled where it lands', async () => {
  const eps = 0.05;
  const k = 3;
  const { transfer } = await runJbtr(40, { trPoints: k, trEps: eps, trSteps: 4 });
  const pixels = pixelsOf(transfer);
  const size = 784;
  const row = (i: number): Float32Array => pixels.subarray(i * size, (i + 1) * size);
  const linf = (a: Float32Array, b: Float32Array): number => a.reduce((m, v, j) => Math.max(m, Math.abs(v - b[j]!)), 0);
  const sources = new Map<number, number[]>();
  for (let i = SEED; i < 40; i++) {
    const p = row(i);
    assert.ok(p.every((v) => v >= 0 && v <= 1), `point ${i} in [0, 1]`);
    let nearest = -1;
    for (let s = 0; s < SEED; s++) if (nearest < 0 || linf(p, row(s)) < linf(p, row(nearest))) nearest = s;
    assert.ok(linf(p, row(nearest)) <= eps + 1e-6, `point ${i}: ${linf(p, row(nearest))} from the nearest seed image`);
    assert.ok(linf(p, row(nearest)) > 0, `point ${i} moved`);
    sources.set(nearest, [...(sources.get(nearest) ?? []), i]);
  }
  assert.deepEqual([...sources.values()].map((points) => points.length).sort(), Array<number>(SEED).fill(k), 'every seed image gives k points');
  for (const points of sources.values()) {
    assert.equal(new Set(points.map((i) => row(i).join(','))).size, k, 'its k points differ (a random target per run and step)');
    assert.deepEqual(points, [points[0]!, points[0]! + 1, points[0]! + 2], 'image-major: an image\'s k points are consecutive');
  }
  const again = tf.tidy(() => inferencePosterior(victim, normalise(tf.tensor4d(pixels, [40, 28, 28, 1]), input)));
  const values = again.dataSync();
  again.dispose();
  for (let i = 0; i < values.length; i++) assert.ok(Math.abs(values[i]! - transfer.released[i]!) < 1e-5, `row ${Math.floor(i / 10)}`);
});

test('jbtr: a second run leaves tf.memory().numTensors unchanged', async () => {
  await runJbtr(30, { trSteps: 2 });
  const before = tf.memory().numTensors;
  await runJbtr(30, { trSteps: 2 });
  assert.equal(tf.memory().numTensors, before);
});
