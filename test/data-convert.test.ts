import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { UsageError } from '../src/errors.js';
import { canConvert, toModelInput } from '../src/data/convert.js';
import { normalisationFor } from '../src/data/normalisation.js';
import type { ImageSet, InputSpec } from '../src/data/types.js';

await tf.setBackend('cpu');

function imageSet(count: number, height: number, width: number, channels: number, fill: (i: number) => number): ImageSet {
  const pixels = new Uint8Array(count * height * width * channels);
  for (let i = 0; i < pixels.length; i++) pixels[i] = fill(i);
  return {
    dataset: channels === 1 ? 'mnist' : 'cifar10',
    split: 'test',
    pixels,
    labels: new Int32Array(count),
    count,
    height,
    width,
    channels,
    numClasses: 10,
    source: 'test fixture',
  };
}

const identity = (h: number, w: number, c: number): InputSpec => ({
  height: h,
  width: w,
  channels: c,
  mean: new Array<number>(c).fill(0),
  std: new Array<number>(c).fill(1),
});

const F32 = 1e-6;

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = F32): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < actual.length; i++) {
    assert.ok(Math.abs(actual[i]! - expected[i]!) <= tol, `index ${i}: ${actual[i]} vs ${expected[i]}`);
  }
}

test('normalisationFor gives the docs/spec.md values', () => {
  assert.deepEqual(normalisationFor('mnist'), { mean: [0.1307], std: [0.3081] });
  assert.deepEqual(normalisationFor('cifar'), { mean: [0.4914, 0.4822, 0.4465], std: [0.2023, 0.1994, 0.201] });
});

test('grayscale → RGB replicates pixel/255 into all three channels', () => {
  const set = imageSet(2, 28, 28, 1, (i) => (i * 7) % 256);
  const out = toModelInput(set, { start: 0, end: 2 }, identity(28, 28, 3));
  assert.deepEqual(out.shape, [2, 28, 28, 3]);
  assert.equal(out.dtype, 'float32');
  const v = out.dataSync();
  const expected = new Float32Array(2 * 784 * 3);
  for (let p = 0; p < 2 * 784; p++) for (let c = 0; c < 3; c++) expected[p * 3 + c] = set.pixels[p]! / 255;
  assertClose(v, expected);
  out.dispose();
});

test('RGB → grayscale uses the 0.299/0.587/0.114 weights', () => {
  const set = imageSet(1, 32, 32, 3, (i) => [255, 0, 0, 0, 255, 0, 0, 0, 255][i % 9]!);
  const out = toModelInput(set, [0], identity(32, 32, 1));
  assert.deepEqual(out.shape, [1, 32, 32, 1]);
  assertClose(out.dataSync().subarray(0, 3), [0.299, 0.587, 0.114]);
  out.dispose();
});

test('28×28 → 32×32 and back: sizes change, a constant image stays constant', () => {
  const gray = imageSet(3, 28, 28, 1, () => 51);
  const up = toModelInput(gray, Int32Array.from([2, 0]), identity(32, 32, 1));
  assert.deepEqual(up.shape, [2, 32, 32, 1]);
  assertClose(up.dataSync(), new Float32Array(2 * 1024).fill(51 / 255));
  up.dispose();
  const rgb = imageSet(1, 32, 32, 3, () => 204);
  const down = toModelInput(rgb, [0], identity(28, 28, 3));
  assert.deepEqual(down.shape, [1, 28, 28, 3]);
  assertClose(down.dataSync(), new Float32Array(784 * 3).fill(0.8));
  down.dispose();
});

test('resizing keeps the picture in place (no half-pixel shift) and interpolates between pixels', () => {
  // Left half 0, right half 255: after 28→32 the left columns stay 0, the right stay 1, the middle blends.
  const set = imageSet(1, 28, 28, 1, (i) => (i % 28 < 14 ? 0 : 255));
  const out = toModelInput(set, [0], identity(32, 32, 1));
  const row = Array.from(out.dataSync().subarray(0, 32));
  assert.equal(row[0], 0);
  assert.equal(row[31], 1);
  for (let x = 1; x < 32; x++) assert.ok(row[x]! >= row[x - 1]!, 'monotone across the edge');
  // Symmetric edge, symmetric result: column x and 31−x add up to 1.
  for (let x = 0; x < 16; x++) assert.ok(Math.abs(row[x]! + row[31 - x]! - 1) < 1e-6, `columns ${x} and ${31 - x}`);
  out.dispose();
});

