/**
 * The project's webgpu host path (src/engine/webgpu-host.ts: uniforms in content-addressed
 * slots, uploads by writeBuffer, cached bind groups and layouts, oldest-free buffer choice)
 * changes no number: LeNet trained 6 steps on webgpu ends with the same weights with tfjs's own
 * host path and with the project's (to 1e-6: lavapipe itself varies by ≈ 1e-8 from run to run),
 * and both match the cpu backend. Run on a real adapter or
 * Mesa's lavapipe (CI); Dawn's null adapter computes nothing, so there the file skips, as it does
 * with one line where webgpu cannot load (failing instead when POISON_REQUIRE_WEBGPU=1).
 * The counts the host path saves are held in webgpu-dispatch-budget.test.ts (null adapter).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../src/engine/backend.js';
import { countsBetween, installWebGpuCounter, webGpuCounts } from '../src/engine/webgpu-counter.js';
import { setWebGpuHostPath, webGpuHostPath, type WebGpuHostPath } from '../src/engine/webgpu-host.js';
import { buildModel } from '../src/models/registry.js';
import { trainClassifier } from '../src/train/loop.js';
import { Rng } from '../src/util/rng.js';
import { randomSource } from '../bench/gpu-host.js';
import { exitAfterTests, webgpuUnavailable } from './helpers/webgpu.js';
import { skipOrFail } from './helpers/requirement.js';
import { maxErrors } from './helpers/max-error.js';

const SHAPE: [number, number, number] = [28, 28, 1];
const SETTINGS = { epochs: 1, lr: 0.01, momentum: 0.5, batchSize: 4, lrStep: 50, weightDecay: 0 };

/** LeNet after 6 training steps (batch 4) on the current backend: every weight, flattened. */
async function trainedWeights(): Promise<Float32Array[]> {
  const model = buildModel('lenet', { inputShape: SHAPE, numClasses: 10, rng: new Rng(1) });
  await trainClassifier(model, randomSource(24, SHAPE, 10), SETTINGS, new Rng(2));
  const weights: Float32Array[] = [];
  for (const w of model.getWeights()) weights.push((await w.data()) as Float32Array);
  model.dispose();
  return weights;
}

const onNull = /backend=null/.test(process.env.POISON_DAWN_FLAGS ?? '');
const unavailable = onNull ? "POISON_DAWN_FLAGS selects Dawn's null adapter, which computes nothing" : await webgpuUnavailable();
exitAfterTests('webgpu host-path tests');

if (unavailable) {
  // Dawn's null adapter was chosen on purpose (POISON_DAWN_FLAGS): a skip even where webgpu is required.
  if (onNull) test('webgpu host path changes no number', { skip: unavailable }, () => undefined);
  else test('webgpu host path changes no number', (t) => skipOrFail(t, 'WEBGPU', `webgpu cannot load: ${unavailable}`));
} else {
  test("webgpu host path: LeNet trained 6 steps has the same weights with tfjs's host path and the project's, both ≈ cpu", async () => {
    await initEngine({ backend: 'cpu' });
    const cpu = await trainedWeights();
    await initEngine({ backend: 'webgpu' });
    assert.equal(webGpuHostPath(), 'ours', 'initEngine installs the project host path');
    assert.ok(installWebGpuCounter());
    const run = async (path: WebGpuHostPath) => {
      setWebGpuHostPath(path);
      const before = webGpuCounts();
      const weights = await trainedWeights();
      return { weights, counts: countsBetween(before, webGpuCounts()) };
    };
    const stock = await run('stock');
    const ours = await run('ours');
    // The project path really ran: fewer bind groups (cache hits) and uniform writes.
    assert.ok(ours.counts.bindGroups < stock.counts.bindGroups / 2, `bind groups ${ours.counts.bindGroups} vs ${stock.counts.bindGroups}`);
    assert.ok(ours.counts.writeBuffers < stock.counts.writeBuffers / 2, `writeBuffer ${ours.counts.writeBuffers} vs ${stock.counts.writeBuffers}`);
    assert.equal(ours.counts.dispatches, stock.counts.dispatches);
    assert.equal(ours.weights.length, stock.weights.length);
    ours.weights.forEach((w, i) => {
      // Lavapipe is not bit-reproducible from run to run (two runs of tfjs's own path differ by
      // ≈ 1e-8): equal up to that, where a wrong uniform, upload or binding is off by O(1).
      const paths = maxErrors(w, stock.weights[i]!, `weight ${i}, host paths`);
      assert.ok(paths.maxErr <= 1e-6 * Math.max(paths.maxRef, 1e-3), `weight ${i}: the host paths differ by ${paths.maxErr} (max ${paths.maxRef})`);
      const { maxRef, maxErr } = maxErrors(w, cpu[i]!, `weight ${i} vs cpu`);
      assert.ok(maxErr <= 1e-3 * Math.max(maxRef, 1e-3), `weight ${i}: max error ${maxErr} vs cpu (max ${maxRef})`);
    });
    assert.equal(tf.memory().numTensors, 0);
  });
}
