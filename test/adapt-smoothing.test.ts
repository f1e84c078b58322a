/**
 * The smoothing attacker (src/adaptations/smoothing.ts) on a stand-in black box: budgets count
 * queries exactly, the mean of QPI noisy answers is closer to the clean answer than one answer,
 * a larger budget asks the same views of its first images. As a user runs it: adapt-cli.test.ts.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../src/engine/backend.js';
import { smoothing } from '../src/adaptations/smoothing.js';
import type { QueryBatch, QueryOracle } from '../src/attacks/types.js';
import type { InputSpec } from '../src/data/types.js';
import { Rng } from '../src/util/rng.js';

const K = 10;
const INPUT: InputSpec = { height: 28, width: 28, channels: 1, mean: [0.1307], std: [0.3081] };
const CLEAN = Float32Array.from({ length: K }, (_, k) => (k + 1) / ((K * (K + 1)) / 2));

/**
 * A black box of `budget` queries whose clean answer is CLEAN for every image and whose defense
 * adds zero-mean uniform noise of width `noise` (renormalised); it keeps every image it was asked.
 */
function noisyBlackBox(budget: number, noise: number, seed = 7): QueryOracle & { asked: Float32Array[] } {
  const rng = new Rng(seed);
  let used = 0;
  const asked: Float32Array[] = [];
  return {
    numClasses: K,
    budget,
    asked,
    get queriesUsed() {
      return used;
    },
    async query(batch: QueryBatch) {
      const n = batch.pixels.shape[0];
      if (used + n > budget) throw new Error(`refused: ${used} + ${n} > ${budget}`);
      used += n;
      const pixels = (await batch.pixels.data()) as Float32Array;
      const size = pixels.length / n;
      for (let i = 0; i < n; i++) asked.push(pixels.slice(i * size, (i + 1) * size));
      const out = new Float32Array(n * K);
      for (let i = 0; i < n; i++) {
        let sum = 0;
        for (let k = 0; k < K; k++) sum += out[i * K + k] = CLEAN[k]! + noise * (rng.next() - 0.5);
        for (let k = 0; k < K; k++) out[i * K + k] = out[i * K + k]! / sum;
      }
      return out;
    },
  };
}

function images(n: number, seed: number): tf.Tensor4D {
  const rng = new Rng(seed);
  return tf.tensor4d(Float32Array.from({ length: n * 28 * 28 }, () => rng.next()), [n, 28, 28, 1]);
}

/** Asks the same images (one seeded set) in batches of the given sizes. */
async function ask(oracle: QueryOracle, batches: number[], seed = 3): Promise<Float32Array[]> {
  const all = images(batches.reduce((a, b) => a + b, 0), seed);
  const answers: Float32Array[] = [];
  let first = 0;
  try {
    for (const n of batches) {
      const x = all.slice([first, 0, 0, 0], [n, 28, 28, 1]);
      try {
        answers.push(await oracle.query({ pixels: x }));
      } finally {
        x.dispose();
      }
      first += n;
    }
  } finally {
    all.dispose();
  }
  return answers;
}

const wrap = (blackBox: QueryOracle, qpi: number): Promise<QueryOracle> =>
  smoothing.wrap(blackBox, {
    settings: { qpi },
    rng: new Rng(5).fork('adapt'),
    input: INPUT,
    family: 'mnist',
    numClasses: K,
    standInDefense: () => Promise.reject(new Error('smoothing needs no stand-in')),
    cleanAnswers: () => {
      throw new Error('smoothing reads no clean answers');
    },
  });

before(async () => {
  await initEngine({ backend: 'wasm' });
});

test('smoothing spends exactly QPI queries per image and never passes the query budget', async () => {
  const tensorsBefore = tf.memory().numTensors;
  const blackBox = noisyBlackBox(31, 0);
  const oracle = await wrap(blackBox, 3);
  assert.equal(oracle.budget, 10, 'floor(31 / 3) images');
  await ask(oracle, [4, 4, 2]);
  assert.equal(oracle.queriesUsed, 10);
  assert.equal(blackBox.queriesUsed, 30);
  await assert.rejects(ask(oracle, [1]), /budget of 10 images/);
  assert.equal(blackBox.queriesUsed, 30, 'a refused image costs no query');
  assert.equal(tf.memory().numTensors, tensorsBefore, 'the views are disposed');
});

test('smoothing: the mean of QPI noisy answers is closer to the clean answer than a single answer', async () => {
  const l1 = (rows: Float32Array[]): number => {
    let total = 0;
    let count = 0;
    for (const r of rows) {
      for (let i = 0; i < r.length / K; i++, count++) for (let k = 0; k < K; k++) total += Math.abs(r[i * K + k]! - CLEAN[k]!);
    }
    return total / count;
  };
  // Noise of width 0.03 keeps every entry of CLEAN (≥ 1/55) positive.
  const single = l1(await ask(await wrap(noisyBlackBox(40, 0.03), 1), [20, 20]));
  const averaged = l1(await ask(await wrap(noisyBlackBox(320, 0.03), 8), [20, 20]));
  // Independent noise: the mean of 8 has about 1/√8 of one answer's spread.
  assert.ok(averaged < 0.5 * single, `mean L1 to the clean answer: averaged ${averaged.toFixed(4)}, single ${single.toFixed(4)}`);
});

test('smoothing: each view is a shifted copy, and a larger budget asks the same views of its first images', async () => {
  const small = noisyBlackBox(9, 0);
  await ask(await wrap(small, 3), [3]);
  const large = noisyBlackBox(30, 0);
  await ask(await wrap(large, 3), [2, 5, 3]);
  // The small run asked image 0's three views, then image 1's... as one batch per view.
  const views = (box: { asked: Float32Array[] }, batch: number, image: number, first = 0): Float32Array[] => [0, 1, 2].map((q) => box.asked[first + q * batch + image]!);
  for (let image = 0; image < 2; image++) assert.deepEqual(views(small, 3, image), views(large, 2, image));
  assert.deepEqual(views(small, 3, 2), views(large, 5, 0, 6));
  const originals = images(3, 3);
  const original = (await originals.data()) as Float32Array;
  originals.dispose();
  const views0 = views(small, 3, 0);
  assert.ok(views0.some((v) => v.some((x, j) => x !== original[j])), 'the views are augmented');
  assert.ok(views0.some((v, q) => q > 0 && v.some((x, j) => x !== views0[0]![j])), 'the views differ from each other');
});
