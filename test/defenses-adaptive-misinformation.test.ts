/**
 * Adaptive misinformation: the invariants of SPEC-EXTENSIONS §2 on random posteriors, a pinned
 * hand-worked blend, the x-only side information, and bad input (one UsageError line each).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { UsageError } from '../src/errors.js';
import { adaptiveMisinformation } from '../src/defenses/adaptive-misinformation.js';
import { blendWeight, oodBlend } from '../src/defenses/ood-blend.js';
import type { DefenseSpec } from '../src/defenses/definition.js';
import type { DefenseContext } from '../src/defenses/types.js';
import { misinformationDirOf } from '../src/train/artifacts.js';
import { Rng } from '../src/util/rng.js';
import { saveRandomModel, useRandomVictimAndHelper } from './helpers/saved-model.js';

// The victim's f̂ sits where prepare() puts it, so a spec naming no model finds it.
const fixture = useRandomVictimAndHelper('poison-am-', { kind: 'misinformation', dir: misinformationDirOf });

function spec(tau: number, nu = 1000, misinformation: string | null = null): DefenseSpec {
  return { name: 'adaptive-misinformation', tau, nu, misinformation };
}

/** Rows of softmax(scale · N(0, 1)): scale 0.1 gives flat rows, 8 nearly one-hot ones. */
function randomPosteriors(rng: Rng, rows: number, K: number, scale: number): number[][] {
  return Array.from({ length: rows }, () => {
    const z = Array.from({ length: K }, () => scale * rng.normal());
    const m = Math.max(...z);
    const e = z.map((v) => Math.exp(v - m));
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / s);
  });
}

test('invariants on random posteriors: α ∈ [0, 1], ỹ ∈ Δ_K, ‖ỹ − y‖₁ = α‖ŷ − y‖₁ ≤ 2α', () => {
  const rng = new Rng(11);
  for (const K of [2, 3, 10]) {
    for (const scale of [0.1, 1, 8]) {
      const y = randomPosteriors(rng, 64, K, scale);
      const yHat = randomPosteriors(rng, 64, K, scale);
      for (const [tau, nu] of [[0, 1000], [0.3, 10], [0.5, 1000], [0.9, 50], [1, 1000], [0.7, 1e4]] as const) {
        const [out, alpha] = tf.tidy(() => {
          const yt = tf.tensor2d(y);
          return [oodBlend(yt, tf.tensor2d(yHat), tau, nu).arraySync(), blendWeight(tf.max(yt, 1, true), tau, nu).arraySync() as number[][]];
        });
        out.forEach((row, i) => {
          const a = alpha[i]![0]!;
          assert.ok(a >= 0 && a <= 1 && !Number.isNaN(a), `α = ${a}`);
          assert.ok(row.every((v) => v >= 0), `negative entry in ${row.join(', ')}`);
          assert.ok(Math.abs(row.reduce((s, v) => s + v, 0) - 1) < 1e-6, 'row does not sum to 1');
          const moved = row.reduce((s, v, k) => s + Math.abs(v - y[i]![k]!), 0);
          const gap = yHat[i]!.reduce((s, v, k) => s + Math.abs(v - y[i]![k]!), 0);
          assert.ok(Math.abs(moved - a * gap) < 1e-5, `‖ỹ − y‖₁ = ${moved}, α‖ŷ − y‖₁ = ${a * gap}`);
          assert.ok(moved <= 2 * a + 1e-6);
        });
      }
    }
  }
});

test('τ = 0 gives y (α ≤ 1/(1 + e^{ν/K}) at ν = 1000); τ = 1 gives α ≥ ½; α is monotone in s and τ', () => {
  const rng = new Rng(12);
  const y = randomPosteriors(rng, 32, 10, 1);
  const yHat = randomPosteriors(rng, 32, 10, 1);
  const out = tf.tidy(() => oodBlend(tf.tensor2d(y), tf.tensor2d(yHat), 0, 1000).arraySync());
  out.forEach((row, i) => row.forEach((v, k) => assert.ok(Math.abs(v - y[i]![k]!) < 1e-6)));
  const s = Array.from({ length: 101 }, (_, i) => i / 100);
  const alphaAt = (tau: number, nu: number): number[] => tf.tidy(() => Array.from(blendWeight(tf.tensor1d(s), tau, nu).dataSync()));
  assert.ok(alphaAt(1, 1000).every((a) => a >= 0.5), 'τ = 1 must give α ≥ ½ for every s ≤ 1');
  for (const nu of [1, 10, 1000]) {
    const taus = [0, 0.25, 0.5, 0.75, 1].map((tau) => alphaAt(tau, nu));
    for (const row of taus) for (let i = 1; i < row.length; i++) assert.ok(row[i]! <= row[i - 1]!, 'α increased with s');
    for (let t = 1; t < taus.length; t++) taus[t]!.forEach((a, i) => assert.ok(a >= taus[t - 1]![i]!, 'α decreased with τ'));
  }
});

