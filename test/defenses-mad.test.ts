/**
 * MAD's two routes to the attacker's gradient geometry agree: the docs/spec.md closed form (surrogate
 * posterior only) and real autodiff gradients of the surrogate's log-softmax w.r.t. its last
 * dense kernel give the same ỹ (max abs difference ≤ 1e-5) for lenet, cnn-small and vgg16_bn
 * surrogates, both oracles and both norms. Also: the Gram matrices autodiff produces are the
 * ones the closed form assumes, the all-parameter Jacobian satisfies the invariants, degenerate
 * inputs give no NaN, and surrogates are built, loaded and checked as documented.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { hashModelDir } from '../src/cache/content-hash.js';
import { initEngine } from '../src/engine/backend.js';
import { UsageError } from '../src/errors.js';
import { createDefense } from '../src/defenses/create.js';
import { parseDefenseSpec } from '../src/defenses/params.js';
import { Surrogate } from '../src/defenses/mad/surrogate.js';
import type { Defense, DefenseContext } from '../src/defenses/types.js';
import { buildModel } from '../src/models/registry.js';
import { saveModel } from '../src/models/io.js';
import { LOGITS_LAYER, type ArchName } from '../src/models/types.js';
import { Rng } from '../src/util/rng.js';

let tmp: string;

before(async () => {
  await initEngine({ backend: 'wasm' });
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'poison-mad-'));
});

after(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

/** Seeded posteriors: softmax of random logits at a few temperatures. */
function randomPosteriors(seed: number, rows: number, k: number): tf.Tensor2D {
  const rng = new Rng(seed);
  const logits = new Float32Array(rows * k);
  for (let i = 0; i < logits.length; i++) logits[i] = [0.5, 2, 6][Math.floor(i / k) % 3]! * rng.normal();
  return tf.tidy(() => tf.softmax(tf.tensor2d(logits, [rows, k])));
}

function randomImages(seed: number, rows: number, shape: [number, number, number]): tf.Tensor4D {
  return tf.randomNormal([rows, ...shape], 0, 1, 'float32', seed) as tf.Tensor4D;
}

