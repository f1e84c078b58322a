/**
 * The restorer (src/adaptations/restorer.ts, D-DAE) on a synthetic black box: against reverse
 * sigmoid with known β, γ, the restored answers are closer to the clean posteriors than the
 * defended ones; the detector picks no defense against an undefended black box and the defense
 * against reverse sigmoid; one query per image; the same seed gives the same answers; no tensor
 * outlives the oracle. As a user runs it (and bad input): adapt-cli.test.ts.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../src/engine/backend.js';
import { restorer } from '../src/adaptations/restorer.js';
import { RestorerOracle } from '../src/adaptations/restorer-oracle.js';
import type { AdaptationContext, AdaptedOracle } from '../src/adaptations/types.js';
import type { QueryOracle } from '../src/attacks/types.js';
import type { ImageSet, InputSpec } from '../src/data/types.js';
import { buildModel } from '../src/models/registry.js';
import { Rng } from '../src/util/rng.js';
import { askAll, meanL1 as meanL1Of, syntheticBlackBox } from './helpers/synthetic-black-box.js';

const K = 10;
const meanL1 = (a: Float32Array, b: Float32Array): number => meanL1Of(a, b, K);
const INPUT: InputSpec = { height: 28, width: 28, channels: 1, mean: [0.1307], std: [0.3081] };
const SETTINGS = { restorerPrior: 'oracle', shadows: 2, shadowFraction: 0.5, shadowEpochs: 1, restorerSamples: 8, restorerEpochs: 400, concentration: 8 };

/** Reverse sigmoid, docs/spec.md: ỹ ∝ y − β(σ(γ·logit y) − ½), y clipped to [1e-9, 1 − 1e-9]. */
function reverseSigmoid(rows: Float32Array, beta = 1, gamma = 0.2): Float32Array {
  const out = new Float32Array(rows.length);
  for (let r = 0; r < rows.length / K; r++) {
    let sum = 0;
    for (let k = 0; k < K; k++) {
      const y = Math.min(Math.max(rows[r * K + k]!, 1e-9), 1 - 1e-9);
      const f = rows[r * K + k]! - beta * (1 / (1 + Math.exp(-gamma * Math.log(y / (1 - y)))) - 0.5);
      sum += out[r * K + k] = f;
    }
    for (let k = 0; k < K; k++) out[r * K + k] = out[r * K + k]! / sum;
  }
  return out;
}

/** Clean posteriors of `count` images, peaked on a random class with a random confidence, as a trained victim's are. */
function cleanRows(count: number, seed = 11): Float32Array {
  const rng = new Rng(seed);
  const rows = new Float32Array(count * K);
  for (let i = 0; i < count; i++) {
    const top = rng.int(K);
    const peak = 2 + 30 * rng.next();
    let sum = 0;
    for (let k = 0; k < K; k++) sum += rows[i * K + k] = (k === top ? peak : 0) + rng.next();
    for (let k = 0; k < K; k++) rows[i * K + k] = rows[i * K + k]! / sum;
  }
  return rows;
}


/** 40 random 28×28 images, labelled by a random class: enough for shadows to run through. */
function tinyImageSet(): ImageSet {
  const rng = new Rng(3);
  const count = 40;
  return {
    dataset: 'mnist', split: 'train', count, height: 28, width: 28, channels: 1, numClasses: K, source: 'test',
    pixels: Uint8Array.from({ length: count * 784 }, () => rng.int(256)),
    labels: Int32Array.from({ length: count }, () => rng.int(K)),
  };
}

function context(clean: Float32Array, settings: Record<string, number | string> = SETTINGS, seed = 5): AdaptationContext {
  return {
    settings,
    rng: new Rng(seed).fork('adapt'),
    input: INPUT,
    family: 'mnist',
    numClasses: K,
    standInDefense: () => Promise.resolve({ apply: (rows: Float32Array) => Promise.resolve(reverseSigmoid(rows)) }),
    cleanAnswers: (from, count) => clean.slice(from * K, (from + count) * K),
    inDomainSample: (fraction, rng) => {
      const set = tinyImageSet();
      const keep = Math.round(fraction * set.count);
      const picked = rng.sampleWithoutReplacement(set.count, keep);
      return Promise.resolve({ ...set, count: keep, pixels: set.pixels.slice(0, keep * 784), labels: Int32Array.from(picked, (i) => set.labels[i]!) });
    },
    victimArchitecture: (rng) => buildModel('lenet', { inputShape: [28, 28, 1], numClasses: K, rng }),
  };
}

/** The shadow path with a given table: rows of the same kind as the clean posteriors, other draws. */
function shadowOracle(blackBox: QueryOracle, clean: Float32Array, epochs = 400): RestorerOracle {
  const ctx = context(clean, { ...SETTINGS, restorerPrior: 'shadow' });
  return new RestorerOracle(blackBox, { apply: (rows) => Promise.resolve(reverseSigmoid(rows)) }, ctx, {
    prior: 'shadow', shadow: cleanRows(600, 99), samples: 8, epochs, concentration: 8,
  });
}

