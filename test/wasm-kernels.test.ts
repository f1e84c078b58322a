/**
 * The project's wasm gradient kernels against the cpu backend's reference kernels on random
 * tensors: padding valid and same, strides 1 and 2, several channel counts.
 * Tolerance: max abs error ≤ 1e-4 × the reference's max abs value.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../src/engine/backend.js';
import { Rng } from '../src/util/rng.js';
import { maxErrors } from './helpers/max-error.js';

interface Case {
  n: number;
  h: number;
  w: number;
  ci: number;
  co: number;
  k: number;
  stride: number;
  pad: 'valid' | 'same';
}

const cases: Case[] = [];
for (const pad of ['valid', 'same'] as const) {
  for (const stride of [1, 2]) {
    for (const [ci, co] of [
      [1, 4],
      [3, 8],
      [6, 5],
    ] as const) {
      for (const [h, k] of [
        [9, 3],
        [12, 5],
        [7, 2],
      ] as const) {
        cases.push({ n: 3, h, w: h + 1, ci, co, k, stride, pad });
      }
    }
  }
}

function randomTensor(rng: Rng, shape: number[]): Float32Array {
  const size = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(size);
  for (let i = 0; i < size; i++) v[i] = rng.next() * 2 - 1;
  return v;
}

async function onBackend(name: 'cpu' | 'wasm', f: () => tf.Tensor): Promise<Float32Array> {
  await tf.setBackend(name);
  const out = tf.tidy(f);
  const data = (await out.data()) as Float32Array;
  out.dispose();
  return data;
}

function assertClose(actual: Float32Array, expected: Float32Array, what: string): void {
  const { maxRef, maxErr } = maxErrors(actual, expected, what);
  assert.ok(maxRef > 0, `${what}: reference is all zeros`);
  assert.ok(maxErr <= 1e-4 * maxRef, `${what}: max abs error ${maxErr} > 1e-4 × ${maxRef}`);
}

test('wasm Conv2DBackpropFilter and Conv2DBackpropInput match the cpu backend', async () => {
  await initEngine({ backend: 'wasm' });
  const rng = new Rng(7);
  for (const c of cases) {
    const what = JSON.stringify(c);
    const xShape = [c.n, c.h, c.w, c.ci] as [number, number, number, number];
    const filterShape = [c.k, c.k, c.ci, c.co] as [number, number, number, number];
    const probe = tf.conv2d(tf.zeros(xShape) as tf.Tensor4D, tf.zeros(filterShape) as tf.Tensor4D, c.stride, c.pad);
    const dyShape = probe.shape;
    probe.dispose();
    const x = randomTensor(rng, xShape);
    const filter = randomTensor(rng, filterShape);
    const dy = randomTensor(rng, dyShape);
    const filterGrad = (): tf.Tensor =>
      tf.engine().runKernel('Conv2DBackpropFilter', { x: tf.tensor(x, xShape), dy: tf.tensor(dy, dyShape) }, {
        strides: [c.stride, c.stride], pad: c.pad, dataFormat: 'NHWC', dimRoundingMode: undefined, filterShape,
      } as unknown as tf.NamedAttrMap);
    const inputGrad = (): tf.Tensor =>
      tf.engine().runKernel('Conv2DBackpropInput', { dy: tf.tensor(dy, dyShape), filter: tf.tensor(filter, filterShape) }, {
        strides: [c.stride, c.stride], pad: c.pad, dataFormat: 'NHWC', dimRoundingMode: undefined, inputShape: xShape,
      } as unknown as tf.NamedAttrMap);
    assertClose(await onBackend('wasm', filterGrad), await onBackend('cpu', filterGrad), `filter grad ${what}`);
    assertClose(await onBackend('wasm', inputGrad), await onBackend('cpu', inputGrad), `input grad ${what}`);
  }
  await tf.setBackend('wasm');
});

test('wasm BatchMatMul with transposed operands matches the cpu backend', async () => {
  await initEngine({ backend: 'wasm' });
  const rng = new Rng(11);
  for (const [ta, tb] of [
    [false, true],
    [true, false],
    [true, true],
  ] as const) {
    for (const batch of [1, 3]) {
      const [m, k, n] = [5, 7, 4];
      const aShape = [batch, ta ? k : m, ta ? m : k];
      const bShape = [batch, tb ? n : k, tb ? k : n];
      const a = randomTensor(rng, aShape);
      const b = randomTensor(rng, bShape);
      const f = (): tf.Tensor => tf.matMul(tf.tensor3d(a, aShape as [number, number, number]), tf.tensor3d(b, bShape as [number, number, number]), ta, tb);
      assertClose(await onBackend('wasm', f), await onBackend('cpu', f), `matMul ta=${ta} tb=${tb} batch=${batch}`);
    }
  }
  await tf.setBackend('wasm');
});

test('the wasm kernels leave no tensors or backend buffers behind', async () => {
  await initEngine({ backend: 'wasm' });
  const x = tf.randomNormal([4, 10, 10, 3], 0, 1, 'float32', 3);
  const w = tf.randomNormal([3, 3, 3, 6], 0, 1, 'float32', 4);
  const step = (): void => {
    const [gx, gw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'same').square().sum())([x, w]);
    gx!.dispose();
    gw!.dispose();
  };
  step();
  const before = tf.memory();
  step();
  step();
  const after = tf.memory();
  assert.equal(after.numTensors, before.numTensors);
  assert.equal(after.numBytes, before.numBytes);
  x.dispose();
  w.dispose();
});
