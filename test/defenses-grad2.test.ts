/**
 * GRAD²: the greedy solver against a brute-force LP optimum and its invariants (SPEC-EXTENSIONS §3),
 * a pinned hand-worked example, the finite-difference c against closed forms on a small dense net,
 * batch-composition independence of the x-only side information, the distilled surrogate, and bad input.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { hashModelDir } from '../src/cache/content-hash.js';
import { UsageError } from '../src/errors.js';
import { grad2 } from '../src/defenses/grad2.js';
import {
  allOnesDirection,
  DirectionalDerivative,
  lastLayerWatermark,
  logitFeatures,
  redirect,
  watermarkDirection,
} from '../src/defenses/gradient-redirection.js';
import type { DefenseSpec } from '../src/defenses/definition.js';
import { distilledSurrogateDirOf } from '../src/train/artifacts.js';
import { distillSurrogate } from '../src/train/distill.js';
import { readParams } from '../src/models/io.js';
import { WEIGHTS_FILE } from '../src/models/files.js';
import { LOGITS_LAYER } from '../src/models/types.js';
import { Rng } from '../src/util/rng.js';
import { saveRandomModel, useRandomVictimAndHelper } from './helpers/saved-model.js';

// A random surrogate of the user's (named by the spec), apart from the one distilled beside the victim.
const fixture = useRandomVictimAndHelper('poison-grad2-', { kind: 'surrogate', dir: (_victim, root) => path.join(root, 'surrogate') });

/** surrogate: undefined = the saved random surrogate; null = the default beside the victim. */
function spec(eps: number, target = 'all-ones', layers = 'auto', surrogate?: string | null): DefenseSpec {
  return { name: 'grad2', eps, target, layers, grad2Surrogate: surrogate === undefined ? fixture.helperDir : surrogate };
}

function solve(y: number[][], c: number[][], eps: number): number[][] {
  return tf.tidy(() => redirect(tf.tensor2d(y), tf.tensor2d(c), eps).arraySync());
}

const dot = (a: number[], b: number[]): number => a.reduce((s, v, i) => s + v * b[i]!, 0);
const l1 = (a: number[], b: number[]): number => a.reduce((s, v, i) => s + Math.abs(v - b[i]!), 0);

