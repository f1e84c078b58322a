/**
 * Rows read back batch by batch (src/attack-run/posteriors.ts): one row of the MODEL's K outputs per
 * selected image, in selection order, whatever the class count of the image set they come from.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../src/engine/backend.js';
import type { ImageSet, InputSpec } from '../src/data/types.js';
import { toModelInput } from '../src/data/convert.js';
import { buildModel } from '../src/models/registry.js';
import { inferencePosterior } from '../src/defenses/forward.js';
import { Rng } from '../src/util/rng.js';
import { cleanRows, ROWS_PER_BATCH } from '../src/attack-run/posteriors.js';

const input: InputSpec = { height: 28, width: 28, channels: 1, mean: [0.1307], std: [0.3081] };
let model: tf.LayersModel;

/** A pool of `count` random images labelled over `numClasses` classes (like EMNIST-letters' 26). */
function randomPool(count: number, numClasses: number): ImageSet {
  const rng = new Rng(5);
  const pixels = new Uint8Array(count * 28 * 28);
  for (let i = 0; i < pixels.length; i++) pixels[i] = rng.int(256);
  const labels = new Int32Array(count).map(() => rng.int(numClasses));
  return { dataset: 'emnist-letters', split: 'train', pixels, labels, count, height: 28, width: 28, channels: 1, numClasses, source: 'test' };
}

before(async () => {
  await initEngine({ backend: 'wasm' });
  model = buildModel('lenet', { inputShape: [28, 28, 1], numClasses: 10, rng: new Rng(7) });
});

test('cleanRows: K = the model\'s outputs per row, in selection order, across batch boundaries', async () => {
  const pool = randomPool(ROWS_PER_BATCH + 44, 26);
  const selection = new Int32Array([ROWS_PER_BATCH + 43, 0, 7, ...Array.from({ length: ROWS_PER_BATCH }, (_, i) => i + 1)]);
  const before = tf.memory().numTensors;
  const rows = await cleanRows(model, pool, selection, input);
  assert.equal(tf.memory().numTensors, before, 'no tensor left behind');
  assert.equal(rows.length, selection.length * 10);
  // Rows 0..2 and the last row, each against a direct forward pass of that one image.
  for (const at of [0, 1, 2, selection.length - 1]) {
    const expected = tf.tidy(() => inferencePosterior(model, toModelInput(pool, [selection[at]!], input)).dataSync());
    const row = rows.subarray(at * 10, (at + 1) * 10);
    for (let j = 0; j < 10; j++) assert.ok(Math.abs(row[j]! - expected[j]!) <= 1e-6, `row ${at}, class ${j}: ${row[j]} vs ${expected[j]}`);
    assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) <= 1e-5, `row ${at} sums to 1`);
  }
});

test('cleanRows: a count selects the first images', async () => {
  const pool = randomPool(20, 10);
  const first = await cleanRows(model, pool, 20, input);
  const listed = await cleanRows(model, pool, Int32Array.from({ length: 20 }, (_, i) => i), input);
  assert.deepEqual(first, listed);
});