async function outputs(d: Defense, y: tf.Tensor2D, side: tf.Tensor | null): Promise<Float32Array> {
  const out = d.apply(y, side);
  const data = (await out.data()) as Float32Array;
  out.dispose();
  return data;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const cases: { arch: ArchName; shape: [number, number, number]; rows: number }[] = [
  { arch: 'lenet', shape: [28, 28, 1], rows: 12 },
  { arch: 'cnn-small', shape: [32, 32, 3], rows: 8 },
  { arch: 'vgg16_bn', shape: [32, 32, 3], rows: 2 },
];

for (const c of cases) {
  test(`closed form and autodiff (last layer) give the same ỹ on a ${c.arch} surrogate`, async () => {
    const ctx: DefenseContext = { numClasses: 10, inputShape: c.shape, arch: c.arch, seed: 5 };
    ctx.surrogate = Surrogate.randomInit(ctx);
    const x = randomImages(11, c.rows, c.shape);
    const y = randomPosteriors(12, c.rows, 10);
    const make = (name: string, ydist: string, jacobian: string): Promise<Defense> =>
      createDefense(parseDefenseSpec(name, { eps: '0.7', ydist, jacobian }), ctx);
    try {
      const closed = await make('mad', 'l1', 'closed');
      const auto = await make('mad', 'l1', 'autodiff');
      const p = closed.sideInfo(x)!;
      const M = auto.sideInfo(x)!;
      assert.deepEqual(M.shape, [c.rows, 10, 10]);
      assert.notEqual(closed.sideInfoKey, auto.sideInfoKey);
      closed.dispose();
      auto.dispose();
      for (const name of ['mad', 'mad-argmax']) {
        for (const ydist of ['l1', 'l2']) {
          const viaP = await make(name, ydist, 'closed');
          const viaG = await make(name, ydist, 'autodiff');
          const a = await outputs(viaP, y, p);
          const b = await outputs(viaG, y, M);
          const diff = maxAbsDiff(a, b);
          assert.ok(diff <= 1e-5, `${c.arch} ${name} ${ydist}: closed form and autodiff differ by ${diff}`);
          // …and the one-call form through the surrogate gives the same as apply on side information.
          const direct = viaG.perturb(x, y);
          assert.ok(maxAbsDiff((await direct.data()) as Float32Array, b) === 0);
          direct.dispose();
          viaP.dispose();
          viaG.dispose();
        }
      }
      tf.dispose([p, M]);
    } finally {
      tf.dispose([x, y]);
      ctx.surrogate.dispose();
    }
  });
}

test('autodiff Gram matrices are the closed form’s: M = ‖h‖²·(I − 1pᵀ − p1ᵀ + ‖p‖²·11ᵀ)', async () => {
  const ctx: DefenseContext = { numClasses: 10, inputShape: [28, 28, 1], arch: 'lenet', seed: 9 };
  const surrogate = Surrogate.randomInit(ctx);
  // The same weights, built again, to read h (the logits layer's input) independently.
  const model = buildModel('lenet', { inputShape: [28, 28, 1], numClasses: 10, rng: new Rng(9).fork('surrogate') });
  const x = randomImages(3, 4, [28, 28, 1]);
  const M = surrogate.jacobianGram(x, 'last');
  const p = surrogate.posterior(x);
  const expected = tf.tidy(() => {
    let h: tf.Tensor = x;
    for (const layer of model.layers) {
      if (layer.name === LOGITS_LAYER) break;
      h = layer.apply(h) as tf.Tensor;
    }
    const hh = tf.sum(tf.square(h), 1).reshape([4, 1, 1]);
    const e = tf.eye(10).reshape([1, 10, 10]);
    const pr = p.reshape([4, 10, 1]);
    const pc = p.reshape([4, 1, 10]);
    const centred = tf.sub(e, pr.add(pc).sub(tf.sum(tf.square(p), 1).reshape([4, 1, 1]))); // (e_j − p)ᵀ(e_k − p)
    return tf.mul(hh, centred);
  });
  const [got, want] = [await M.data(), await expected.data()];
  const scale = Math.max(...Array.from(want, Math.abs));
  assert.ok(maxAbsDiff(got as Float32Array, want as Float32Array) <= 1e-4 * scale, 'Gram matrix differs from ‖h‖²(e_j − p)ᵀ(e_k − p)');
  tf.dispose([M, p, expected, x]);
  model.dispose();
  surrogate.dispose();
});

test('autodiff over all parameters (the paper’s text): invariants hold, the tensor count is stable', async () => {
  const ctx: DefenseContext = { numClasses: 10, inputShape: [28, 28, 1], arch: 'lenet', seed: 4 };
  ctx.surrogate = Surrogate.randomInit(ctx);
  const x = randomImages(5, 3, [28, 28, 1]);
  const y = randomPosteriors(6, 3, 10);
  const yData = await y.data();
  for (const name of ['mad', 'mad-argmax']) {
    const d = await createDefense(parseDefenseSpec(name, { eps: '0.6', jacobian: 'autodiff-all' }), ctx);
    assert.match(d.sideInfoKey!, /^jacobian-gram-all:random-init:lenet:seed=4$/);
    d.perturb(x, y).dispose();
    const before = tf.memory().numTensors;
    const released = d.perturb(x, y);
    const out = (await released.data()) as Float32Array;
    released.dispose();
    assert.equal(tf.memory().numTensors, before, 'a second perturb leaked tensors');
    for (let r = 0; r < 3; r++) {
      const row = Array.from(out.subarray(r * 10, r * 10 + 10));
      const clean = Array.from(yData.subarray(r * 10, r * 10 + 10));
      assert.ok(row.every((v) => Number.isFinite(v) && v >= 0));
      assert.ok(Math.abs(row.reduce((s, v) => s + v, 0) - 1) <= 1e-5);
      const l1 = row.reduce((s, v, j) => s + Math.abs(v - clean[j]!), 0);
      assert.ok(Math.abs(l1 - 0.6) <= 1e-5 || l1 < 0.6, `${name}: L1 ${l1}`);
      if (name === 'mad-argmax') assert.equal(row.indexOf(Math.max(...row)), clean.indexOf(Math.max(...clean)));
    }
    d.dispose();
  }
  tf.dispose([x, y]);
  ctx.surrogate.dispose();
});

test('degenerate inputs give no NaN: p = y, p a vertex, y a vertex, a zero Jacobian', async () => {
  const ctx: DefenseContext = { numClasses: 4, inputShape: [28, 28, 1], arch: 'lenet', seed: 2 };
  ctx.surrogate = Surrogate.randomInit(ctx);
  const y = tf.tensor2d([
    [0.4, 0.3, 0.2, 0.1], // p = y: the gradient direction vanishes → farthest vertex (least likely class)
    [0.4, 0.3, 0.2, 0.1], // p one-hot
    [1, 0, 0, 0], // y one-hot
    [0.25, 0.25, 0.25, 0.25], // y uniform, p uniform
  ]);
  const p = tf.tensor2d([
    [0.4, 0.3, 0.2, 0.1],
    [0, 1, 0, 0],
    [0.1, 0.2, 0.3, 0.4],
    [0.25, 0.25, 0.25, 0.25],
  ]);
  const zeroGram = tf.zeros([4, 4, 4]);
  for (const name of ['mad', 'mad-argmax']) {
    for (const [jacobian, side] of [['closed', p], ['autodiff', zeroGram]] as const) {
      const d = await createDefense(parseDefenseSpec(name, { eps: '0.5', jacobian }), ctx);
      const rows = (await d.apply(y, side).array());
      for (const row of rows) {
        assert.ok(row.every((v) => Number.isFinite(v) && v >= 0), `${name} ${jacobian}: ${row.join(', ')}`);
        assert.ok(Math.abs(row.reduce((s, v) => s + v, 0) - 1) <= 1e-5);
      }
      if (name === 'mad') {
        // p = y (and a zero Jacobian everywhere): towards the least likely class e₃, by exactly ε = 0.5
        // in L1: ‖y − e₃‖₁ = 1.8, α = 0.5/1.8, ỹ₀ = 0.4(1 − α) = 0.288889, ỹ₃ = 0.1 + 0.9α = 0.35.
        assert.ok(Math.abs(rows[0]![3]! - 0.35) <= 1e-6 && Math.abs(rows[0]![0]! - 0.288889) <= 1e-6, `${jacobian}: ${rows[0]!.join(', ')}`);
      }
      d.dispose();
    }
  }
  const gramDefense = await createDefense(parseDefenseSpec('mad', { eps: '0.5', jacobian: 'autodiff' }), ctx);
  assert.throws(() => gramDefense.apply(y, p), /side information 'jacobian-gram-last:random-init:lenet:seed=2' must be \[4, 4, 4\], got \[4, 4\]/);
  gramDefense.dispose();
  tf.dispose([y, p, zeroGram]);
  ctx.surrogate.dispose();
});

test('the default surrogate is the victim architecture, randomly initialised from new Rng(seed).fork("surrogate")', async () => {
  const ctx: DefenseContext = { numClasses: 10, inputShape: [28, 28, 1], arch: 'lenet', seed: 21 };
  const x = randomImages(8, 5, [28, 28, 1]);
  const d = await createDefense(parseDefenseSpec('mad', { eps: '0.5' }), ctx);
  assert.equal(d.sideInfoKey, 'surrogate-posterior:random-init:lenet:seed=21');
  const p = d.sideInfo(x)!;
  const model = buildModel('lenet', { inputShape: [28, 28, 1], numClasses: 10, rng: new Rng(21).fork('surrogate') });
  const expected = tf.tidy(() => tf.softmax(model.predict(x) as tf.Tensor2D));
  assert.ok(maxAbsDiff((await p.data()) as Float32Array, (await expected.data()) as Float32Array) <= 1e-6);
  const other = await createDefense(parseDefenseSpec('mad', { eps: '0.5' }), { ...ctx, seed: 22 });
  const q = other.sideInfo(x)!;
  assert.ok(maxAbsDiff((await p.data()) as Float32Array, (await q.data()) as Float32Array) > 1e-3, 'another seed, another surrogate');
  tf.dispose([x, p, q, expected]);
  model.dispose();
  d.dispose();
  other.dispose();
});

test('a saved surrogate is used as given; one whose input shape or class count differs is refused', async () => {
  const ctx: DefenseContext = { numClasses: 10, inputShape: [28, 28, 1], arch: 'lenet', seed: 1 };
  const save = async (name: string, arch: ArchName, shape: [number, number, number], classes: number): Promise<string> => {
    const dir = path.join(tmp, name);
    const model = buildModel(arch, { inputShape: shape, numClasses: classes, rng: new Rng(77) });
    await saveModel(model, dir);
    model.dispose();
    const input = { height: shape[0], width: shape[1], channels: shape[2], mean: [0.1307], std: [0.3081] };
    await fs.writeFile(path.join(dir, 'params.json'), JSON.stringify({ kind: 'victim', arch, dataset: 'mnist', numClasses: classes, input, seed: 77 }));
    return dir;
  };
  const good = await save('good', 'lenet', [28, 28, 1], 10);
  const x = randomImages(2, 3, [28, 28, 1]);
  const d = await createDefense(parseDefenseSpec('mad', { eps: '0.5', surrogate: good }), ctx);
  // Named by the content of its files, not by where it is.
  assert.equal(d.sideInfoKey, `surrogate-posterior:saved:sha256=${await hashModelDir(good)}`);
  const model = buildModel('lenet', { inputShape: [28, 28, 1], numClasses: 10, rng: new Rng(77) });
  const [p, expected] = [d.sideInfo(x)!, tf.tidy(() => tf.softmax(model.predict(x) as tf.Tensor2D))];
  assert.ok(maxAbsDiff((await p.data()) as Float32Array, (await expected.data()) as Float32Array) <= 1e-6);
  tf.dispose([p, expected, x]);
  model.dispose();
  d.dispose();

  const fewer = await save('five-classes', 'lenet', [28, 28, 1], 5);
  const wider = await save('cifar-shaped', 'cnn-small', [32, 32, 3], 10);
  for (const [dir, mentions] of [
    [fewer, /takes 28×28×1 inputs with 5 classes, the victim 28×28×1 with 10: they must match/],
    [wider, /takes 32×32×3 inputs with 10 classes, the victim 28×28×1 with 10: they must match/],
    [path.join(tmp, 'missing'), /--surrogate: .*no params\.json/],
  ] as const) {
    const before = tf.memory().numTensors;
    await assert.rejects(createDefense(parseDefenseSpec('mad-argmax', { eps: '0.5', surrogate: dir }), ctx), (err: unknown) => err instanceof UsageError && mentions.test(err.message));
    assert.equal(tf.memory().numTensors, before, 'a refused surrogate must be freed');
  }
});

test('random-vertex ablation: seeded, deterministic, every class drawn', async () => {
  const ctx: DefenseContext = { numClasses: 10, inputShape: [28, 28, 1], arch: 'lenet', seed: 13 };
  const y = randomPosteriors(14, 2000, 10);
  const run = async (seed: number): Promise<Float32Array> => {
    const d = await createDefense(parseDefenseSpec('mad', { eps: '3', ablation: 'random-vertex' }), { ...ctx, seed });
    const out = await outputs(d, y, null);
    d.dispose();
    return out;
  };
  const [a, b, c] = [await run(13), await run(13), await run(14)];
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  // ε = 3 > any L1 distance on the simplex: ỹ = y* itself, a uniformly drawn one-hot vertex.
  const counts = new Array<number>(10).fill(0);
  for (let r = 0; r < 2000; r++) counts[a.subarray(r * 10, r * 10 + 10).indexOf(1)]! += 1;
  assert.ok(counts.every((n) => n > 140 && n < 260), `class counts ${counts.join(', ')}`);
  y.dispose();
});