function randomSimplex(rng: Rng, K: number, sparse: boolean): number[] {
  const e = Array.from({ length: K }, (): number => (sparse && rng.next() < 0.3 ? 0 : -Math.log(1 - rng.next())));
  if (!e.some((v) => v > 0)) e[0] = 1;
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

test('greedy invariants: ỹ ∈ Δ_K, ‖ỹ − y‖₁ = min(ε, 2(1 − y_j*)), only j* increases, no NaN on one-hot rows', () => {
  const rng = new Rng(21);
  for (const K of [2, 3, 10]) {
    const y = Array.from({ length: 40 }, (_, i): number[] => (i < 4 ? Array.from({ length: K }, (__, k): number => (k === i % K ? 1 : 0)) : randomSimplex(rng, K, i % 2 === 0)));
    const c = y.map(() => Array.from({ length: K }, () => rng.normal()));
    for (const eps of [0.05, 0.3, 1, 2]) {
      solve(y, c, eps).forEach((row, i) => {
        const j = c[i]!.indexOf(Math.max(...c[i]!));
        assert.ok(row.every((v) => v >= 0 && Number.isFinite(v)), row.join(', '));
        assert.ok(Math.abs(row.reduce((s, v) => s + v, 0) - 1) < 1e-6);
        const want = Math.min(eps, 2 * (1 - y[i]![j]!));
        assert.ok(Math.abs(l1(row, y[i]!) - want) < 1e-6, `‖ỹ − y‖₁ = ${l1(row, y[i]!)}, want ${want}`);
        row.forEach((v, k) => {
          if (k !== j) assert.ok(v <= y[i]![k]! + 1e-7, `class ${k} ≠ j* increased`);
        });
      });
    }
  }
});

/** max cᵀv over v ∈ Δ_3 with ‖v − y‖₁ ≤ ε, by enumerating a grid of step 1/n (plus the exact point it should find). */
function bruteForceK3(y: number[], c: number[], eps: number, n: number): number {
  let best = -Infinity;
  for (let a = 0; a <= n; a++) {
    for (let b = 0; a + b <= n; b++) {
      const v = [a / n, b / n, (n - a - b) / n];
      if (l1(v, y) <= eps + 1e-12) best = Math.max(best, dot(c, v));
    }
  }
  return best;
}

test('the greedy is the LP optimum: K = 3 against a brute-force grid, K = 5 against random feasible points', () => {
  const rng = new Rng(22);
  const n = 400;
  for (let trial = 0; trial < 30; trial++) {
    // y on the grid, so the grid holds feasible points arbitrarily near every vertex of the feasible set.
    const a = rng.int(n + 1);
    const b = rng.int(n + 1 - a);
    const y = [a / n, b / n, (n - a - b) / n];
    const c = [rng.normal(), rng.normal(), rng.normal()];
    const eps = [0.1, 0.5, 1, 2][trial % 4]!;
    const got = dot(c, solve([y], [c], eps)[0]!);
    const brute = bruteForceK3(y, c, eps, n);
    const scale = Math.max(...c.map(Math.abs));
    assert.ok(got >= brute - 1e-5 * scale, `trial ${trial}: greedy ${got} < grid optimum ${brute}`);
    // The grid's best is within one grid step of the true optimum, which the greedy attains.
    assert.ok(got <= brute + (4 / n) * scale + 1e-6, `trial ${trial}: greedy ${got} beats the grid by more than a step (${brute})`);
  }
  for (let trial = 0; trial < 20; trial++) {
    const K = 5;
    const y = randomSimplex(rng, K, trial % 2 === 0);
    const c = Array.from({ length: K }, () => rng.normal());
    const eps = 0.1 + 1.9 * rng.next();
    const got = dot(c, solve([y], [c], eps)[0]!);
    for (let s = 0; s < 2000; s++) {
      // y + s(z − y) is in the simplex; s ≤ ε/‖z − y‖₁ puts it in the ball.
      const z = randomSimplex(rng, K, s % 3 === 0);
      const step = Math.min(1, eps / Math.max(l1(z, y), 1e-12));
      const v = y.map((yk, k) => yk + step * (z[k]! - yk));
      assert.ok(dot(c, v) <= got + 1e-6, `feasible point beats the greedy: ${dot(c, v)} > ${got}`);
    }
  }
});

test('pinned: y = (0.5, 0.3, 0.15, 0.05), c = (0.2, −1, 3, 0.5)', () => {
  const y = [[0.5, 0.3, 0.15, 0.05]];
  const c = [[0.2, -1, 3, 0.5]];
  // j* = 2. Sources in ascending c: class 1 (−1), class 0 (0.2), class 3 (0.5).
  // ε = 0.6: m = min(0.3, 0.85) = 0.3, all from class 1  → (0.5, 0, 0.45, 0.05).
  // ε = 0.8: m = 0.4: 0.3 from class 1, 0.1 from class 0 → (0.4, 0, 0.55, 0.05).
  // ε = 2:   m = min(1, 0.85) = 0.85: every other class emptied → (0, 0, 1, 0), ‖ỹ − y‖₁ = 1.7.
  const cases: [number, number[]][] = [
    [0.6, [0.5, 0, 0.45, 0.05]],
    [0.8, [0.4, 0, 0.55, 0.05]],
    [2, [0, 0, 1, 0]],
  ];
  for (const [eps, want] of cases) {
    const got = solve(y, c, eps)[0]!;
    got.forEach((v, k) => assert.ok(Math.abs(v - want[k]!) < 2e-6, `ε ${eps}: ${got.join(', ')} vs ${want.join(', ')}`));
  }
});

/** A small dense classifier [2, 2, 1] → 5 (relu) → 3 logits, seeded. */
function denseNet(seed: number): tf.Sequential {
  const model = tf.sequential();
  model.add(tf.layers.flatten({ inputShape: [2, 2, 1] }));
  model.add(tf.layers.dense({ units: 5, activation: 'relu', kernelInitializer: tf.initializers.randomNormal({ stddev: 1, seed }), biasInitializer: tf.initializers.randomNormal({ stddev: 0.5, seed: seed + 1 }) }));
  model.add(tf.layers.dense({ units: 3, name: LOGITS_LAYER, kernelInitializer: tf.initializers.randomNormal({ stddev: 1, seed: seed + 2 }), biasInitializer: tf.initializers.randomNormal({ stddev: 0.5, seed: seed + 3 }) }));
  return model;
}

function assertClose(got: number[][], want: number[][], rel: number, what: string): void {
  const scale = Math.max(...want.flat().map(Math.abs));
  got.forEach((row, i) => row.forEach((v, k) => assert.ok(Math.abs(v - want[i]![k]!) <= rel * scale, `${what}: [${i}, ${k}] ${v} vs ${want[i]![k]!} (scale ${scale})`)));
}

test('finite-difference c matches the closed forms on a small dense net (watermark on the last layer; all-ones by exact JVP)', async () => {
  const model = denseNet(31);
  const x = tf.randomNormal([7, 2, 2, 1], 0, 1, 'float32', 32) as tf.Tensor4D;
  const xw = tf.randomNormal([1, 2, 2, 1], 0, 1, 'float32', 33) as tf.Tensor4D;
  const w = 1;
  // Watermark restricted to the last layer: t = ∇_{W,b} log p_w(x_w), zero elsewhere.
  const full = watermarkDirection(model, xw, w);
  const lastNames = new Set(model.getLayer(LOGITS_LAYER).trainableWeights.map((v) => v.originalName));
  const lastOnly = model.trainableWeights.map((v, i) => (lastNames.has(v.originalName) ? full[i]! : tf.zerosLike(full[i]!)));
  const fd = await DirectionalDerivative.calibrate(model, lastOnly, [2, 2, 1]);
  const cFd = tf.tidy(() => fd.derivative(x).arraySync());
  const cClosed = tf.tidy(() => {
    const pull = tf.sub<tf.Tensor2D>(tf.cast(tf.oneHot([w], 3), 'float32'), tf.softmax(model.apply(xw) as tf.Tensor2D));
    return lastLayerWatermark(logitFeatures(model, x), tf.softmax(model.apply(x) as tf.Tensor2D), logitFeatures(model, xw), pull).arraySync();
  });
  assertClose(cFd, cClosed, 2e-3, 'watermark, last layer');
  fd.dispose();

  // All-ones over every parameter: the exact JVP Σ_θ ∂log p_k/∂θ by autodiff (first order, fine on a dense net).
  const ones = allOnesDirection(model);
  const fdAll = await DirectionalDerivative.calibrate(model, ones, [2, 2, 1]);
  const cAll = tf.tidy(() => fdAll.derivative(x).arraySync());
  const variables = model.trainableWeights.map((v) => v.read() as tf.Variable);
  const exact = Array.from({ length: 7 }, (_, i) =>
    Array.from({ length: 3 }, (__, k) =>
      tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => tf.reshape(tf.slice(tf.logSoftmax(model.apply(tf.slice(x, [i, 0, 0, 0], [1, 2, 2, 1])) as tf.Tensor2D), [0, k], [1, 1]), []) as tf.Scalar, variables);
        value.dispose();
        return variables.reduce((s, v) => s + tf.sum(grads[v.name]!).dataSync()[0]!, 0);
      }),
    ),
  );
  assertClose(cAll, exact, 2e-3, 'all-ones, all parameters');
  fdAll.dispose();
  // The surrogate's weights are restored exactly after the ± swaps.
  const after = model.getWeights().map((t) => Array.from(t.dataSync()));
  const fresh = denseNet(31).getWeights().map((t) => Array.from(t.dataSync()));
  assert.deepEqual(after, fresh);
  tf.dispose([x, xw, ...full, ...lastOnly, ...ones]);
  model.dispose();
});

