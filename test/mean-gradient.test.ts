/**
 * The project's Mean gradient (src/engine/mean-gradient.ts: dy / n broadcast, no ones tensor
 * filled on the CPU; tfjs's own form below 4,096 elements) gives bit-identical gradients to
 * tfjs's own on wasm and cpu, for every kind of axis argument and both sides of that size, and
 * leaves no tensor behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../src/engine/backend.js';
import { setMeanGradient, type MeanGradient } from '../src/engine/mean-gradient.js';
import { Rng } from '../src/util/rng.js';

const CASES: { shape: number[]; axis?: number | number[]; keepDims?: boolean }[] = [
  { shape: [3, 7] },
  { shape: [3, 7], axis: 1 },
  { shape: [3, 7], axis: -2, keepDims: true },
  { shape: [2, 5, 3, 6], axis: [0, 1, 2] }, // batch-norm moments over N, H, W
  { shape: [2, 5, 3, 6], axis: [0, 1, 2], keepDims: true },
  { shape: [4, 3, 5], axis: [2, 0] },
  // Above the size where tfjs's own form is kept (src/engine/mean-gradient.ts: 4,096 elements).
  { shape: [4, 16, 16, 9], axis: [0, 1, 2] },
  { shape: [4, 16, 16, 9], axis: [0, 1, 2], keepDims: true },
  { shape: [5001] },
  { shape: [70, 71], axis: -1 },
];

/** Gradient of sum(w · mean(x)) with respect to x, for a weighting w that makes dy non-uniform. */
async function meanGradients(form: MeanGradient): Promise<Float32Array[]> {
  setMeanGradient(form);
  const rng = new Rng(7);
  const out: Float32Array[] = [];
  for (const c of CASES) {
    const size = c.shape.reduce((a, b) => a * b, 1);
    const x = tf.tensor(Float32Array.from({ length: size }, () => rng.next() * 2 - 1), c.shape);
    const g = tf.grad((v: tf.Tensor) => {
      const m = tf.mean(v, c.axis, c.keepDims);
      const w = tf.range(1, m.size + 1).reshape(m.shape).div(3);
      return tf.sum(tf.mul(m, w));
    })(x);
    out.push((await g.data()) as Float32Array);
    g.dispose();
    x.dispose();
  }
  return out;
}

for (const backend of ['wasm', 'cpu'] as const) {
  test(`Mean gradient on ${backend}: dy / n broadcast equals tfjs's dy × ones / n bit for bit`, async () => {
    await initEngine({ backend });
    const stock = await meanGradients('stock');
    const before = tf.memory().numTensors;
    const ours = await meanGradients('broadcast');
    assert.equal(tf.memory().numTensors, before, 'tensors left behind');
    CASES.forEach((c, i) => {
      assert.deepEqual(Array.from(ours[i]!), Array.from(stock[i]!), `shape ${c.shape.join('×')}, axis ${JSON.stringify(c.axis)}`);
    });
    // initEngine installs the project's form.
    setMeanGradient('stock');
    const stockConfig = tf.getGradient('Mean');
    await initEngine({ backend });
    assert.notEqual(tf.getGradient('Mean'), stockConfig);
  });
}
