/**
 * The policy and rewards of adaptive Knockoff Nets (src/attacks/gradient-bandit.ts) in pure
 * JavaScript, against the invariants of docs/spec.md: π on the simplex and 0 on exhausted classes,
 * updates that sum to 0, constant rewards that move nothing, the batched strategy at b = R = 1
 * equal to the sequential one, no NaN, distinct images of the drawn class, exact budgets, prefixes
 * that do not depend on the budget, a bandit that finds the one informative class, and a pinned
 * hand-worked example.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/util/rng.js';
import {
  adaptiveQueries,
  GradientBandit,
  maskedSoftmax,
  RewardSignal,
  type BanditEffects,
  type BanditSettings,
  type RewardName,
} from '../src/attacks/gradient-bandit.js';

const DEFAULTS: BanditSettings = { batchSize: 32, refitEvery: 1000, divWindow: 100, reward: 'all', stepSize: null };

/** `perClass` images of each label in `labels`, interleaved (image i has label labels[i % n]). */
function poolLabels(labels: number[], perClass: number): Int32Array {
  return Int32Array.from({ length: labels.length * perClass }, (_, i) => labels[i % labels.length]!);
}

/**
 * A black box and an attacker as pure functions of the pool image: `answer(label, i)` gives ỹ;
 * log ŷ is a fixed function of the image. Records every call, so tests see what was asked.
 */
function syntheticEffects(
  labels: Int32Array,
  K: number,
  answer: (label: number, index: number) => number[],
  logYhat: (index: number) => number[] = () => new Array<number>(K).fill(Math.log(1 / K)),
): BanditEffects & { refits: number[]; queried: number[] } {
  const refits: number[] = [];
  const queried: number[] = [];
  return {
    refits,
    queried,
    query(indices) {
      queried.push(...indices);
      const out = new Float32Array(indices.length * K);
      indices.forEach((i, j) => out.set(answer(labels[i]!, i), j * K));
      return Promise.resolve(out);
    },
    logPredict(indices) {
      const out = new Float32Array(indices.length * K);
      indices.forEach((i, j) => out.set(logYhat(i), j * K));
      return Promise.resolve(out);
    },
    refit(indices, released) {
      assert.equal(released.length, indices.length * K);
      refits.push(indices.length);
      return Promise.resolve();
    },
  };
}

/** Class c answered one-hot at c, every other class uniform: only c is informative. */
function oneInformativeClass(c: number, K: number): (label: number) => number[] {
  return (label) => (label === c ? Array.from({ length: K }, (_, k) => (k === c ? 1 : 0)) : new Array<number>(K).fill(1 / K));
}

/** A softmax-ish answer that varies with the image, so every reward varies. */
function variedAnswer(K: number): (label: number, index: number) => number[] {
  return (label, index) => {
    const raw = Array.from({ length: K }, (_, k) => Math.exp(((index * 7 + k * 3) % 11) / 3 + (k === label % K ? 2 : 0)));
    const s = raw.reduce((a, b) => a + b, 0);
    return raw.map((v) => v / s);
  };
}

test('π = softmax(H) masked: on the simplex, ≥ 0, exactly 0 on exhausted classes, stable for huge H', () => {
  const rng = new Rng(5);
  for (let trial = 0; trial < 200; trial++) {
    const A = 1 + rng.int(30);
    const H = Float64Array.from({ length: A }, () => (rng.next() - 0.5) * (trial < 100 ? 20 : 2000));
    const available = Array.from({ length: A }, () => rng.next() < 0.7);
    available[rng.int(A)] = true;
    const pi = maskedSoftmax(H, available);
    const sum = pi.reduce((s, p) => s + p, 0);
    assert.ok(Math.abs(sum - 1) <= 1e-6, `Σπ = ${sum}`);
    pi.forEach((p, a) => {
      assert.ok(Number.isFinite(p) && p >= 0, `π(${a}) = ${p}`);
      if (!available[a]) assert.equal(p, 0, `exhausted class ${a}`);
    });
  }
  assert.deepEqual(Array.from(maskedSoftmax(new Float64Array(3), [false, false, false])), [0, 0, 0], 'nothing left: all 0');
});