test('side information depends on x alone: all-ones and watermark c are the same whatever shares the batch; ε = 0 gives y', async () => {
  const x = tf.randomNormal([6, 28, 28, 1], 0, 1, 'float32', 41) as tf.Tensor4D;
  const y = tf.softmax(tf.randomNormal([6, 10], 0, 3, 'float32', 42)) as tf.Tensor2D;
  for (const [target, layers] of [['all-ones', 'auto'], ['watermark', 'all'], ['watermark', 'last'], ['min-ip', 'auto']] as const) {
    const defense = await grad2.create(spec(0.5, target, layers), fixture.ctx);
    try {
      const whole = defense.sideInfo(x)!;
      const firstHalf = tf.slice(x, [0, 0, 0, 0], [3, 28, 28, 1]);
      const reversed = tf.reverse(x, 0);
      const part = defense.sideInfo(firstHalf)!;
      const rev = defense.sideInfo(reversed)!;
      const wholeRows = whole.arraySync() as number[][];
      assertClose(part.arraySync() as number[][], wholeRows.slice(0, 3), 1e-3, `${target}/${layers} first half`);
      assertClose((rev.arraySync() as number[][]).reverse(), wholeRows, 1e-3, `${target}/${layers} reversed`);
      const out = defense.apply(y, whole).arraySync();
      const yRows = y.arraySync();
      out.forEach((row, i) => {
        assert.ok(Math.abs(row.reduce((s, v) => s + v, 0) - 1) < 1e-6);
        assert.ok(l1(row, yRows[i]!) <= 0.5 + 1e-6);
      });
      tf.dispose([whole, firstHalf, reversed, part, rev]);
    } finally {
      defense.dispose();
    }
  }
  const zero = await grad2.create(spec(0), fixture.ctx);
  try {
    const out = zero.perturb(x, y);
    assert.deepEqual(out.arraySync(), y.arraySync(), 'ε = 0 must release y bit for bit');
    out.dispose();
  } finally {
    zero.dispose();
  }
  const before = tf.memory().numTensors;
  const again = await grad2.create(spec(0.3, 'watermark'), fixture.ctx);
  again.perturb(x, y).dispose();
  again.dispose();
  assert.equal(tf.memory().numTensors, before, 'create/perturb/dispose leaked tensors');
  tf.dispose([x, y]);
});

