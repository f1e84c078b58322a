/**
 * What one training step asks of the GPU's host side, counted on Dawn's null adapter (validates
 * every WebGPU call, runs nothing; no GPU or Mesa needed): the step is issue 20's unit of host
 * cost, and a count is deterministic, so it is held to a budget here rather than timed.
 *   - dispatches per step of the real training loop (trainClassifier) within budget for each
 *     architecture of the zoo;
 *   - exactly one GPU→CPU read (mapAsync) per step: the loss/accuracy read, made after the next
 *     step has been issued;
 *   - the project's host path (src/engine/webgpu-host.ts) issues the same dispatches as tfjs's
 *     own with no buffer creation or uniform write and (nearly) no bind group left per step.
 * Inference batches are counted and reported (t.diagnostic).
 *
 * This file's process runs Dawn with `backend=null` whatever POISON_DAWN_FLAGS says. Where Dawn
 * cannot load it skips with one line, unless POISON_REQUIRE_WEBGPU=1 (CI), where that fails.
 */
process.env.POISON_DAWN_FLAGS = 'backend=null';

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { installWebGpuCounter } from '../src/engine/webgpu-counter.js';
import { buildModel } from '../src/models/registry.js';
import type { ArchName } from '../src/models/types.js';
import { Rng } from '../src/util/rng.js';
import { measureInferenceBatches, measureTrainingSteps, useHostConfig, type HostConfig, type StepCost } from '../bench/gpu-host.js';
import { exitAfterTests, webgpuUnavailable } from './helpers/webgpu.js';
import { skipOrFail } from './helpers/requirement.js';

const ARCHS: { arch: ArchName; label: string; shape: [number, number, number]; batch: number; budget: number }[] = [
  { arch: 'lenet', label: 'LeNet', shape: [28, 28, 1], batch: 64, budget: 40 },
  { arch: 'cnn-small', label: 'cnn-small', shape: [32, 32, 3], batch: 8, budget: 60 },
  { arch: 'vgg16_bn', label: 'VGG16-BN', shape: [32, 32, 3], batch: 8, budget: 300 },
];

const unavailable = await webgpuUnavailable();
exitAfterTests('webgpu dispatch-budget tests (null adapter)');
const why = unavailable ?? (installWebGpuCounter() ? null : "Dawn's GPU* classes are missing: cannot count");

/**
 * Each tensor read during training: how many tensors were created after the one read, before the
 * read. A read delayed by a step finds the next step's tensors already made; a read right after
 * its own step, none (tfjs's engine numbers tensors in creation order).
 */
interface Read {
  newer: number;
}

async function recordingReads<T>(work: () => Promise<T>): Promise<{ result: T; reads: Read[] }> {
  const reads: Read[] = [];
  const proto = tf.Tensor.prototype as { data: (this: tf.Tensor) => Promise<unknown> };
  const data = proto.data;
  const engineClass = tf.engine().constructor as unknown as { nextTensorId: number };
  proto.data = function (this: tf.Tensor) {
    reads.push({ newer: engineClass.nextTensorId - 1 - this.id });
    return data.call(this);
  };
  try {
    return { result: await work(), reads };
  } finally {
    proto.data = data;
  }
}

/** Steady-state steps (after warm-up) of each architecture, per configuration, measured once. */
const measured = new Map<string, { train: StepCost[]; infer: StepCost[]; reads: Read[] }>();
async function costs(arch: (typeof ARCHS)[number], config: HostConfig): Promise<{ train: StepCost[]; infer: StepCost[]; reads: Read[] }> {
  const key = `${arch.arch}/${config}`;
  let found = measured.get(key);
  if (!found) {
    useHostConfig(config);
    const model = buildModel(arch.arch, { inputShape: arch.shape, numClasses: 10, rng: new Rng(1) });
    // 6 warm-up steps: the host path's bind-group cache reaches its steady state (bench/gpu-host.ts).
    const { result: train, reads } = await recordingReads(() => measureTrainingSteps(model, arch.shape, arch.batch, 6, 2));
    found = { train, reads, infer: await measureInferenceBatches(model, arch.shape, arch.batch, 2, 2) };
    model.dispose();
    measured.set(key, found);
  }
  return found;
}

