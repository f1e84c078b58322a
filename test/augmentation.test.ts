/**
 * Training augmentation as the reference trains victims: random crop 32 (padding 4) + horizontal
 * flip for the CIFAR family, nothing for MNIST-like data; seeded, applied to the bytes before
 * any tensor exists, and recorded in the victim's params.json. Victims are trained here on
 * CIFAR-10 files in the official binary format (test/fixtures/data-builders.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { augmentImages, augmentationFor, type Augmentation } from '../src/data/augmentation.js';
import { datasetInfo } from '../src/data/catalog.js';
import { loadImageSet } from '../src/data/index.js';
import type { DatasetName } from '../src/data/types.js';
import { imageSetSource, trainVictim, victimInputSpec } from '../src/train/victim.js';
import { Rng } from '../src/util/rng.js';
import { cifarChw, cifarRecords, tempDir } from './fixtures/data-builders.js';

const CROP_FLIP: Augmentation = { randomCrop: { size: 32, padding: 4 }, horizontalFlip: true };

/** The reference transform written the slow, obvious way: pad with zeros, crop at (top, left), maybe mirror. */
function referenceAugment(hwc: Uint8Array, top: number, left: number, flip: boolean): Uint8Array {
  const padded = (y: number, x: number, c: number): number => {
    const sy = y - 4;
    const sx = x - 4;
    return sy < 0 || sy >= 32 || sx < 0 || sx >= 32 ? 0 : hwc[(sy * 32 + sx) * 3 + c]!;
  };
  const out = new Uint8Array(3072);
  for (let y = 0; y < 32; y++) {
    for (let x = 0; x < 32; x++) {
      const from = flip ? 31 - x : x;
      for (let c = 0; c < 3; c++) out[(y * 32 + x) * 3 + c] = padded(y + top, from + left, c);
    }
  }
  return out;
}

function patternImage(seed: number): Uint8Array {
  const img = new Uint8Array(3072);
  for (let p = 0; p < 3072; p++) img[p] = 1 + ((seed * 13 + p * 7) % 250);
  return img;
}

test('the per-dataset table: CIFAR family crops and flips, MNIST family is left alone', () => {
  assert.deepEqual(datasetInfo('cifar10').trainingAugmentation, CROP_FLIP);
  assert.deepEqual(datasetInfo('cifar100').trainingAugmentation, CROP_FLIP);
  for (const name of ['mnist', 'fashion-mnist', 'emnist-letters'] as DatasetName[]) assert.equal(datasetInfo(name).trainingAugmentation, null, name);
  assert.equal(augmentationFor('mnist'), null);
});

test('random crop 32 (padding 4) + flip: the same draws as a hand-written reference, deterministic per seed', () => {
  const count = 64;
  const source = new Uint8Array(count * 3072);
  for (let i = 0; i < count; i++) source.set(patternImage(i), i * 3072);
  const augmented = source.slice();
  augmentImages(augmented, count, 32, 32, 3, CROP_FLIP, new Rng(11));
  // Replay the documented draw order (top, left, flip per image) from the same seed.
  const draws = new Rng(11);
  const tops = new Set<number>();
  let flips = 0;
  for (let i = 0; i < count; i++) {
    const top = draws.int(9);
    const left = draws.int(9);
    const flip = draws.next() < 0.5;
    tops.add(top);
    if (flip) flips++;
    const expected = referenceAugment(source.subarray(i * 3072, (i + 1) * 3072), top, left, flip);
    assert.deepEqual(augmented.subarray(i * 3072, (i + 1) * 3072), expected, `image ${i} (top ${top}, left ${left}, flip ${flip})`);
  }
  assert.ok(tops.size >= 5, 'crop offsets vary');
  assert.ok(flips > 10 && flips < 54, `about half the images flipped, got ${flips}`);
  const again = source.slice();
  augmentImages(again, count, 32, 32, 3, CROP_FLIP, new Rng(11));
  assert.deepEqual(again, augmented, 'same seed, same augmentation');
  const other = source.slice();
  augmentImages(other, count, 32, 32, 3, CROP_FLIP, new Rng(12));
  assert.notDeepEqual(other, augmented, 'another seed, other crops');
});

/** CIFAR-10 in its binary format: 5 train batches of `perBatch` records, a test batch of 20. */
function writeCifar10(dir: string, perBatch: number): void {
  for (let b = 0; b < 5; b++) {
    const records = Array.from({ length: perBatch }, (_, i) => ({ labels: [(b + i) % 10], chw: cifarChw(b * perBatch + i) }));
    writeFileSync(path.join(dir, `data_batch_${b + 1}.bin`), cifarRecords(records));
  }
  writeFileSync(path.join(dir, 'test_batch.bin'), cifarRecords(Array.from({ length: 20 }, (_, i) => ({ labels: [i % 10], chw: cifarChw(500 + i) }))));
}

test('a CIFAR victim trains on augmented batches and records it; an MNIST victim does not; same seed, same weights', async () => {
  const { dir, cleanup } = tempDir('augment');
  try {
    writeCifar10(dir, 8);
    const train = await loadImageSet('cifar10', 'train', { dataDir: dir });
    const input = victimInputSpec('cifar10');
    const indices = Int32Array.from([0, 1, 2, 3, 4, 5, 6, 7]);
    const plain = imageSetSource(train, input).batch(indices);
    const augmented = imageSetSource(train, input, { augmentation: CROP_FLIP, rng: new Rng(3) }).batch(indices);
    const [plainX, augX] = await Promise.all([plain.x.data(), augmented.x.data()]);
    assert.notDeepEqual(augX, plainX, 'the batch the victim trains on is augmented');
    assert.deepEqual(await augmented.y.data(), await plain.y.data(), 'labels follow their images');
    tf.dispose([plain.x, plain.y, augmented.x, augmented.y]);

    const settings = { arch: 'cnn-small', epochs: 1, lr: 0.05, momentum: 0.5, batchSize: 8, lrStep: 50, weightDecay: 0, force: false, backend: 'wasm', quiet: true } as const;
    const runs = ['a', 'b'].map((name) => path.join(dir, `victim-${name}`));
    for (const out of runs) await trainVictim({ ...settings, dataset: 'cifar10', seed: 4, out, dataDir: dir });
    const params = JSON.parse(readFileSync(path.join(runs[0]!, 'params.json'), 'utf8')) as { config: { augmentation: unknown; augmentationDescription: unknown } };
    assert.deepEqual(params.config.augmentation, CROP_FLIP);
    assert.equal(params.config.augmentationDescription, 'random crop 32 (padding 4) + horizontal flip');
    assert.ok(readFileSync(path.join(runs[0]!, 'weights.bin')).equals(readFileSync(path.join(runs[1]!, 'weights.bin'))), 'augmentation is seeded: same seed, same weights');

    const mnistOut = path.join(dir, 'victim-mnist');
    await trainVictim({ ...settings, arch: 'lenet', dataset: 'mnist', seed: 4, out: mnistOut, limit: 64 });
    const mnistParams = JSON.parse(readFileSync(path.join(mnistOut, 'params.json'), 'utf8')) as { config: { augmentation: unknown; augmentationDescription: unknown } };
    assert.equal(mnistParams.config.augmentation, null);
    assert.equal(mnistParams.config.augmentationDescription, 'none');
  } finally {
    cleanup();
  }
});