test('every update sums to 0 (ΣH = 0 ± 1e-6) under masks, either step rule', () => {
  const rng = new Rng(9);
  for (const stepSize of [null, 0.3]) {
    const A = 12;
    const bandit = new GradientBandit(A, stepSize);
    for (let t = 0; t < 5000; t++) {
      const available = Array.from({ length: A }, () => rng.next() < 0.8);
      const action = rng.int(A);
      available[action] = true;
      bandit.update(action, rng.next() * 3, available);
      const sum = bandit.preferences.reduce((s, h) => s + h, 0);
      assert.ok(Math.abs(sum) <= 1e-6, `step ${t}: ΣH = ${sum}`);
      bandit.preferences.forEach((h, a) => {
        if (!available[a]) return;
        assert.ok(Number.isFinite(h), `H(${a}) = ${h}`);
      });
    }
    assert.equal(bandit.pulls.reduce((s, n) => s + n, 0), 5000, 'ΣN = updates');
  }
});

test('a constant reward leaves H ≡ 0 (r̄ includes the current reward)', async () => {
  const bandit = new GradientBandit(4, null);
  for (let t = 0; t < 100; t++) bandit.update(t % 4, 0.37, [true, true, true, true]);
  assert.deepEqual(Array.from(bandit.preferences), [0, 0, 0, 0]);
  // Through the strategy: identical answers make every reward constant, for each reward.
  const labels = poolLabels([0, 1, 2, 3, 4], 40);
  for (const reward of ['cert', 'div', 'loss', 'all'] as const) {
    const effects = syntheticEffects(labels, 5, () => [0.6, 0.1, 0.1, 0.1, 0.1]);
    const r = await adaptiveQueries(labels, 5, 150, { ...DEFAULTS, reward, batchSize: 8, refitEvery: 40 }, new Rng(2), effects);
    for (const s of r.snapshots) for (const p of s.policy) assert.ok(Math.abs(p - 0.2) <= 1e-12, `${reward}: π stays uniform, got ${s.policy.join(', ')}`);
  }
});

test('pinned hand-worked example: three classes, α = 1/N(a), r̄ the running mean', () => {
  const bandit = new GradientBandit(3, null);
  const all = [true, true, true];
  // (a, r) = (0, 1): r̄ = 1, r − r̄ = 0: nothing moves.
  bandit.update(0, 1, all);
  assert.deepEqual(Array.from(bandit.preferences), [0, 0, 0]);
  // (1, 0): r̄ = 1/2, α = 1, π = 1/3 each: H(1) −= ½·⅔ = −1/3, H(0) = H(2) += ½·⅓ = 1/6.
  bandit.update(1, 0, all);
  assertClose(bandit.preferences, [1 / 6, -1 / 3, 1 / 6]);
  // (0, 1): r̄ = 2/3, α = 1/2, π = softmax(1/6, −1/3, 1/6) = (0.383650, 0.232697, 0.383650):
  // H(0) += ½·⅓·(1 − 0.383650), H(1) −= ½·⅓·0.232697, H(2) −= ½·⅓·0.383650.
  bandit.update(0, 1, all);
  assertClose(bandit.preferences, [0.269391378, -0.37211609, 0.102724711]);
  // (2, 0.5): r̄ = 0.625, α = 1.
  bandit.update(2, 0.5, all);
  assertClose(bandit.preferences, [0.322067763, -0.344382071, 0.022314308]);
  // Class 1 exhausted: π(1) = 0 and H(1) no longer moves; the rest still sum to 0.
  bandit.update(0, 2, [true, false, true]);
  assert.ok(Math.abs(bandit.preferences[1]! - -0.344382071) <= 1e-9);
  assert.ok(Math.abs(bandit.preferences.reduce((s, h) => s + h, 0)) <= 1e-12);
});

function assertClose(actual: ArrayLike<number>, expected: number[], tol = 1e-6): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(actual[i]! - expected[i]!) <= tol, `[${i}] ${actual[i]} vs ${expected[i]}`);
}