test('pinned: y = (0.6, 0.3, 0.1), ŷ = (0.1, 0.2, 0.7)', () => {
  const y = [[0.6, 0.3, 0.1]];
  const yHat = [[0.1, 0.2, 0.7]];
  // τ = 0.6 = s: α = sigmoid(0) = ½ → ỹ = (y + ŷ)/2 = (0.35, 0.25, 0.4).
  // τ = 0.7, ν = 10: α = sigmoid(1) = 0.7310585786300049 → ỹ = y + α(ŷ − y)
  //   = (0.6 − 0.5α, 0.3 − 0.1α, 0.1 + 0.6α) = (0.2344707107, 0.2268941421, 0.5386351472).
  // τ = 0.5, ν = 1000: α = sigmoid(−100) ≈ 3.7e-44 → 0 in float32: ỹ = y.
  const cases: [number, number, number[]][] = [
    [0.6, 1000, [0.35, 0.25, 0.4]],
    [0.7, 10, [0.2344707107, 0.2268941421, 0.5386351472]],
    [0.5, 1000, [0.6, 0.3, 0.1]],
  ];
  for (const [tau, nu, want] of cases) {
    const got = tf.tidy(() => oodBlend(tf.tensor2d(y), tf.tensor2d(yHat), tau, nu).arraySync()[0]!);
    got.forEach((v, k) => assert.ok(Math.abs(v - want[k]!) < 2e-6, `τ ${tau} ν ${nu}: ${got.join(', ')} vs ${want.join(', ')}`));
  }
});

test('the defense: ŷ = softmax(f̂(x)) is x-only side information shared by every τ and ν; no tensors leak', async () => {
  assert.deepEqual(adaptiveMisinformation.sideInfoIdentity(spec(0.2, 10)), adaptiveMisinformation.sideInfoIdentity(spec(0.9, 1000)));
  assert.notDeepEqual(adaptiveMisinformation.sideInfoIdentity(spec(0.2)), adaptiveMisinformation.sideInfoIdentity(spec(0.2, 1000, '/elsewhere')));
  assert.equal(adaptiveMisinformation.drawsRandomness(spec(0.5)), false);
  assert.equal(adaptiveMisinformation.operatingAxis, 'am-tau');
  assert.equal(adaptiveMisinformation.slug!(spec(0.5)), 'adaptive-misinformation-tau0.5-nu1000');
  const x = tf.randomNormal([6, 28, 28, 1], 0, 1, 'float32', 5) as tf.Tensor4D;
  const y = tf.softmax(tf.randomNormal([6, 10], 0, 3, 'float32', 6)) as tf.Tensor2D;
  const run = async (tau: number): Promise<{ key: string | null; side: number[][]; out: number[][] }> => {
    const defense = await adaptiveMisinformation.create(spec(tau), fixture.ctx);
    try {
      const side = defense.sideInfo(x)!;
      const out = defense.apply(y, side);
      const perturbed = defense.perturb(x, y);
      const result = { key: defense.sideInfoKey, side: side.arraySync() as number[][], out: out.arraySync() };
      assert.deepEqual(perturbed.arraySync(), result.out, 'perturb ≠ apply ∘ sideInfo');
      tf.dispose([side, out, perturbed]);
      return result;
    } finally {
      defense.dispose();
    }
  };
  const low = await run(0);
  const before = tf.memory().numTensors;
  const high = await run(1);
  assert.equal(tf.memory().numTensors, before, 'a second create/apply/dispose leaked tensors');
  assert.equal(low.key, high.key);
  assert.deepEqual(low.side, high.side);
  // τ = 0 answers y; τ = 1 moves every row at least halfway to ŷ.
  const yRows = y.arraySync();
  low.out.forEach((row, i) => row.forEach((v, k) => assert.ok(Math.abs(v - yRows[i]![k]!) < 1e-6)));
  high.out.forEach((row, i) => {
    const toY = row.reduce((s, v, k) => s + Math.abs(v - yRows[i]![k]!), 0);
    const toHat = row.reduce((s, v, k) => s + Math.abs(v - high.side[i]![k]!), 0);
    assert.ok(toHat <= toY + 1e-6, `row ${i} is closer to y than to ŷ`);
  });
  tf.dispose([x, y]);
});

test('bad input: τ outside [0, 1], ν ≤ 0, a misinformation model of another shape, a missing one — one UsageError line', async () => {
  const oneLine = (err: unknown, pattern: RegExp): boolean => {
    assert.ok(err instanceof UsageError, String(err));
    assert.ok(!err.message.includes('\n'), err.message);
    assert.match(err.message, pattern);
    return true;
  };
  for (const [s, pattern] of [
    [spec(1.5), /--am-tau must be ≤ 1, got 1.5/],
    [spec(-0.1), /--am-tau must be ≥ 0/],
    [spec(0.5, 0), /--am-nu must be > 0, got 0/],
    [spec(0.5, -3), /--am-nu must be > 0/],
  ] as const) {
    assert.throws(() => adaptiveMisinformation.check!(s, { numClasses: 10 }), (err) => oneLine(err, pattern));
    await assert.rejects(adaptiveMisinformation.create(s, fixture.ctx), (err) => oneLine(err, pattern));
  }
  const fiveClasses = path.join(fixture.root, 'five-classes');
  await saveRandomModel(fiveClasses, { numClasses: 5 });
  await assert.rejects(adaptiveMisinformation.create(spec(0.5, 1000, fiveClasses), fixture.ctx), (err) => oneLine(err, /takes 28×28×1 inputs with 5 classes, the victim 28×28×1 with 10: they must match/));
  await assert.rejects(adaptiveMisinformation.create(spec(0.5, 1000, path.join(fixture.root, 'nothing')), fixture.ctx), (err) => oneLine(err, /^--misinformation: /));
  const bare = path.join(fixture.root, 'bare-victim');
  await saveRandomModel(bare);
  await assert.rejects(adaptiveMisinformation.create(spec(0.5), { ...fixture.ctx, victimDir: bare }), (err) => oneLine(err, /no misinformation model in .*poison train --misinformation/));
  const noVictim: DefenseContext = { numClasses: 10, inputShape: [28, 28, 1], arch: 'lenet', seed: 1 };
  await assert.rejects(adaptiveMisinformation.create(spec(0.5), noVictim), (err) => oneLine(err, /needs --misinformation <dir>/));
});