before(async () => {
  await initEngine({ backend: 'wasm' });
});

test('restorer (shadow table) against reverse sigmoid β=1: restored answers are closer to the clean posteriors than the defended ones', async () => {
  const clean = cleanRows(64);
  const blackBox = syntheticBlackBox(clean, K, reverseSigmoid);
  const oracle = shadowOracle(blackBox, clean);
  try {
    const restored = await askAll(oracle, [32, 32]);
    assert.equal(blackBox.queriesUsed, 64, 'one query per image');
    assert.equal(oracle.queriesUsed, 64);
    const defended = meanL1(reverseSigmoid(clean), clean);
    const after = meanL1(restored, clean);
    assert.ok(after < 0.5 * defended, `mean L1 to the clean posteriors: restored ${after.toFixed(4)}, defended ${defended.toFixed(4)}`);
    assert.equal(oracle.report().detector, 'defense');
    for (let i = 0; i < 64; i++) {
      assert.ok(Math.abs(restored.subarray(i * K, (i + 1) * K).reduce((a, b) => a + b, 0) - 1) < 1e-4, 'each restored answer is a probability vector');
    }
  } finally {
    oracle.dispose();
  }
});

test('restorer: the detector passes an undefended black box\'s answers unchanged, and picks the defense against reverse sigmoid', async () => {
  const clean = cleanRows(32);
  const undefended = shadowOracle(syntheticBlackBox(clean, K, (rows) => rows), clean);
  const answers = await askAll(undefended, [16, 16]);
  assert.deepEqual(answers, clean, 'no defense detected: the answers pass unchanged');
  const report = undefended.report();
  assert.equal(report.detector, 'none');
  assert.equal(report.restorerTrainings, 0, 'R is not trained when no defense is detected');
  undefended.dispose();
  for (const prior of ['oracle'] as const) {
    const none = await restorer.wrap(syntheticBlackBox(clean, K, (rows) => rows), context(clean, { ...SETTINGS, restorerPrior: prior }));
    assert.deepEqual(await askAll(none, [16, 16]), clean);
    assert.equal(none.report?.().detector, 'none', `${prior} prior against no defense`);
    none.dispose?.();
    const rs = await restorer.wrap(syntheticBlackBox(clean, K, reverseSigmoid), context(clean, { ...SETTINGS, restorerPrior: prior }));
    await askAll(rs, [16, 16]);
    assert.equal(rs.report?.().detector, 'defense', `${prior} prior against reverse sigmoid`);
    rs.dispose?.();
  }
});

test('restorer with the oracle prior restores per batch; the answer prior assumes the defense; attackerKnows follows the prior', async () => {
  const clean = cleanRows(48);
  const oracle = await restorer.wrap(syntheticBlackBox(clean, K, reverseSigmoid), context(clean));
  const restored = await askAll(oracle, [16, 16, 16]);
  const report = oracle.report?.();
  oracle.dispose?.();
  assert.ok(meanL1(restored, clean) < 0.5 * meanL1(reverseSigmoid(clean), clean), `oracle prior: restored ${meanL1(restored, clean).toFixed(4)}`);
  assert.equal(report?.restorerTrainings, 3, 'one warm retraining per answer batch');
  assert.equal(report?.tableRows, 48 * 8);
  const answer = await restorer.wrap(syntheticBlackBox(clean, K, reverseSigmoid), context(clean, { ...SETTINGS, restorerPrior: 'answer' }));
  await askAll(answer, [24, 24]);
  assert.equal(answer.report?.().detector, 'assumed');
  answer.dispose?.();
  assert.equal(restorer.attackerKnows({ ...SETTINGS, restorerPrior: 'oracle' }), 'oracle');
  assert.equal(restorer.attackerKnows({ ...SETTINGS, restorerPrior: 'shadow' }), 'defense-params');
  assert.equal(restorer.attackerKnows({ ...SETTINGS, restorerPrior: 'answer' }), 'defense-params');
});

test('restorer with shadow models: same seed, same answers; no tensor outlives the oracle', async () => {
  const clean = cleanRows(24);
  const settings = { ...SETTINGS, restorerPrior: 'shadow', restorerEpochs: 5 };
  const run = async (seed: number): Promise<{ answers: Float32Array; report: Record<string, unknown> | undefined }> => {
    const oracle: AdaptedOracle = await restorer.wrap(syntheticBlackBox(clean, K, reverseSigmoid), context(clean, settings, seed));
    try {
      return { answers: await askAll(oracle, [12, 12]), report: oracle.report?.() };
    } finally {
      oracle.dispose?.();
    }
  };
  const first = await run(5);
  const tensors = tf.memory().numTensors;
  const second = await run(5);
  assert.equal(tf.memory().numTensors, tensors, 'a second run leaves no tensor behind');
  assert.deepEqual(second.answers, first.answers);
  assert.deepEqual(second.report, first.report);
  assert.equal(first.report?.tableRows, 2 * 20, 'S × the in-domain sample');
  const other = await run(6);
  assert.notDeepEqual(other.report?.detectorDistances, first.report?.detectorDistances, 'another seed, other shadows');
});