test('pinned rewards: cert, div over the last Δ answers, loss with clamped log ŷ, all with min–max scaled loss', () => {
  const cert = new RewardSignal(3, 'cert', 2);
  assert.ok(Math.abs(cert.of([0.7, 0.2, 0.1], null) - 0.5) <= 1e-12);
  assert.equal(cert.of([0.5, 0.5, 0], null), 0, 'a tie at the top');
  const div = new RewardSignal(3, 'div', 2);
  assert.equal(div.of([1, 0, 0], null), 0, 'the first answer is its own mean');
  // ȳ = mean([1,0,0], [0,1,0]) = (½, ½, 0): Σ max(0, y − ȳ) = ½.
  assert.ok(Math.abs(div.of([0, 1, 0], null) - 0.5) <= 1e-12);
  // Δ = 2: [1,0,0] has left the window; ȳ = mean([0,1,0], [0,0,1]) = (0, ½, ½): ½.
  assert.ok(Math.abs(div.of([0, 0, 1], null) - 0.5) <= 1e-12);
  const loss = new RewardSignal(3, 'loss', 2);
  // −(0.5·log 0.25 + 0.5·log 0.5); the y = 0 term with ŷ = 0 (log −∞) is 0, not NaN.
  assert.ok(Math.abs(loss.of([0.5, 0.5, 0], [Math.log(0.25), Math.log(0.5), -Infinity]) - (-(0.5 * Math.log(0.25) + 0.5 * Math.log(0.5)))) <= 1e-9);
  // ŷ = 0 where y > 0: clamped at 1e-12, −log 1e-12 = 27.631.
  assert.ok(Math.abs(loss.of([1, 0, 0], [-Infinity, 0, 0]) - -Math.log(1e-12)) <= 1e-9);
  const all = new RewardSignal(2, 'all', 100);
  const lp = (p: number): number[] => [Math.log(p), Math.log(1 - p)];
  // Losses −log 0.5, −log 0.25, −log 0.9 on y = (1, 0): scaled over the losses so far (first: 0).
  assert.ok(Math.abs(all.of([1, 0], lp(0.5)) - (1 + 0 + 0)) <= 1e-9);
  const l1 = -Math.log(0.5);
  const l2 = -Math.log(0.25);
  const l3 = -Math.log(0.9);
  // y = (1, 0) again: ȳ = (1, 0), div = 0; loss l2 is the max so far: scaled 1.
  assert.ok(Math.abs(all.of([1, 0], lp(0.25)) - (1 + 0 + 1)) <= 1e-9);
  // y = (0, 1): cert 1; ȳ = (⅔, ⅓), div = ⅔; loss −log(0.1) is the new max: 1.
  assert.ok(Math.abs(all.of([0, 1], lp(0.9)) - (1 + 2 / 3 + 1)) <= 1e-9);
  // y = (1, 0), ŷ(0) = 0.9: loss l3 is the new min: 0. ȳ = (¾, ¼): div ¼.
  assert.ok(Math.abs(all.of([1, 0], lp(0.9)) - (1 + 0.25 + 0)) <= 1e-9);
  assert.ok(l1 < l2 && l3 < l1);
});

test('no NaN: one-hot answers, zeros and −∞ in log ŷ, constant rewards, every reward', async () => {
  const K = 4;
  const labels = poolLabels([0, 1, 2, 3], 60);
  for (const reward of ['cert', 'div', 'loss', 'all'] as const) {
    const effects = syntheticEffects(
      labels,
      K,
      (label) => Array.from({ length: K }, (_, k) => (k === label ? 1 : 0)),
      (i) => Array.from({ length: K }, (_, k) => (k === i % K ? 0 : k === (i + 1) % K ? -Infinity : Number.NaN)),
    );
    const bandit = new GradientBandit(K, null);
    const signal = new RewardSignal(K, reward, 3);
    for (let i = 0; i < 50; i++) {
      const r = signal.of([0, 0, 1, 0], [-Infinity, Number.NaN, 0, -Infinity]);
      assert.ok(Number.isFinite(r), `${reward}: reward ${r}`);
      bandit.update(i % K, r, [true, true, true, true]);
    }
    assert.ok(bandit.preferences.every(Number.isFinite));
    const run = await adaptiveQueries(labels, K, 200, { ...DEFAULTS, reward, batchSize: 16, refitEvery: 50 }, new Rng(4), effects);
    for (const s of run.snapshots) assert.ok(s.policy.every(Number.isFinite), `${reward}: ${s.policy.join(', ')}`);
    assert.ok(run.released.every(Number.isFinite));
  }
});