test('normalisation is exact on a known pixel (MNIST and CIFAR families)', () => {
  const gray = imageSet(1, 28, 28, 1, (i) => (i === 0 ? 255 : 0));
  const m = normalisationFor('mnist');
  const out = toModelInput(gray, [0], { height: 28, width: 28, channels: 1, ...m });
  const v = out.dataSync();
  assert.ok(Math.abs(v[0]! - (1 - 0.1307) / 0.3081) < 1e-5);
  assert.ok(Math.abs(v[1]! - (0 - 0.1307) / 0.3081) < 1e-5);
  out.dispose();

  // An MNIST-like query to a CIFAR model: replicate, resize, then per-channel CIFAR normalisation.
  const mid = imageSet(1, 28, 28, 1, () => 128);
  const c = normalisationFor('cifar');
  const q = toModelInput(mid, [0], { height: 32, width: 32, channels: 3, ...c });
  assert.deepEqual(q.shape, [1, 32, 32, 3]);
  const px = q.dataSync().subarray(0, 3);
  for (let ch = 0; ch < 3; ch++) assert.ok(Math.abs(px[ch]! - (128 / 255 - c.mean[ch]!) / c.std[ch]!) < 1e-5, `channel ${ch}`);
  q.dispose();
});

test('index list and range select the same images, in the order given', () => {
  const set = imageSet(4, 28, 28, 1, (i) => Math.floor(i / 784) * 60);
  const a = toModelInput(set, { start: 1, end: 3 }, identity(28, 28, 1));
  const b = toModelInput(set, [1, 2], identity(28, 28, 1));
  assert.deepEqual(Array.from(a.dataSync()), Array.from(b.dataSync()));
  const c = toModelInput(set, [3, 0], identity(28, 28, 1));
  const cv = c.dataSync();
  assert.ok(Math.abs(cv[0]! - 180 / 255) < F32);
  assert.equal(cv[784], 0);
  tf.dispose([a, b, c]);
  assert.throws(() => toModelInput(set, [4], identity(28, 28, 1)), RangeError);
  assert.throws(() => toModelInput(set, { start: 2, end: 5 }, identity(28, 28, 1)), RangeError);
});

test('toModelInput leaves exactly one tensor behind: the result', () => {
  const set = imageSet(2, 28, 28, 1, (i) => i % 256);
  const before = tf.memory().numTensors;
  const out = toModelInput(set, [0, 1], { height: 32, width: 32, channels: 3, ...normalisationFor('cifar') });
  assert.equal(tf.memory().numTensors, before + 1);
  out.dispose();
});

test('canConvert rejects impossible conversions with a UsageError that explains them', () => {
  const mnist = { dataset: 'mnist', height: 28, width: 28, channels: 1 };
  assert.doesNotThrow(() => canConvert(mnist, identity(32, 32, 3)));
  assert.doesNotThrow(() => canConvert({ height: 32, width: 32, channels: 3 }, identity(28, 28, 1)));
  assert.throws(() => canConvert(mnist, identity(28, 28, 2)), (err: unknown) => {
    assert.ok(err instanceof UsageError);
    assert.match(err.message, /cannot feed mnist \(28×28×1\) to a model taking 28×28×2: only 1→3/);
    return true;
  });
  assert.throws(() => canConvert(mnist, identity(64, 64, 1)), /only equal sizes or 28×28↔32×32/);
  assert.throws(() => canConvert(mnist, identity(28, 32, 1)), UsageError);
  assert.throws(() => canConvert(mnist, { ...identity(28, 28, 3), mean: [0.5] }), /mean has 1 values for 3 channel/);
  const set = imageSet(1, 28, 28, 1, () => 0);
  assert.throws(() => toModelInput(set, [0], identity(16, 16, 1)), UsageError);
});
