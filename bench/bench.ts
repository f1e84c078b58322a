/**
 * Benchmarks: prints figures as ratios against a baseline measured in the same run (absolute
 * times on shared 2-core machines drift ±20%, ratios hold).
 *
 *   npm run bench                 # everything
 *   npm run bench -- train        # LeNet training: project kernels vs filter-only baseline
 */
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../src/engine/backend.js';
import { registerWasmKernels, type WasmKernelSet } from '../src/engine/wasm-kernels.js';
import { buildModel } from '../src/models/registry.js';
import type { ArchName } from '../src/models/types.js';
import { trainClassifier, type BatchSource } from '../src/train/loop.js';
import { Rng } from '../src/util/rng.js';

function randomSource(count: number, shape: [number, number, number], classes: number): BatchSource {
  const rng = new Rng(3);
  const size = shape[0] * shape[1] * shape[2];
  const pixels = new Float32Array(count * size);
  for (let i = 0; i < pixels.length; i++) pixels[i] = rng.next();
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) labels[i] = rng.int(classes);
  return {
    count,
    batch(indices) {
      return tf.tidy(() => {
        const buf = new Float32Array(indices.length * size);
        indices.forEach((idx, j) => buf.set(pixels.subarray(idx * size, (idx + 1) * size), j * size));
        const x = tf.tensor4d(buf, [indices.length, ...shape]);
        const y = tf.oneHot(tf.tensor1d(Array.from(indices, (i) => labels[i]!), 'int32'), classes).toFloat() as tf.Tensor2D;
        return { x, y };
      });
    },
  };
}

/** Samples/second of training steps (batch 64) of an architecture with a given kernel set. */
async function trainRate(
  kernels: WasmKernelSet,
  steps: number,
  arch: ArchName = 'lenet',
  shape: [number, number, number] = [28, 28, 1],
): Promise<number> {
  registerWasmKernels(kernels);
  const model = buildModel(arch, { inputShape: shape, numClasses: 10, rng: new Rng(1) });
  const warm = randomSource(64 * 3, shape, 10);
  const timed = randomSource(64 * steps, shape, 10);
  const settings = { epochs: 1, lr: 0.01, momentum: 0.5, batchSize: 64, lrStep: 50, weightDecay: 0 };
  await trainClassifier(model, warm, settings, new Rng(2));
  const t0 = performance.now();
  await trainClassifier(model, timed, settings, new Rng(2));
  const seconds = (performance.now() - t0) / 1000;
  model.dispose();
  return (64 * steps) / seconds;
}

async function benchTrain(): Promise<void> {
  const engine = await initEngine({ backend: 'wasm' });
  console.log(`# LeNet training, batch 64, backend ${engine.backend} (simd ${engine.wasmSimd}, threads ${engine.wasmThreads})`);
  const steps = 20;
  const rounds = 3;
  const rate: Record<WasmKernelSet, number[]> = { all: [], 'filter-only': [] };
  // Alternate the two configurations so drift in machine load hits both alike.
  for (let r = 0; r < rounds; r++) {
    rate['filter-only'].push(await trainRate('filter-only', steps));
    rate.all.push(await trainRate('all', steps));
  }
  const median = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
  const base = median(rate['filter-only']);
  const ours = median(rate.all);
  console.log(`filter-kernel-only (stock input grad + matmul)  ${base.toFixed(0)} samples/s`);
  console.log(`project kernels (all)                          ${ours.toFixed(0)} samples/s`);
  console.log(`speed-up                                       ${(ours / base).toFixed(2)}x  (target ≥ 1.8x)`);
  // The CIFAR architectures with the project kernels, for the model zoo's documentation.
  const small = await trainRate('all', 10, 'cnn-small', [32, 32, 3]);
  console.log(`cnn-small 32×32×3 training                     ${small.toFixed(0)} samples/s (${(small / ours).toFixed(2)}x LeNet)`);
  const vgg = await trainRate('all', 2, 'vgg16_bn', [32, 32, 3]);
  console.log(`vgg16_bn 32×32×3 training                      ${vgg.toFixed(1)} samples/s (${(vgg / ours).toFixed(3)}x LeNet)`);
  registerWasmKernels('all');
}

const benches: Record<string, () => Promise<void>> = { train: benchTrain };

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const names = wanted.length > 0 ? wanted : Object.keys(benches);
  for (const name of names) {
    const b = benches[name];
    if (!b) {
      console.error(`bench: unknown benchmark '${name}' (choose from: ${Object.keys(benches).join(', ')})`);
      process.exitCode = 2;
      return;
    }
    await b();
  }
}

await main();