test('exact budget: B distinct images, each of the class its action stands for; EMNIST-style labels 1..26', async () => {
  const letters = Array.from({ length: 26 }, (_, i) => i + 1);
  // Uneven classes: letter L has 3 + (L mod 5) images, so classes run out at different times.
  const labelList: number[] = [];
  for (const L of letters) for (let j = 0; j < 3 + (L % 5); j++) labelList.push(L);
  const labels = Int32Array.from(new Rng(1).shuffle(labelList));
  for (const budget of [1, 31, 32, 33, 100, labels.length]) {
    for (const reward of ['cert', 'all'] as RewardName[]) {
      const effects = syntheticEffects(labels, 26, (label) => oneInformativeClass(3, 26)(label - 1));
      const r = await adaptiveQueries(labels, 26, budget, { ...DEFAULTS, reward, batchSize: 8, refitEvery: 20 }, new Rng(budget), effects);
      assert.equal(r.indices.length, budget);
      assert.equal(r.exhausted, false);
      assert.equal(new Set(r.indices).size, budget, 'no image twice');
      assert.deepEqual(r.labels, letters, 'actions are the labels present, in order');
      r.indices.forEach((i, j) => assert.equal(labels[i], r.labels[r.actions[j]!], `query ${j}: the image is of the drawn class`));
      assert.deepEqual(effects.queried, Array.from(r.indices), 'queried in order, each once');
      // Refits at each multiple of R passed before the last query, never at used = B.
      assert.deepEqual(effects.refits, Array.from({ length: Math.floor((budget - 1) / 20) }, (_, k) => Math.ceil((20 * (k + 1)) / 8) * 8));
      const final = r.snapshots[r.snapshots.length - 1]!;
      assert.equal(final.queries, budget);
      letters.forEach((L, a) => {
        const left = labelList.filter((x) => x === L).length - r.actions.filter((x) => x === a).length;
        if (left === 0) assert.equal(final.policy[a], 0, `letter ${L} exhausted`);
      });
    }
  }
  // More than the pool: every image once, then it stops and says so.
  const effects = syntheticEffects(labels, 26, () => new Array<number>(26).fill(1 / 26));
  const r = await adaptiveQueries(labels, 26, labels.length + 5, { ...DEFAULTS, batchSize: 8 }, new Rng(3), effects);
  assert.equal(r.exhausted, true);
  assert.equal(r.indices.length, labels.length);
  assert.equal(new Set(r.indices).size, labels.length);
});

test('prefix consistency: the first B′ queries (and the policy up to them) of a run at B are the run at B′', async () => {
  const K = 6;
  const labels = poolLabels([0, 1, 2, 3, 4, 5], 30);
  const run = async (budget: number, reward: RewardName): Promise<Awaited<ReturnType<typeof adaptiveQueries>>> =>
    adaptiveQueries(labels, K, budget, { ...DEFAULTS, reward, batchSize: 8, refitEvery: 24, divWindow: 5 }, new Rng(11).fork('attack'), syntheticEffects(labels, K, variedAnswer(K), (i) => variedAnswer(K)(0, i * 5).map(Math.log)));
  for (const reward of ['cert', 'div', 'loss', 'all'] as RewardName[]) {
    const full = await run(170, reward);
    for (const budget of [1, 7, 8, 9, 24, 25, 50, 169]) {
      const part = await run(budget, reward);
      assert.deepEqual(Array.from(part.indices), Array.from(full.indices.subarray(0, budget)), `${reward} B′=${budget}: indices`);
      assert.deepEqual(Array.from(part.released), Array.from(full.released.subarray(0, budget * K)), `${reward} B′=${budget}: answers`);
      // Every policy the shorter run recorded before its end, the longer one recorded too.
      for (const s of part.snapshots.slice(0, -1)) assert.deepEqual(s, full.snapshots.find((f) => f.queries === s.queries), `${reward} B′=${budget}: π at ${s.queries}`);
    }
  }
});

/**
 * The sequential algorithm, written out once per image: π = softmax(H) over the classes with
 * images left; a ~ π; an unqueried image of a; query; reward; update; refit every R queries.
 * Draw convention shared with the library: one uniform for the class, then the image by
 * swap-removal from the class's list in pool order.
 */
