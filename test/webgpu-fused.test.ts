/**
 * The fused webgpu training step (src/engine/webgpu-fused/): each fused kernel against the cpu
 * backend's ops and autodiff on small shapes (values and gradients), and three whole training
 * steps of trainClassifier against wasm (weights within tolerance, and far fewer dispatches). In
 * CI on Mesa's lavapipe (--backend webgpu): slow but exact, so the shapes are tiny. Where Dawn
 * cannot load, the file skips with one line, or fails when POISON_REQUIRE_WEBGPU=1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../src/engine/backend.js';
import {
  batchNormApply,
  batchNormGrad,
  batchNormGradSums,
  batchNormStats,
  denseInputGrad,
  denseWeightGrad,
  im2col,
  maxPoolGrad,
  sgdMomentum,
  sgdPartialSlots,
  softmaxCrossEntropy,
  trainStats,
} from '../src/engine/webgpu-fused/kernels.js';
import { buildModel } from '../src/models/registry.js';
import { inferenceLogits } from '../src/defenses/forward.js';
import { softCrossEntropy, trainClassifier, type BatchSource, type TrainSettings } from '../src/train/loop.js';
import { Rng } from '../src/util/rng.js';
import { exitAfterTests, webgpuUnavailable } from './helpers/webgpu.js';
import { skipOrFail } from './helpers/requirement.js';
import { assertClose, randomValues, read } from './helpers/max-error.js';


async function readAll(ts: tf.Tensor[]): Promise<Float32Array[]> {
  return Promise.all(ts.map(read));
}

const why = await webgpuUnavailable();
exitAfterTests('webgpu fused-step tests (webgpu, wasm and cpu)');

if (why) {
  test('webgpu fused-step tests', (t) => skipOrFail(t, 'WEBGPU', `webgpu cannot load: ${why}`));
} else {
  test('batch norm (+ ReLU) forward with batch statistics and backward equal the cpu backend', async () => {
    const rng = new Rng(11);
    const shape: [number, number, number, number] = [3, 4, 5, 6];
    const size = 3 * 4 * 5 * 6;
    const x = randomValues(rng, size, -2, 3);
    const dy = randomValues(rng, size);
    const gamma = randomValues(rng, 6, 0.5, 1.5);
    const beta = randomValues(rng, 6, -0.5, 0.5);
    const movingMean = randomValues(rng, 6);
    const movingVar = randomValues(rng, 6, 0.5, 2);
    const eps = 1e-5;
    const momentum = 0.9;
    for (const relu of [true, false]) {
      await initEngine({ backend: 'cpu' });
      const expected = await readAll(
        tf.tidy(() => {
          const f = (xi: tf.Tensor, g: tf.Tensor, b: tf.Tensor): tf.Tensor => {
            const { mean, variance } = tf.moments(xi, [0, 1, 2]);
            const y = tf.batchNorm(xi as tf.Tensor4D, mean, variance, b as tf.Tensor1D, g as tf.Tensor1D, eps);
            return relu ? tf.relu(y) : y;
          };
          const xt = tf.tensor4d(x, shape);
          const gt = tf.tensor1d(gamma);
          const bt = tf.tensor1d(beta);
          const y = f(xt, gt, bt);
          const grads = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(f(a, b, c), tf.tensor4d(dy, shape))))([xt, gt, bt]);
          const { mean, variance } = tf.moments(xt, [0, 1, 2]);
          const decay = 1 - momentum;
          const mm = tf.sub(tf.tensor1d(movingMean), tf.mul(tf.sub(tf.tensor1d(movingMean), mean), decay));
          const mv = tf.sub(tf.tensor1d(movingVar), tf.mul(tf.sub(tf.tensor1d(movingVar), variance), decay));
          return [y, mm, mv, ...grads];
        }),
      );
      await initEngine({ backend: 'webgpu' });
      const actual = await readAll(
        tf.tidy(() => {
          const xt = tf.tensor4d(x, shape);
          const gt = tf.tensor1d(gamma);
          const [stats, mm, mv] = batchNormStats(xt, tf.tensor1d(movingMean), tf.tensor1d(movingVar), momentum);
          const y = batchNormApply(xt, stats, gt, tf.tensor1d(beta), eps, relu);
          const dyt = tf.tensor4d(dy, shape);
          const sums = batchNormGradSums(dyt, y, xt, stats, eps, relu);
          const dx = batchNormGrad(dyt, y, xt, stats, gt, sums, eps, relu);
          return [y, mm, mv, dx, tf.slice(sums, [1, 0], [1, 6]).reshape([6]), tf.slice(sums, [0, 0], [1, 6]).reshape([6])];
        }),
      );
      const names = ['y', 'moving mean', 'moving variance', 'dx', 'dgamma', 'dbeta'];
      names.forEach((n, i) => assertClose(actual[i]!, expected[i]!, 1e-4, `${n} (relu ${relu})`));
    }
  });

  test('softmax cross-entropy: loss, gradient, correct count and the weight-decay term equal the cpu backend', async () => {
    const rng = new Rng(12);
    const [b, k] = [5, 7];
    const logits = randomValues(rng, b * k, -3, 3);
    const labels = new Float32Array(b * k);
    for (let i = 0; i < b; i++) {
      // Soft labels on the simplex; rows 0 and 1 peak where the logits do (correct), the rest at random.
      const row = randomValues(rng, k, 0, 1);
      let top = 0;
      for (let j = 1; j < k; j++) if (logits[i * k + j]! > logits[i * k + top]!) top = j;
      row[i < 2 ? top : (top + 1 + i) % k] = 3;
      const sum = row.reduce((a, v) => a + v, 0);
      for (let j = 0; j < k; j++) labels[i * k + j] = row[j]! / sum;
    }
    const w = randomValues(rng, 300);
    const wd = 0.01;
    await initEngine({ backend: 'cpu' });
    const expected = await readAll(
      tf.tidy(() => {
        const l = tf.tensor2d(logits, [b, k]);
        const y = tf.tensor2d(labels, [b, k]);
        const loss = tf.add(softCrossEntropy(l, y), tf.mul(wd / 2, tf.sum(tf.square(tf.tensor1d(w)))));
        const correct = tf.sum(tf.cast(tf.equal(tf.argMax(l, 1), tf.argMax(y, 1)), 'float32'));
        const grad = tf.grad((z: tf.Tensor) => softCrossEntropy(z as tf.Tensor2D, y))(l);
        return [tf.stack([loss, correct]), grad];
      }),
    );
    await initEngine({ backend: 'webgpu' });
    const actual = await readAll(
      tf.tidy(() => {
        const [grad, rows] = softmaxCrossEntropy(tf.tensor2d(logits, [b, k]), tf.tensor2d(labels, [b, k]));
        const wt = tf.tensor1d(w);
        const partials = tf.zeros([sgdPartialSlots(300)]);
        // The SGD kernel writes the ‖w‖² partials the loss adds (a zero gradient leaves w as it is here).
        const [newW, newAcc] = sgdMomentum(wt, tf.zerosLike(wt), tf.zerosLike(wt), 0, partials, 0, { lr: 0, momentum: 0.9, nesterov: false, weightDecay: wd });
        newW.dispose();
        newAcc.dispose();
        return [trainStats(rows, partials, wd), grad];
      }),
    );
    assertClose(actual[0]!, expected[0]!, 1e-5, '[loss, correct]');
    assert.equal(actual[0]![1], 2);
    assertClose(actual[1]!, expected[1]!, 1e-5, 'dlogits');

    // Hard targets as the training sources make them, tf.oneHot(…).toFloat(): on webgpu their
    // buffer still holds int32 words, which the kernel reads as such.
    const classes = Int32Array.from({ length: b }, (_, i) => (i * 3) % k);
    await initEngine({ backend: 'cpu' });
    const hardExpected = await readAll(
      tf.tidy(() => {
        const l = tf.tensor2d(logits, [b, k]);
        const y = tf.oneHot(tf.tensor1d(classes, 'int32'), k).toFloat() as tf.Tensor2D;
        return [softCrossEntropy(l, y), tf.grad((z: tf.Tensor) => softCrossEntropy(z as tf.Tensor2D, y))(l)];
      }),
    );
    await initEngine({ backend: 'webgpu' });
    const hardActual = await readAll(
      tf.tidy(() => {
        const [grad, rows] = softmaxCrossEntropy(tf.tensor2d(logits, [b, k]), tf.oneHot(tf.tensor1d(classes, 'int32'), k).toFloat());
        return [trainStats(rows, tf.zeros([1]), 0).slice(0, 1), grad];
      }),
    );
    assertClose(hardActual[0]!, hardExpected[0]!, 1e-5, 'loss, one-hot int32 targets');
    assertClose(hardActual[1]!, hardExpected[1]!, 1e-5, 'dlogits, one-hot int32 targets');
  });

  test('SGD with momentum (plain and nesterov) and weight decay: two steps equal tfjs MomentumOptimizer on cpu', async () => {
    const rng = new Rng(13);
    const size = 600; // more than two workgroups
    const w0 = randomValues(rng, size);
    const g1 = randomValues(rng, size + 5); // a packed gradient: this variable's part starts at 5
    const g2 = randomValues(rng, size + 5);
    const [lr, m, wd] = [0.1, 0.9, 5e-3];
    for (const nesterov of [false, true]) {
      await initEngine({ backend: 'cpu' });
      const v = tf.variable(tf.tensor1d(w0));
      const opt = tf.train.momentum(lr, m, nesterov);
      for (const g of [g1, g2]) {
        tf.tidy(() => {
          const total = tf.add(tf.tensor1d(g.subarray(5)), tf.mul(wd / 2, tf.mul(v, 2)));
          opt.applyGradients([{ name: v.name, tensor: total }]);
        });
      }
      const expected = await read(v.clone());
      v.dispose();
      opt.dispose();
      await initEngine({ backend: 'webgpu' });
      const actual = await read(
        tf.tidy(() => {
          let w: tf.Tensor = tf.tensor1d(w0);
          let acc: tf.Tensor = tf.zeros([size]);
          for (const g of [g1, g2]) [w, acc] = sgdMomentum(w, acc, tf.tensor1d(g), 5, tf.zeros([sgdPartialSlots(size)]), 0, { lr, momentum: m, nesterov, weightDecay: wd });
          return w;
        }),
      );
      assertClose(actual, expected, 1e-5, `weights (nesterov ${nesterov})`);
    }
  });

  test('conv (im2col + one product), max-pool and dense gradients equal the cpu backend', async () => {
    const rng = new Rng(14);
    const [n, h, w, ci, co] = [2, 7, 6, 3, 4];
    const x = randomValues(rng, n * h * w * ci);
    const f = randomValues(rng, 3 * 3 * ci * co);
    const bias = randomValues(rng, co);
    const cases = [
      { stride: 1, pad: 'same' as const },
      { stride: 2, pad: 'valid' as const },
    ];
    for (const c of cases) {
      const info = tf.backend_util.computeConv2DInfo([n, h, w, ci], [3, 3, ci, co], c.stride, 1, c.pad);
      const dy = randomValues(rng, n * info.outHeight * info.outWidth * co);
      const dyShape: [number, number, number, number] = [n, info.outHeight, info.outWidth, co];
      const conv = (xi: tf.Tensor, fi: tf.Tensor, bi: tf.Tensor): tf.Tensor => tf.add(tf.conv2d(xi as tf.Tensor4D, fi as tf.Tensor4D, c.stride, c.pad), bi);
      await initEngine({ backend: 'cpu' });
      const expected = await readAll(
        tf.tidy(() =>
          tf.grads((a: tf.Tensor, b: tf.Tensor, d: tf.Tensor) => tf.sum(tf.mul(conv(a, b, d), tf.tensor4d(dy, dyShape))))([
            tf.tensor4d(x, [n, h, w, ci]),
            tf.tensor4d(f, [3, 3, ci, co]),
            tf.tensor1d(bias),
          ]),
        ),
      );
      await initEngine({ backend: 'webgpu' });
      const packed = await read(
        tf.tidy(() => {
          const cols = im2col(tf.tensor4d(x, [n, h, w, ci]), {
            filterHeight: 3, filterWidth: 3, strideHeight: c.stride, strideWidth: c.stride,
            padTop: info.padInfo.top, padLeft: info.padInfo.left, outHeight: info.outHeight, outWidth: info.outWidth,
          });
          return tf.matMul(cols, tf.tensor2d(dy, [n * info.outHeight * info.outWidth, co]), true, false);
        }),
      );
      assertClose(packed.subarray(0, f.length), expected[1]!, 1e-4, `filter gradient s${c.stride} ${c.pad}`);
      assertClose(packed.subarray(f.length), expected[2]!, 1e-4, `bias gradient s${c.stride} ${c.pad}`);
    }

    // Max-pool 2×2 / 2 of ReLU outputs (zeros included) on a 5×6 map: the last row is never pooled.
    const a = randomValues(rng, n * 5 * 6 * ci, -1, 1).map((v) => Math.max(v, 0));
    const pdy = randomValues(rng, n * 2 * 3 * ci);
    await initEngine({ backend: 'cpu' });
    const poolExpected = await read(
      tf.tidy(() => {
        const z = tf.tensor4d(a, [n, 5, 6, ci]);
        // Gradient wrt the pre-ReLU input: the ReLU mask of a.
        return tf.grad((zi: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(tf.relu(zi) as tf.Tensor4D, 2, 2, 'valid'), tf.tensor4d(pdy, [n, 2, 3, ci]))))(z);
      }),
    );
    await initEngine({ backend: 'webgpu' });
    const poolActual = await read(
      tf.tidy(() =>
        maxPoolGrad(tf.tensor4d(pdy, [n, 2, 3, ci]), tf.tensor4d(a, [n, 5, 6, ci]), { poolHeight: 2, poolWidth: 2, strideHeight: 2, strideWidth: 2, padTop: 0, padLeft: 0 }, true),
      ),
    );
    assertClose(poolActual, poolExpected, 1e-6, 'max-pool gradient with ReLU mask');

    // Dense [4, 5] → 3: weight, bias and input gradients; the input gradient masked by a ReLU input.
    const dx = randomValues(rng, 4 * 5).map((v) => Math.max(v, 0));
    const dw = randomValues(rng, 5 * 3);
    const ddy = randomValues(rng, 4 * 3);
    await initEngine({ backend: 'cpu' });
    const denseExpected = await readAll(
      tf.tidy(() => {
        const xin = tf.tensor2d(dx, [4, 5]);
        return tf.grads((xi: tf.Tensor, wi: tf.Tensor, bi: tf.Tensor) =>
          tf.sum(tf.mul(tf.add(tf.matMul(tf.relu(xi) as tf.Tensor2D, wi as tf.Tensor2D), bi), tf.tensor2d(ddy, [4, 3]))),
        )([xin, tf.tensor2d(dw, [5, 3]), tf.zeros([3])]);
      }),
    );
    await initEngine({ backend: 'webgpu' });
    const [packed, inputGrad] = await readAll(
      tf.tidy(() => {
        const xin = tf.tensor2d(dx, [4, 5]);
        const d = tf.tensor2d(ddy, [4, 3]);
        return [denseWeightGrad(xin, d), denseInputGrad(d, tf.tensor2d(dw, [5, 3]), xin, true)];
      }),
    );
    assertClose(packed!.subarray(0, 15), denseExpected[1]!, 1e-5, 'dense weight gradient');
    assertClose(packed!.subarray(15), denseExpected[2]!, 1e-5, 'dense bias gradient');
    assertClose(inputGrad!, denseExpected[0]!, 1e-5, 'dense input gradient (ReLU mask)');
  });

  /** A tiny conv → BN → ReLU → pool → conv → BN → ReLU → flatten → dense model (VGG16-BN's layer kinds). */
  function tinyBnNet(seed: number): tf.LayersModel {
    const rng = new Rng(seed);
    const init = (): ReturnType<typeof tf.initializers.zeros> => tf.initializers.randomUniform({ minval: -0.5, maxval: 0.5, seed: rng.int(1 << 30) });
    const m = tf.sequential();
    m.add(tf.layers.conv2d({ inputShape: [6, 6, 2], filters: 3, kernelSize: 3, padding: 'same', kernelInitializer: init(), biasInitializer: init() }));
    m.add(tf.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-5 }));
    m.add(tf.layers.reLU());
    m.add(tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }));
    m.add(tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', kernelInitializer: init(), biasInitializer: init() }));
    m.add(tf.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-5 }));
    m.add(tf.layers.reLU());
    m.add(tf.layers.flatten());
    m.add(tf.layers.dense({ units: 3, kernelInitializer: init(), biasInitializer: init() }));
    return m;
  }

  interface Run {
    weights: Float32Array[];
    losses: number[];
    dispatchesPerStep: number;
  }

  async function trainThreeSteps(backend: 'wasm' | 'webgpu', build: () => tf.LayersModel, shape: [number, number, number], classes: number, nesterov: boolean): Promise<Run> {
    await initEngine({ backend });
    const batch = 4;
    const rng = new Rng(21);
    const xs = randomValues(rng, 3 * batch * shape[0] * shape[1] * shape[2]);
    const ys = new Float32Array(3 * batch * classes);
    for (let i = 0; i < 3 * batch; i++) ys[i * classes + (i % classes)] = 1;
    const model = build();
    const data: BatchSource = {
      count: 3 * batch,
      batch(indices) {
        const x = new Float32Array(indices.length * shape[0] * shape[1] * shape[2]);
        const y = new Float32Array(indices.length * classes);
        const per = x.length / indices.length;
        indices.forEach((src, j) => {
          x.set(xs.subarray(src * per, (src + 1) * per), j * per);
          y.set(ys.subarray(src * classes, (src + 1) * classes), j * classes);
        });
        return { x: tf.tensor4d(x, [indices.length, ...shape]), y: tf.tensor2d(y, [indices.length, classes]) };
      },
    };
    const settings: TrainSettings = { epochs: 1, lr: 0.05, momentum: 0.9, batchSize: batch, lrStep: 10, weightDecay: 5e-3 };
    const losses: number[] = [];
    let dispatches = 0;
    const pass = (globalThis as { GPUComputePassEncoder?: { prototype: { dispatchWorkgroups: (...a: unknown[]) => void } } }).GPUComputePassEncoder;
    const original = pass?.prototype.dispatchWorkgroups;
    if (pass && original) {
      pass.prototype.dispatchWorkgroups = function (this: unknown, ...a: unknown[]) {
        dispatches++;
        original.apply(this, a);
      };
    }
    try {
      await trainClassifier(model, data, settings, new Rng(5), { onBatchEnd: (r) => losses.push(r.loss) }, { nesterov });
    } finally {
      if (pass && original) pass.prototype.dispatchWorkgroups = original;
    }
    const before = tf.memory().numTensors;
    // A second run leaves no tensor behind.
    await trainClassifier(model, data, { ...settings, epochs: 1 }, new Rng(5), {}, { nesterov });
    assert.equal(tf.memory().numTensors, before, `${backend}: tensors left by a training run`);
    const weights = await Promise.all(model.weights.map((w) => w.read().clone()).map(read));
    model.dispose();
    return { weights, losses, dispatchesPerStep: dispatches / 3 };
  }

  const models: { name: string; build: () => tf.LayersModel; shape: [number, number, number]; classes: number; nesterov: boolean; budget: number }[] = [
    { name: 'lenet (16×16×1)', build: () => buildModel('lenet', { inputShape: [16, 16, 1], numClasses: 4, rng: new Rng(3) }), shape: [16, 16, 1], classes: 4, nesterov: false, budget: 40 },
    { name: 'conv-BN-ReLU net, nesterov', build: () => tinyBnNet(4), shape: [6, 6, 2], classes: 3, nesterov: true, budget: 40 },
  ];
  for (const c of models) {
    test(`${c.name}: fused training steps on webgpu (3, then 3 more) equal wasm's (weights, BN moving statistics, losses)`, async () => {
      const wasm = await trainThreeSteps('wasm', c.build, c.shape, c.classes, c.nesterov);
      const gpu = await trainThreeSteps('webgpu', c.build, c.shape, c.classes, c.nesterov);
      assert.equal(gpu.weights.length, wasm.weights.length);
      gpu.weights.forEach((w, i) => assertClose(w, wasm.weights[i]!, 2e-4, `weight ${i}`));
      assertClose(gpu.losses, wasm.losses, 1e-4, 'losses');
      // The fused path ran: a step costs a few dispatches per layer, not autodiff's dozens.
      assert.ok(gpu.dispatchesPerStep <= c.budget, `${gpu.dispatchesPerStep} dispatches per step > ${c.budget}`);
    });
  }

  test('inference: fused logits (moving statistics) equal wasm\'s model.apply; tf.grad through inferenceLogits still works on webgpu', async () => {
    const cases: { name: string; build: () => tf.LayersModel; shape: [number, number, number] }[] = [
      { name: 'lenet', build: () => buildModel('lenet', { inputShape: [16, 16, 1], numClasses: 4, rng: new Rng(3) }), shape: [16, 16, 1] },
      { name: 'conv-BN-ReLU net', build: () => tinyBnNet(4), shape: [6, 6, 2] },
    ];
    for (const c of cases) {
      const rng = new Rng(31);
      const x = randomValues(rng, 3 * c.shape[0] * c.shape[1] * c.shape[2]);
      // Moving statistics away from their initial 0 / 1, so that inference mode matters.
      const bnStats = [randomValues(rng, 3), randomValues(rng, 3, 0.2, 2), randomValues(rng, 4), randomValues(rng, 4, 0.2, 2)];
      const run = async (backend: 'wasm' | 'webgpu'): Promise<Float32Array[]> => {
        await initEngine({ backend });
        const model = c.build();
        let k = 0;
        for (const layer of model.layers) {
          if (layer.getClassName() !== 'BatchNormalization') continue;
          const [gamma, beta] = layer.getWeights();
          layer.setWeights([gamma!, beta!, tf.tensor1d(bnStats[k]!), tf.tensor1d(bnStats[k + 1]!)]);
          k += 2;
        }
        const out = await readAll(
          tf.tidy(() => {
            const xt = tf.tensor4d(x, [3, ...c.shape]);
            const logits = inferenceLogits(model, xt);
            // Under a gradient tape the fused path steps aside (its kernels have no gradients).
            const g = tf.grad((xi: tf.Tensor) => tf.sum(tf.square(inferenceLogits(model, xi as tf.Tensor4D))))(xt);
            return [logits, g];
          }),
        );
        model.dispose();
        return out;
      };
      const expected = await run('wasm');
      const actual = await run('webgpu');
      assertClose(actual[0]!, expected[0]!, 1e-4, `${c.name} logits`);
      assertClose(actual[1]!, expected[1]!, 1e-3, `${c.name} input gradient`);
    }
  });
}
