/**
 * The webgpu backend (Dawn) against wasm and the cpu backend, on small cases: the project's
 * im2col Conv2DBackpropFilter, one training step's gradients of LeNet and of VGG16-BN (batch 2),
 * every defense's output, and the first round of a Jacobian attack. In CI this runs on Mesa's
 * lavapipe (a software Vulkan driver: slow but exact), forced with --backend webgpu. Where Dawn
 * or a Vulkan driver cannot load, the file skips with one line saying why (fails, with
 * POISON_REQUIRE_WEBGPU=1). No synchronous reads in src/: eslint.config.js's no-restricted-properties.
 *
 * Each comparison computes on wasm (or cpu) first and on webgpu last: tensors are never moved
 * off webgpu, whose synchronous reads throw in Node.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initEngine, type EngineInfo } from '../src/engine/backend.js';
import { installedWebGpuKernels, registerWebGpuKernels } from '../src/engine/webgpu-kernels.js';
import { loadWebGpu } from '../src/engine/webgpu.js';
import { buildModel } from '../src/models/registry.js';
import type { ArchName } from '../src/models/types.js';
import { softCrossEntropy } from '../src/train/loop.js';
import { Rng } from '../src/util/rng.js';
import { parseDefenseSpec } from '../src/defenses/params.js';
import { createDefense } from '../src/defenses/create.js';
import { victimBlackBox } from '../src/blackbox/victim.js';
import { loadImageSet } from '../src/data/index.js';
import type { ImageSet, InputSpec } from '../src/data/types.js';
import { none } from '../src/defenses/none.js';
import { defenseNames } from '../src/defenses/registry.js';
import { attackDefinition } from '../src/attacks/registry.js';
import { JACOBIAN_DEFAULTS } from '../src/attacks/names.js';
import type { AttackContext } from '../src/attacks/types.js';
import type { TransferSet } from '../src/attacks/transfer-set.js';
import { BlackBoxOracle } from '../src/attack-run/oracle.js';
import { exitAfterTests, webgpuUnavailable } from './helpers/webgpu.js';
import { skipOrFail } from './helpers/requirement.js';
import { assertClose, randomValues, read } from './helpers/max-error.js';
import { saveRandomModel } from './helpers/saved-model.js';

type Compute = 'wasm' | 'cpu' | 'webgpu';

async function useBackend(name: Compute): Promise<EngineInfo> {
  return initEngine({ backend: name });
}


const why = await webgpuUnavailable();
// Also when skipping: Dawn may have loaded before finding no adapter.
exitAfterTests('webgpu tests (webgpu, wasm and cpu)');

if (why) {
  test('webgpu (Dawn) tests', (t) => skipOrFail(t, 'WEBGPU', `webgpu cannot load: ${why}`));
} else {

  test('engine: --backend webgpu records the adapter; the project kernel is installed', async () => {
    const info = await useBackend('webgpu');
    assert.equal(info.backend, 'webgpu');
    assert.equal(info.tfjsBackend, 'webgpu');
    assert.ok(info.webgpuAdapter, 'adapter recorded');
    assert.ok(info.webgpuAdapter.driver.length > 0, 'driver recorded');
    assert.equal(installedWebGpuKernels(), 'im2col');
    // Synchronous reads throw on webgpu in Node: the reason every read in src/ is `await data()`.
    const t = tf.matMul(tf.ones([8, 8]), tf.ones([8, 8])); // computed on the GPU
    assert.throws(() => t.dataSync());
    t.dispose();
  });

  test('the automatic choice takes webgpu only on a hardware adapter', async () => {
    const forced = await useBackend('webgpu');
    const software = forced.webgpuAdapter!.software;
    const failure = await loadWebGpu(false);
    if (software) assert.match(failure ?? '', /(only a software adapter|no GPU device).*--backend webgpu/);
    else assert.equal(failure, null);
    const auto = await initEngine({});
    if (software) assert.notEqual(auto.backend, 'webgpu');
    else assert.ok(auto.backend === 'webgpu' || auto.backend === 'tensorflow-gpu', auto.backend);
  });

  test('im2col Conv2DBackpropFilter equals the cpu backend (valid/same, strides 1/2, 1×1 to 5×5)', async () => {
    const cases = [
      { n: 2, h: 9, w: 10, ci: 3, co: 4, k: 3, s: 1, pad: 'same' as const },
      { n: 2, h: 9, w: 10, ci: 3, co: 4, k: 3, s: 2, pad: 'same' as const },
      { n: 3, h: 12, w: 11, ci: 2, co: 5, k: 5, s: 1, pad: 'valid' as const },
      { n: 2, h: 8, w: 8, ci: 4, co: 3, k: 2, s: 2, pad: 'valid' as const },
      { n: 2, h: 6, w: 7, ci: 5, co: 6, k: 1, s: 1, pad: 'valid' as const },
    ];
    for (const c of cases) {
      const rng = new Rng(c.n * 100 + c.k * 10 + c.s);
      const x = randomValues(rng, c.n * c.h * c.w * c.ci);
      const f = randomValues(rng, c.k * c.k * c.ci * c.co);
      const dyScale = randomValues(rng, 1)[0]! + 2;
      const gradient = (): tf.Tensor =>
        tf.grad((filter: tf.Tensor) => tf.sum(tf.mul(tf.square(tf.conv2d(tf.tensor4d(x, [c.n, c.h, c.w, c.ci]), filter as tf.Tensor4D, c.s, c.pad)), dyScale)))(
          tf.tensor4d(f, [c.k, c.k, c.ci, c.co]),
        );
      await useBackend('cpu');
      const expected = await read(tf.tidy(gradient));
      await useBackend('webgpu');
      const actual = await read(tf.tidy(gradient));
      assertClose(actual, expected, 1e-4, `k${c.k} s${c.s} ${c.pad}`);
    }
    // The stock kernel stays reachable (the benchmark compares the two).
    registerWebGpuKernels('stock');
    assert.equal(installedWebGpuKernels(), 'stock');
    registerWebGpuKernels('im2col');
  });

  test('int32 kernels that transpose (the TransposeProgram bug) equal the cpu backend', async () => {
    // oneHot output lives on the GPU (small constant tensors would be computed on the CPU).
    const cases: [string, () => tf.Tensor][] = [
      ['transpose', () => tf.transpose(tf.oneHot(tf.tensor2d([[1, 2], [3, 0], [2, 2]], [3, 2], 'int32'), 4), [0, 2, 1])],
      ['sum axis 1', () => tf.sum(tf.oneHot(tf.tensor2d([[1, 2], [3, 0], [2, 2]], [3, 2], 'int32'), 4), 1)],
      ['cast then sum', () => tf.sum(tf.cast(tf.oneHot(tf.tensor2d([[1, 2], [3, 0], [2, 2]], [3, 2], 'int32'), 4), 'float32'), 1)],
      ['max axis 0', () => tf.max(tf.mul(tf.oneHot(tf.tensor1d([1, 2, 3, 0], 'int32'), 4), tf.tensor1d([5, 6, 7, 8], 'int32').reshape([4, 1])), 0)],
      ['argMax axis 0', () => tf.argMax(tf.oneHot(tf.tensor1d([1, 2, 3, 0], 'int32'), 4), 0)],
      ['cumsum axis 0', () => tf.cumsum(tf.oneHot(tf.tensor1d([1, 2, 3, 0, 1], 'int32'), 4), 0)],
    ];
    for (const [name, f] of cases) {
      await useBackend('cpu');
      const expected = await read(tf.tidy(f));
      await useBackend('webgpu');
      const out = tf.tidy(f);
      const dtype = out.dtype;
      const actual = await read(out);
      assert.deepEqual(Array.from(actual), Array.from(expected), name);
      assert.notEqual(dtype, 'complex64');
    }
  });

  /** Gradients of one training step's loss w.r.t. every trainable weight, by variable order. */
  async function stepGradients(backend: Compute, arch: ArchName, shape: [number, number, number], batch: number): Promise<Float32Array[]> {
    await useBackend(backend);
    const model = buildModel(arch, { inputShape: shape, numClasses: 10, rng: new Rng(5) });
    const rng = new Rng(6);
    const xs = randomValues(rng, batch * shape[0] * shape[1] * shape[2], 0, 1);
    const labels = Array.from({ length: batch }, (_, i) => (i * 3) % 10);
    const { grads, names } = tf.tidy(() => {
      const x = tf.tensor4d(xs, [batch, ...shape]);
      const y = tf.oneHot(tf.tensor1d(labels, 'int32'), 10).toFloat() as tf.Tensor2D;
      const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
      const { grads } = tf.variableGrads(() => softCrossEntropy(model.apply(x, { training: true }) as tf.Tensor2D, y), vars);
      const names = vars.map((v) => v.name);
      return { grads: names.map((n) => grads[n]!), names };
    });
    assert.equal(grads.length, names.length);
    const out: Float32Array[] = [];
    for (const g of grads) out.push(await read(g));
    model.dispose();
    return out;
  }

  for (const [arch, shape, batch] of [
    ['lenet', [28, 28, 1], 4],
    ['vgg16_bn', [32, 32, 3], 2],
  ] as const) {
    test(`${arch}: one training step's gradients (batch ${batch}) equal wasm's`, async () => {
      const expected = await stepGradients('wasm', arch, [...shape], batch);
      const actual = await stepGradients('webgpu', arch, [...shape], batch);
      assert.equal(actual.length, expected.length);
      assert.ok(expected.length >= (arch === 'lenet' ? 8 : 40), `${expected.length} weight tensors`);
      // Floor: a convolution's bias before batch norm has a gradient of ~0 (rounding noise only).
      const scale = Math.max(...expected.map((g) => g.reduce((m, v) => Math.max(m, Math.abs(v)), 0)));
      actual.forEach((g, i) => assertClose(g, expected[i]!, 2e-3, `${arch} gradient ${i}`, scale * 1e-2));
    });
  }

  const DEFENSE_FLAGS: Record<string, Record<string, string>> = {
    none: {},
    'top-k': { k: '3' },
    argmax: {},
    rounding: { decimals: '2' },
    'reverse-sigmoid': { beta: '0.5', gamma: '0.2' },
    'random-noise': { 'noise-eps': '1' },
    mad: { eps: '0.5' },
    'mad-argmax': { eps: '0.5' },
    // Their helper models: randomly initialised LeNets saved once (helperModels below).
    'adaptive-misinformation': { 'am-tau': '0.9' },
    grad2: { eps: '0.5', 'grad2-target': 'min-ip' },
    'modelguard-w': { eps: '0.5' },
    'modelguard-s': { eps: '0.5' },
  };

  let helperDirs: { misinformation: string; surrogate: string } | null = null;
  /** Saved random LeNets standing in for the misinformation model and GRAD²'s surrogate. */
  async function helperModels(): Promise<{ misinformation: string; surrogate: string }> {
    if (helperDirs) return helperDirs;
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'poison-webgpu-helpers-'));
    process.on('exit', () => fs.rmSync(root, { recursive: true, force: true }));
    const dirs = { misinformation: path.join(root, 'misinformation'), surrogate: path.join(root, 'surrogate') };
    await saveRandomModel(dirs.misinformation, { seed: 21, kind: 'misinformation' });
    await saveRandomModel(dirs.surrogate, { seed: 22, kind: 'surrogate' });
    helperDirs = dirs;
    return dirs;
  }

  /** Released ỹ of every defense (and MAD's autodiff Jacobian) for 4 queries to a random LeNet. */
  async function defenseOutputs(backend: Compute): Promise<Map<string, Float32Array>> {
    await useBackend(backend);
    const inputShape: [number, number, number] = [28, 28, 1];
    const victim = buildModel('lenet', { inputShape, numClasses: 10, rng: new Rng(11) });
    const pixels = randomValues(new Rng(12), 4 * 28 * 28, -1, 2);
    const out = new Map<string, Float32Array>();
    const helpers = await helperModels();
    const helperFlags: Record<string, Record<string, string>> = {
      'adaptive-misinformation': { misinformation: helpers.misinformation },
      grad2: { 'grad2-surrogate': helpers.surrogate },
    };
    const configs: [string, Record<string, string>][] = defenseNames().map((n) => [n, { ...DEFENSE_FLAGS[n]!, ...helperFlags[n] }]);
    configs.push(['mad', { eps: '0.5', jacobian: 'autodiff' }]);
    // GRAD²'s finite differences over every parameter (all-ones), beside its closed form (min-ip) above.
    configs.push(['grad2', { eps: '0.5', ...helperFlags.grad2 }]);
    for (const [name, flags] of configs) {
      const defense = await createDefense(parseDefenseSpec(name, flags), { numClasses: 10, inputShape, arch: 'lenet', seed: 1 });
      const x = tf.tensor4d(pixels, [4, ...inputShape]);
      const released = await victimBlackBox(victim, defense).query(x);
      out.set(`${name} ${JSON.stringify(flags)}`, await read(released));
      x.dispose();
      defense.dispose();
    }
    victim.dispose();
    return out;
  }

  test('every defense releases the same ỹ on webgpu as on wasm', async () => {
    const expected = await defenseOutputs('wasm');
    const actual = await defenseOutputs('webgpu');
    assert.deepEqual([...actual.keys()], [...expected.keys()]);
    assert.equal(expected.size, defenseNames().length + 2);
    for (const [key, y] of expected) {
      assertClose(actual.get(key)!, y, 1e-3, key);
      // Every defense releases distributions: rows on the simplex.
      for (let r = 0; r < 4; r++) {
        const sum = y.subarray(r * 10, (r + 1) * 10).reduce((a, b) => a + b, 0);
        assert.ok(Math.abs(sum - 1) < 1e-4, `${key}: row ${r} sums to ${sum}`);
      }
    }
  });

  const input: InputSpec = { height: 28, width: 28, channels: 1, mean: [0.1307], std: [0.3081] };

  /** JBDA with a 10-image seed set and budget 20: the seed queries and exactly one round. */
  async function jbdaFirstRound(backend: Compute, seedPool: ImageSet): Promise<TransferSet> {
    await useBackend(backend);
    const victim = buildModel('lenet', { inputShape: [28, 28, 1], numClasses: 10, rng: new Rng(7) });
    const undefended = await none.create({ name: none.name }, { numClasses: 10, inputShape: [28, 28, 1], arch: 'lenet', seed: 1 });
    const budget = 20;
    const ctx: AttackContext = {
      oracle: BlackBoxOracle.live(victim, undefended, input, budget),
      budget,
      rng: new Rng(3).fork('attack'),
      input,
      numClasses: 10,
      labelMode: 'probs',
      queryBatchSize: 10,
      buildSubstitute: (rng) => buildModel('lenet', { inputShape: [28, 28, 1], numClasses: 10, rng }),
      substituteBatchSize: 10,
    };
    const transfer = await attackDefinition('jbda').run(ctx, { pool: seedPool, seedPool, jacobian: { ...JACOBIAN_DEFAULTS, seedSize: 10, roundEpochs: 1 }, settings: {} });
    victim.dispose();
    undefended.dispose();
    return transfer;
  }

  test('jbda: the seed queries and the first augmentation round match wasm', async () => {
    const seedPool = await loadImageSet('mnist', 'train', { limit: 50 });
    const expected = await jbdaFirstRound('wasm', seedPool);
    const actual = await jbdaFirstRound('webgpu', seedPool);
    assert.equal(actual.count, 20);
    assert.equal(expected.count, 20);
    assert.ok(actual.images.kind === 'pixels' && expected.images.kind === 'pixels');
    // The seed rows: the same images, the same answers.
    const size = 28 * 28;
    assert.deepEqual(actual.images.pixels.subarray(0, 10 * size), expected.images.pixels.subarray(0, 10 * size));
    assertClose(actual.released.subarray(0, 100), expected.released.subarray(0, 100), 1e-4, 'seed answers');
    // The augmented rows: x ± λ·sign(∇) — a sign can flip only where the gradient is ~0.
    const a = actual.images.pixels.subarray(10 * size);
    const e = expected.images.pixels.subarray(10 * size);
    let differ = 0;
    for (let i = 0; i < e.length; i++) if (Math.abs(a[i]! - e[i]!) > 1e-5) differ++;
    assert.ok(differ <= e.length * 0.005, `${differ} of ${e.length} augmented pixels differ`);
    let moved = 0;
    for (let i = 0; i < e.length; i++) if (Math.abs(e[i]! - expected.images.pixels[i]!) > 1e-6) moved++;
    assert.ok(moved > e.length * 0.1, 'the round moved the images');
    assertClose(actual.released.subarray(100), expected.released.subarray(100), 1e-2, 'round-1 answers');
  });
}