if (why) {
  test('webgpu dispatch budget (Dawn null adapter)', (t) => skipOrFail(t, 'WEBGPU', `webgpu cannot count dispatches: ${why}`));
} else {
  for (const a of ARCHS) {
    test(`${a.label}: one training step (batch ${a.batch}) dispatches ≤ ${a.budget} kernels`, async (t) => {
      const { train, infer } = await costs(a, 'ours');
      t.diagnostic(`${a.label}: ${train[0]!.counts.dispatches} dispatches, ${train[0]!.counts.submits} submits per training step; ${infer[0]!.counts.dispatches} dispatches per inference batch`);
      for (const step of train) assert.ok(step.counts.dispatches <= a.budget, `${a.label}: ${step.counts.dispatches} dispatches in a training step > budget ${a.budget}`);
    });

    test(`${a.label}: a training step reads the GPU once (the loss, one step late); inference batches not at all`, async () => {
      const { train, infer, reads } = await costs(a, 'ours');
      // Every read but the one after the last step waits until the next step has been issued.
      assert.ok(reads.length >= 3);
      for (const r of reads.slice(0, -1)) assert.ok(r.newer > 0, `${a.label}: a step's loss was read before the next step was issued`);
      for (const step of train) assert.equal(step.counts.mapAsyncs, 1, `${a.label}: ${step.counts.mapAsyncs} GPU→CPU reads in one training step`);
      for (const batch of infer) assert.equal(batch.counts.mapAsyncs, 0, `${a.label}: ${batch.counts.mapAsyncs} GPU→CPU reads in one inference batch`);
      // Every step of the loop issues the same work (what the caches save may still vary).
      const work = (c: StepCost) => [c.counts.dispatches, c.counts.computePasses, c.counts.submits, c.counts.mapAsyncs];
      assert.deepEqual(work(train[1]!), work(train[0]!));
    });
  }

  test('the project host path: same dispatches as tfjs; no buffer made or uniform written, bind groups cached', async (t) => {
    for (const a of ARCHS) {
      const stock = await costs(a, 'stock');
      const host = await costs(a, 'host');
      const s = stock.train[0]!.counts;
      const h = host.train[0]!.counts;
      t.diagnostic(`${a.label} step, stock → host path: writeBuffer ${s.writeBuffers} → ${h.writeBuffers}, bind groups ${s.bindGroups} → ${h.bindGroups}, new buffers ${s.createBuffers} → ${h.createBuffers}, passes ${s.computePasses} → ${h.computePasses}`);
      assert.equal(h.dispatches, s.dispatches, `${a.label}: the host path changed the kernels dispatched`);
      assert.equal(h.mapAsyncs, s.mapAsyncs);
      // VGG16-BN's cache is still filling after 6 steps (≈ 150 of 1,000 misses; ≈ 6 after 20).
      const allowed = a.arch === 'vgg16_bn' ? s.bindGroups / 4 : 0;
      assert.ok(h.bindGroups <= allowed, `${a.label}: ${h.bindGroups} bind groups created per step after warm-up (stock: ${s.bindGroups})`);
      assert.equal(h.createBuffers, 0, `${a.label}: ${h.createBuffers} buffers created per step in steady state`);
      // Per step tfjs writes one uniform buffer per dispatch; what is left are the uploads of the
      // step's CPU values (scalars, the batch), now written instead of staged.
      assert.ok(s.writeBuffers >= s.dispatches, `${a.label}: stock path wrote ${s.writeBuffers} < ${s.dispatches} uniforms`);
      assert.ok(h.writeBuffers <= s.createBuffers, `${a.label}: ${h.writeBuffers} writes per step > ${s.createBuffers} uploads of the stock path`);
      assert.ok(h.computePasses <= s.computePasses);
      assert.equal(host.infer[0]!.counts.bindGroups, 0);
      assert.equal(host.infer[0]!.counts.dispatches, stock.infer[0]!.counts.dispatches);
    }
    useHostConfig('ours');
    assert.equal(tf.memory().numTensors, 0, 'tensors left behind by the measured steps');
  });
}