async function sequential(labels: Int32Array, K: number, budget: number, reward: RewardName, rng: Rng, effects: BanditEffects): Promise<{ indices: number[]; H: number[] }> {
  const classLabels = [...new Set(labels)].sort((a, b) => a - b);
  const lists = classLabels.map((c) => Array.from(labels.keys()).filter((i) => labels[i] === c));
  const left = lists.map((l) => l.length);
  const H = new Array<number>(classLabels.length).fill(0);
  const N = new Array<number>(classLabels.length).fill(0);
  let rMean = 0;
  const signal = new RewardSignal(K, reward, DEFAULTS.divWindow);
  const draws = rng.fork('draws');
  const indices: number[] = [];
  const released: number[] = [];
  for (let t = 0; t < budget; t++) {
    const avail = left.map((n) => n > 0);
    const max = Math.max(...H.filter((_, a) => avail[a]));
    const e = H.map((h, a) => (avail[a] ? Math.exp(h - max) : 0));
    const z = e.reduce((s, v) => s + v, 0);
    const pi = e.map((v) => v / z);
    const u = draws.next();
    let a = 0;
    for (let acc = 0; a < pi.length; a++) {
      if (pi[a]! <= 0) continue;
      acc += pi[a]!;
      if (u < acc) break;
    }
    const j = draws.int(left[a]!);
    const image = lists[a]![j]!;
    left[a]! -= 1;
    lists[a]![j] = lists[a]![left[a]!]!;
    lists[a]![left[a]!] = image;
    const y = await effects.query(Int32Array.of(image));
    const logYhat = await effects.logPredict(Int32Array.of(image));
    const r = signal.of(y, reward === 'loss' || reward === 'all' ? logYhat : null);
    N[a]! += 1;
    rMean += (r - rMean) / (t + 1);
    const alpha = 1 / N[a]!;
    for (let k = 0; k < H.length; k++) H[k]! += alpha * (r - rMean) * ((k === a ? 1 : 0) - pi[k]!);
    indices.push(image);
    released.push(...y);
    if (t + 1 < budget) await effects.refit(Int32Array.from(indices), Float32Array.from(released));
  }
  return { indices, H };
}

test('b = R = 1 with a fixed seed is the sequential algorithm', async () => {
  const K = 5;
  const labels = Int32Array.from(new Rng(8).shuffle(Array.from(poolLabels([0, 1, 2, 3, 4], 7))));
  for (const reward of ['cert', 'div', 'loss', 'all'] as RewardName[]) {
    const answer = variedAnswer(K);
    const logYhat = (i: number): number[] => answer(1, i * 3).map(Math.log);
    const batchedEffects = syntheticEffects(labels, K, answer, logYhat);
    const seqEffects = syntheticEffects(labels, K, answer, logYhat);
    const batched = await adaptiveQueries(labels, K, 30, { ...DEFAULTS, reward, batchSize: 1, refitEvery: 1 }, new Rng(21), batchedEffects);
    const seq = await sequential(labels, K, 30, reward, new Rng(21), seqEffects);
    assert.deepEqual(Array.from(batched.indices), seq.indices, `${reward}: same images in the same order`);
    assert.deepEqual(batchedEffects.refits, seqEffects.refits, `${reward}: refit after every query but the last`);
    const bandit = batched.snapshots[batched.snapshots.length - 1]!.policy;
    const left = [0, 1, 2, 3, 4].map((a) => 7 - batched.actions.filter((x) => x === a).length);
    const max = Math.max(...seq.H.filter((_, a) => left[a]! > 0));
    const e = seq.H.map((h, a) => (left[a]! > 0 ? Math.exp(h - max) : 0));
    const z = e.reduce((s, v) => s + v, 0);
    assertClose(bandit, e.map((v) => v / z), 1e-12);
  }
});

test('one informative class (one-hot answers, the rest uniform), cert, b = 32: π(c) > 0.9 after 1000 queries', async () => {
  const K = 10;
  const labels = poolLabels([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 1000);
  let successes = 0;
  const seeds = 50;
  for (let seed = 1; seed <= seeds; seed++) {
    const c = seed % K;
    const effects = syntheticEffects(labels, K, oneInformativeClass(c, K));
    const r = await adaptiveQueries(labels, K, 1000, { ...DEFAULTS, reward: 'cert', batchSize: 32 }, new Rng(seed), effects);
    const pi = r.snapshots[r.snapshots.length - 1]!.policy;
    if (seed === 1) assert.ok(pi[c]! > 0.9, `seed 1: π(${c}) = ${pi[c]}`);
    if (pi[c]! > 0.9) successes++;
  }
  assert.ok(successes / seeds >= 0.97, `π(c) > 0.9 in ${successes} of ${seeds} seeds`);
});
