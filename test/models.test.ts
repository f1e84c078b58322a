import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../src/engine/backend.js';
import { buildModel } from '../src/models/registry.js';
import { LOGITS_LAYER, type ArchName } from '../src/models/types.js';
import { Rng } from '../src/util/rng.js';

const shapes: Record<ArchName, { input: [number, number, number]; params: number }> = {
  // conv1 5·5·1·20+20, conv2 5·5·20·50+50, fc1 800·500+500, logits 500·10+10
  lenet: { input: [28, 28, 1], params: 520 + 25_050 + 400_500 + 5_010 },
  // conv 3·3·3·32+32, 3·3·32·64+64, 3·3·64·128+128, fc 2048·128+128, logits 128·10+10
  'cnn-small': { input: [32, 32, 3], params: 896 + 18_496 + 73_856 + 262_272 + 1_290 },
  // 13 convs (14,714,688) + 512·10+10 + 13 BNs with 4,224 channels in all (γ, β, moving mean, var)
  vgg16_bn: { input: [32, 32, 3], params: 14_714_688 + 5_130 + 4 * 4_224 },
};

test('every architecture builds with the docs/spec.md layout, a logits layer and the right parameter count', async () => {
  await initEngine({ backend: 'wasm' });
  for (const arch of Object.keys(shapes) as ArchName[]) {
    const { input, params } = shapes[arch];
    const model = buildModel(arch, { inputShape: input, numClasses: 10, rng: new Rng(1) });
    assert.equal(model.countParams(), params, arch);
    const last = model.layers[model.layers.length - 1]!;
    assert.equal(last.name, LOGITS_LAYER, arch);
    assert.equal(last.getClassName(), 'Dense', arch);
    const y = tf.tidy(() => model.predict(tf.zeros([2, ...input])) as tf.Tensor);
    assert.deepEqual(y.shape, [2, 10]);
    y.dispose();
    model.dispose();
  }
});

test('initialisers are seeded from the run: same rng state, same weights; other seed, other weights', async () => {
  await initEngine({ backend: 'wasm' });
  const weights = (seed: number): Float32Array[] => {
    const m = buildModel('lenet', { inputShape: [28, 28, 1], numClasses: 10, rng: new Rng(seed) });
    const w = m.getWeights().map((t) => t.dataSync() as Float32Array);
    m.dispose();
    return w;
  };
  const a = weights(5);
  const b = weights(5);
  const c = weights(6);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a[0], c[0]);
  // PyTorch's default bound for conv1: 1/sqrt(fan_in) = 1/5.
  const bound = Math.max(...Array.from(a[0]!, Math.abs));
  assert.ok(bound <= 0.2 && bound > 0.15, `conv1 weight bound ${bound}`);
});
