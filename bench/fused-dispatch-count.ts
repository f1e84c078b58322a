/**
 * The fused webgpu step's own progress counter (the full host benchmark is `npm run bench --
 * gpu-host`): WebGPU calls per training step of trainClassifier and per inference batch
 * (inferenceLogits), with the stock tfjs kernels and with the project's, on Dawn's null adapter.
 * Counts are exact; host ms are a rough ratio on a loaded machine.
 *
 *   POISON_DAWN_FLAGS=backend=null node dist/bench/fused-dispatch-count.js [arch…]
 *
 */
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../src/engine/backend.js';
import { registerWebGpuKernels, type WebGpuKernelSet } from '../src/engine/webgpu-kernels.js';
import { inferenceLogits } from '../src/defenses/forward.js';
import { buildModel } from '../src/models/registry.js';
import { ARCH_NAMES, type ArchName } from '../src/models/types.js';
import { imageSetSource, victimInputSpec } from '../src/train/victim.js';
import { trainClassifier } from '../src/train/loop.js';
import { Rng } from '../src/util/rng.js';
import type { ImageSet } from '../src/data/types.js';

type Counted = 'dispatches' | 'passes' | 'submits' | 'writes';
const counts: Record<Counted, number> = { dispatches: 0, passes: 0, submits: 0, writes: 0 };

function wrap(className: string, method: string, counter: Counted): void {
  const cls = (globalThis as unknown as Record<string, { prototype: Record<string, (...a: unknown[]) => unknown> } | undefined>)[className];
  const original = cls?.prototype[method];
  if (!cls || !original) throw new Error(`${className}.${method} not found: is Dawn loaded?`);
  cls.prototype[method] = function (this: unknown, ...a: unknown[]) {
    counts[counter]++;
    return original.apply(this, a);
  };
}

/**
 * Destroys the GPU buffers tfjs keeps pooled after they were freed: the null adapter's memory
 * is small, and one configuration's pool (buffer sizes the next never asks for) would fill it.
 */
function dropPooledBuffers(): void {
  const manager = (tf.backend() as unknown as { bufferManager?: { freeBuffers: Map<string, { destroy(): void }[]>; numFreeBuffers: number } }).bufferManager;
  if (!manager) return;
  for (const pooled of manager.freeBuffers.values()) {
    for (const buffer of pooled) buffer.destroy();
    pooled.length = 0;
  }
  manager.numFreeBuffers = 0;
}

async function measure(arch: ArchName, set: WebGpuKernelSet): Promise<void> {
  registerWebGpuKernels(set);
  const dataset = arch === 'lenet' ? 'mnist' : 'cifar10';
  const spec = victimInputSpec(dataset);
  const batch = arch === 'vgg16_bn' ? 8 : 64;
  const steps = 6;
  const n = batch * steps;
  const pixels = new Uint8Array(n * spec.height * spec.width * spec.channels);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 7919) % 251;
  const images: ImageSet = {
    dataset, split: 'train', pixels, labels: Int32Array.from({ length: n }, (_, i) => i % 10), count: n,
    height: spec.height, width: spec.width, channels: spec.channels, numClasses: 10, source: 'synthetic',
  };
  const model = buildModel(arch, { inputShape: [spec.height, spec.width, spec.channels], numClasses: 10, rng: new Rng(1) });
  const settings = { epochs: 1, lr: 0.01, momentum: 0.9, batchSize: batch, lrStep: 100, weightDecay: 0 };
  const data = imageSetSource(images, spec);
  await trainClassifier(model, data, settings, new Rng(2)); // warm-up: pipelines compiled
  const before = { ...counts };
  const started = performance.now();
  await trainClassifier(model, data, settings, new Rng(2));
  const ms = (performance.now() - started) / steps;
  const per = (k: Counted): string => ((counts[k] - before[k]) / steps).toFixed(1);
  console.log(`${arch} ${set} training step: ${per('dispatches')} dispatches, ${per('passes')} passes, ${per('submits')} submits, ${per('writes')} buffer writes, ${ms.toFixed(1)} host ms`);
  const x = data.batch(Int32Array.from({ length: batch }, (_, i) => i)).x;
  for (let round = 0; round < 2; round++) {
    const at = { ...counts };
    const logits = tf.tidy(() => inferenceLogits(model, x));
    await logits.data();
    logits.dispose();
    if (round === 1) console.log(`${arch} ${set} inference batch: ${counts.dispatches - at.dispatches} dispatches`);
  }
  x.dispose();
  model.dispose();
  dropPooledBuffers();
}

const archs = process.argv.slice(2).length > 0 ? process.argv.slice(2) : [...ARCH_NAMES];
await initEngine({ backend: 'webgpu' });
wrap('GPUComputePassEncoder', 'dispatchWorkgroups', 'dispatches');
wrap('GPUCommandEncoder', 'beginComputePass', 'passes');
wrap('GPUQueue', 'submit', 'submits');
wrap('GPUQueue', 'writeBuffer', 'writes');
for (const arch of archs) {
  if (!(ARCH_NAMES as readonly string[]).includes(arch)) throw new Error(`unknown architecture ${arch}`);
  for (const set of ['stock', 'im2col'] as const) await measure(arch as ArchName, set);
}
process.exit(0);