test('declaration: identities, slugs, and bad input as one UsageError line', async () => {
  assert.equal(grad2.operatingAxis, 'eps');
  assert.equal(grad2.drawsRandomness(spec(0.5)), false);
  assert.deepEqual(grad2.sideInfoIdentity(spec(0.1)), grad2.sideInfoIdentity(spec(0.9)), 'ε must not split the side information');
  assert.notDeepEqual(grad2.sideInfoIdentity(spec(0.1, 'all-ones')), grad2.sideInfoIdentity(spec(0.1, 'watermark')));
  assert.equal(grad2.slug!(spec(0.5, 'all-ones', 'auto', null)), 'grad2-eps0.5-all-ones');
  assert.equal(grad2.slug!(spec(0.5, 'watermark', 'last', null)), 'grad2-eps0.5-watermark-last');
  const oneLine = (err: unknown, pattern: RegExp): boolean => {
    assert.ok(err instanceof UsageError, String(err));
    assert.ok(!err.message.includes('\n'), err.message);
    assert.match(err.message, pattern);
    return true;
  };
  for (const [s, pattern] of [
    [spec(2.5), /--eps must be ≤ 2, got 2.5/],
    [spec(-0.1), /--eps must be ≥ 0/],
    [spec(0.5, 'all-ones', 'last'), /degenerate: on the last layer alone c ≡ 0/],
    [spec(0.5, 'min-ip', 'all'), /min-ip .* --grad2-layers last/],
    [spec(0.5, 'sideways'), /--grad2-target: unknown value 'sideways'/],
  ] as const) {
    assert.throws(() => grad2.check!(s, { numClasses: 10 }), (err) => oneLine(err, pattern));
    await assert.rejects(grad2.create(s, fixture.ctx), (err) => oneLine(err, pattern));
  }
  const fiveClasses = path.join(fixture.root, 'five');
  await saveRandomModel(fiveClasses, { numClasses: 5 });
  await assert.rejects(grad2.create(spec(0.5, 'all-ones', 'auto', fiveClasses), fixture.ctx), (err) => oneLine(err, /--grad2-surrogate .* with 5 classes, the victim 28×28×1 with 10/));
  await assert.rejects(grad2.create(spec(0.5, 'all-ones', 'auto', null), fixture.ctx), (err) => oneLine(err, /no GRAD² surrogate in /));
});

test('the distilled surrogate: seeded, written beside the victim, found by prepare() afterwards', async () => {
  const a = path.join(fixture.root, 'distil-a');
  const b = path.join(fixture.root, 'distil-b');
  const before = tf.memory().numTensors;
  const ra = await distillSurrogate({ victimDir: fixture.victimDir, out: a, seed: 4, limit: 256, epochs: 1 });
  assert.equal(tf.memory().numTensors, before, 'distillation leaked tensors');
  await distillSurrogate({ victimDir: fixture.victimDir, out: b, seed: 4, limit: 256, epochs: 1 });
  assert.ok((await fs.readFile(path.join(a, WEIGHTS_FILE))).equals(await fs.readFile(path.join(b, WEIGHTS_FILE))), 'same seed, different weights');
  assert.ok(ra.agreement >= 0 && ra.agreement <= 1);
  const params = await readParams(a);
  assert.equal(params.kind, 'surrogate');
  assert.deepEqual((params.data as { pool: { dataset: string; split: string; count: number } }).pool, {
    dataset: 'fashion-mnist', split: 'test', source: (params.data as { pool: { source: string } }).pool.source, count: 256,
  });
  assert.deepEqual(params.config && (params.config as { lr: number; momentum: number; weightDecay: number; nesterov: boolean }).nesterov, true);
  // prepare() finds a surrogate already at the default place and leaves it alone.
  const target = distilledSurrogateDirOf(fixture.victimDir);
  await fs.cp(a, target, { recursive: true });
  const stamp = (await fs.stat(path.join(target, WEIGHTS_FILE))).mtimeMs;
  await grad2.prepare!(spec(0.5, 'all-ones', 'auto', null), { victimDir: fixture.victimDir, seed: 9 });
  assert.equal((await fs.stat(path.join(target, WEIGHTS_FILE))).mtimeMs, stamp);
  const defense = await grad2.create(spec(0.5, 'all-ones', 'auto', null), fixture.ctx);
  // The side rows' key names the surrogate by its content, not by its path.
  assert.ok((defense.sideInfoKey ?? '').endsWith(`:sha256=${await hashModelDir(target)}`), defense.sideInfoKey ?? 'no key');
  assert.doesNotMatch(defense.sideInfoKey ?? '', /distilled-surrogate/);
  defense.dispose();
});
