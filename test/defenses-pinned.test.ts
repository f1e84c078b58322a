/**
 * Pinned values: for a handful of small inputs, each defense returns the vector worked out by
 * hand in the comment above the case (float64 arithmetic, compared at 2e-6).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../src/engine/backend.js';
import { createDefense } from '../src/defenses/create.js';
import { parseDefenseSpec } from '../src/defenses/params.js';
import { projectL1Ball, projectL2Ball } from '../src/defenses/projection.js';
import { drawLogitNoise } from '../src/defenses/random-noise.js';
import { withLogitNoise } from '../src/defenses/logit.js';
import { Rng } from '../src/util/rng.js';
import { subsetVertexTable } from '../src/defenses/mad/vertex-oracles.js';
import { Surrogate } from '../src/defenses/mad/surrogate.js';
import type { DefenseContext } from '../src/defenses/types.js';

const TOL = 2e-6;
let ctx3: DefenseContext;
let ctx2: DefenseContext;

before(async () => {
  await initEngine({ backend: 'wasm' });
  ctx3 = { numClasses: 3, inputShape: [28, 28, 1], arch: 'lenet', seed: 3 };
  ctx3.surrogate = Surrogate.randomInit(ctx3);
  ctx2 = { numClasses: 2, inputShape: [28, 28, 1], arch: 'lenet', seed: 3 };
});

after(() => ctx3.surrogate?.dispose());

/** ỹ for posterior rows y (and surrogate posteriors p where the defense takes them). */
async function defend(name: string, flags: Record<string, string>, y: number[][], p?: number[][]): Promise<number[][]> {
  const K = y[0]!.length;
  const defense = await createDefense(parseDefenseSpec(name, flags), K === 3 ? ctx3 : ctx2);
  try {
    const yt = tf.tensor2d(y);
    const side = defense.sideInfoKey === null ? null : tf.tensor2d(p ?? y);
    const out = defense.apply(yt, side);
    const rows = (await out.array());
    tf.dispose([yt, out]);
    side?.dispose();
    return rows;
  } finally {
    defense.dispose();
  }
}

function assertRows(actual: number[][], expected: number[][], what: string): void {
  assert.equal(actual.length, expected.length, what);
  actual.forEach((row, r) =>
    row.forEach((v, j) => assert.ok(Math.abs(v - expected[r]![j]!) <= TOL, `${what}: row ${r} entry ${j} is ${v}, expected ${expected[r]![j]}`)),
  );
}

test('none, top-k, argmax', async () => {
  assertRows(await defend('none', {}, [[0.7, 0.2, 0.1]]), [[0.7, 0.2, 0.1]], 'none');
  // top-2 of (0.5, 0.3, 0.2): keep 0.5 and 0.3, renormalise by 0.8 → (0.625, 0.375, 0).
  assertRows(await defend('top-k', { k: '2' }, [[0.5, 0.3, 0.2]]), [[0.625, 0.375, 0]], 'top-k 2');
  // top-1 of (0.2, 0.5, 0.3) renormalised = the one-hot of class 1, as argmax.
  assertRows(await defend('top-k', { k: '1' }, [[0.2, 0.5, 0.3]]), [[0, 1, 0]], 'top-k 1');
  assertRows(await defend('argmax', {}, [[0.2, 0.5, 0.3], [0.4, 0.4, 0.2]]), [[0, 1, 0], [1, 0, 0]], 'argmax (tie → lowest index)');
});

test('rounding, then renormalising', async () => {
  // 1 decimal: (0.46, 0.31, 0.23) → (0.5, 0.3, 0.2), already summing to 1.
  // (0.34, 0.33, 0.33) → (0.3, 0.3, 0.3), sum 0.9 → (1/3, 1/3, 1/3).
  assertRows(await defend('rounding', { decimals: '1' }, [[0.46, 0.31, 0.23], [0.34, 0.33, 0.33]]), [[0.5, 0.3, 0.2], [1 / 3, 1 / 3, 1 / 3]], 'rounding 1');
  // 0 decimals: (0.4, 0.35, 0.25) rounds to all zeros → the one-hot of the top-1 class.
  assertRows(await defend('rounding', { decimals: '0' }, [[0.4, 0.35, 0.25]]), [[1, 0, 0]], 'rounding 0');
  // Half to even: 0.25·10 = 2.5 → 2 and 0.75·10 = 7.5 → 8: (0.2, 0.8).
  assertRows(await defend('rounding', { decimals: '1' }, [[0.25, 0.75]]), [[0.2, 0.8]], 'rounding half to even');
});

test('reverse sigmoid, docs/spec.md formula', async () => {
  // γ = 1: σ(logit y) = y, so r = β(y − ½) and f = y − r = ½y + ¼ for β = ½:
  // (0.6, 0.3, 0.1) → (0.55, 0.40, 0.30), sum 1.25 → (0.44, 0.32, 0.24).
  assertRows(await defend('reverse-sigmoid', { beta: '0.5', gamma: '1' }, [[0.6, 0.3, 0.1]]), [[0.44, 0.32, 0.24]], 'β=0.5 γ=1');
  // γ = 2: σ(2 logit y) = y²/(y² + (1−y)²).  β = 1, y = (0.5, 0.25, 0.25):
  //   y = 0.5 → σ = 0.5, r = 0, f = 0.5;  y = 0.25 → σ = 0.0625/0.625 = 0.1, r = −0.4, f = 0.65;
  //   sum 1.8 → (0.277778, 0.361111, 0.361111): with βγ = 2 > 1 the top-1 flips.
  assertRows(await defend('reverse-sigmoid', { beta: '1', gamma: '2' }, [[0.5, 0.25, 0.25]]), [[0.5 / 1.8, 0.65 / 1.8, 0.65 / 1.8]], 'β=1 γ=2');
  // β = ½, γ = 2, y = (0.8, 0.2): σ = 0.64/0.68 = 0.941176, r = 0.220588, f₁ = 0.579412;
  //   σ = 0.04/0.68 = 0.058824, r = −0.220588, f₂ = 0.420588; sum 1 → (0.579412, 0.420588).
  assertRows(await defend('reverse-sigmoid', { beta: '0.5', gamma: '2' }, [[0.8, 0.2]]), [[0.5794118, 0.4205882]], 'β=0.5 γ=2');
});

test('ball projections used by random noise', async () => {
  // L1, ε = 0.5, v = (0.8, −0.6, 0.1): |v| sorted (0.8, 0.6, 0.1), cumulative (0.8, 1.4, 1.5);
  //   j = 1: 0.8 − 0.3 > 0; j = 2: 0.6 − 0.45 > 0; j = 3: 0.1 − 0.333 < 0 → ρ = 2, θ = 0.45
  //   → (0.35, −0.15, 0), whose L1 norm is 0.5.
  const v = tf.tensor2d([[0.8, -0.6, 0.1], [0.1, 0.2, -0.1]]);
  assertRows((await projectL1Ball(v, 0.5).array()), [[0.35, -0.15, 0], [0.1, 0.2, -0.1]], 'L1 projection (second row inside)');
  // L2, ε = 1, (3, 4) has norm 5 → (0.6, 0.8).
  const w = tf.tensor2d([[3, 4], [0.3, 0.4]]);
  assertRows((await projectL2Ball(w, 1).array()), [[0.6, 0.8], [0.3, 0.4]], 'L2 projection (second row inside)');
  tf.dispose([v, w]);
});

test('random noise: σ(logit y + δ) renormalised, with δ from the seeded stream projected onto its ball', async () => {
  // y = (0.5, 0.3, 0.2), δ = (0.1, −0.2, 0.3): logit y = (0, −0.847298, −1.386294),
  // σ(logit y + δ) = σ(0.1, −1.047298, −1.086294) = (0.524979, 0.259744, 0.252317), sum 1.037040
  // → (0.506228, 0.250467, 0.243305).
  const y = tf.tensor2d([[0.5, 0.3, 0.2]]);
  const delta = tf.tensor2d([[0.1, -0.2, 0.3]]);
  const noisy = withLogitNoise(y, delta);
  assertRows(await noisy.array(), [[0.506228, 0.250467, 0.243305]], 'σ(z + δ) renormalised');
  tf.dispose([y, delta, noisy]);

  // The defense end to end: the same draws, projection and formula redone in float64.
  const rows = [[0.5, 0.3, 0.2], [0.9, 0.05, 0.05], [1 / 3, 1 / 3, 1 / 3], [0.2, 0.2, 0.6]];
  for (const [norm, dist] of [['l1', 'uniform'], ['l2', 'gaussian']] as const) {
    const spec = { epsZ: 0.8, norm, dist };
    const raw = drawLogitNoise(new Rng(ctx3.seed).fork('random-noise'), rows.length, 3, spec);
    const expected = rows.map((yr, r) => {
      const d = project(Array.from(raw.subarray(3 * r, 3 * r + 3)), 0.8, norm);
      const s = yr.map((v, j) => 1 / (1 + Math.exp(-(Math.log(v / (1 - v)) + d[j]!))));
      const total = s.reduce((a, b) => a + b, 0);
      return s.map((v) => v / total);
    });
    assertRows(await defend('random-noise', { 'noise-eps': '0.8', 'noise-norm': norm, 'noise-dist': dist }, rows), expected, `random noise ${norm} ${dist}`);
  }
});

/** Float64 projection onto the ε-ball: L2 by scaling, L1 by Duchi et al.'s sort-based algorithm. */
function project(v: number[], eps: number, norm: 'l1' | 'l2'): number[] {
  if (norm === 'l2') {
    const n = Math.hypot(...v);
    return n > eps ? v.map((x) => (x * eps) / n) : v;
  }
  const a = v.map(Math.abs);
  if (a.reduce((s, x) => s + x, 0) <= eps) return v;
  const u = [...a].sort((x, y) => y - x);
  let c = 0;
  let theta = 0;
  u.forEach((uj, j) => {
    c += uj;
    if (uj - (c - eps) / (j + 1) > 0) theta = (c - eps) / (j + 1);
  });
  return v.map((x, i) => Math.sign(x) * Math.max(a[i]! - theta, 0));
}

/*
 * MAD by hand, K = 3, y = (0.7, 0.2, 0.1), surrogate posterior p = (0.2, 0.5, 0.3).
 * b̂ = (p − y)/‖p − y‖ = (−0.5, 0.3, 0.2)/√0.38 = (−0.811107, 0.486664, 0.324443).
 * H(v) = ‖â − b̂‖² = 2 − 2 cos(p − v, p − y):
 *   e₀: p − e₀ = (−0.8, 0.5, 0.3)/√0.98,  cos = 0.999597 → H = 0.000806
 *   e₁: p − e₁ = (0.2, −0.5, 0.3)/√0.38,  cos = −0.5     → H = 3.0   ← y*
 *   e₂: p − e₂ = (0.2, 0.5, −0.7)/√0.78,  cos = −0.165310 → H = 2.330623
 * L1, ε = 0.4: ‖y − e₁‖₁ = 0.7 + 0.8 + 0.1 = 1.6, α = 0.25 → ỹ = 0.75y + 0.25e₁ = (0.525, 0.4, 0.075).
 * L2, ε = 0.4: ‖y − e₁‖₂ = √1.14 = 1.067708, α = 0.374634 → ỹ = (0.437756, 0.4997075, 0.0625366).
 * L1, ε = 2: α = min(1, 2/1.6) = 1 → ỹ = e₁.
 */
test('MAD closed form, worked by hand', async () => {
  const y = [[0.7, 0.2, 0.1]];
  const p = [[0.2, 0.5, 0.3]];
  assertRows(await defend('mad', { eps: '0.4' }, y, p), [[0.525, 0.4, 0.075]], 'mad l1 0.4');
  assertRows(await defend('mad', { eps: '0.4', ydist: 'l2' }, y, p), [[0.437756, 0.4997075, 0.0625366]], 'mad l2 0.4');
  assertRows(await defend('mad', { eps: '2' }, y, p), [[0, 1, 0]], 'mad l1 2 (α clipped)');
});

/*
 * MAD-argmax by hand, same y and p; k₀ = 0, the subsets S ∋ 0 and their vertices
 * v_S = (1_S + 1e-5·e₀)/(|S| + 1e-5), in the reference's order:
 *   {0}:     (1, 0, 0)                               H = 0.000806
 *   {0,2}:   (0.5000025, 0, 0.4999975)   p − v ∝ (−0.3, 0.5, −0.2)/√0.38, cos = 0.684215 → H = 0.631571 ← y*
 *   {0,1}:   (0.5000025, 0.4999975, 0)   p − v ∝ (−0.3, 0, 0.3)/√0.18,    cos = 0.802960 → H = 0.394081
 *   {0,1,2}: (0.3333356, 0.3333322, 0.3333322)                            → H = 0.347924
 * L1, ε = 0.4: ‖y − v‖₁ = 0.1999975 + 0.2 + 0.3999975 = 0.799995, α = 0.500003
 *   → ỹ = y + α(v − y) = (0.600001, 0.099999, 0.3): the top-1 class stays 0.
 * With G = I (ablation identity) H(v) = ‖v/‖v‖ − y/‖y‖‖² = 2 − 2⟨v, y⟩/(‖v‖‖y‖), ‖y‖ = √0.54:
 *   {0}: 0.094841, {0,2}: 0.460394 ← y*, {0,1}: 0.267944, {0,1,2}: 0.428646, the same y*.
 * MAD with G = I: H(e_k) = 2 − 2y_k/‖y‖ is largest for the least likely class, e₂;
 *   L1, ε = 0.9: ‖y − e₂‖₁ = 1.8, α = ½ → ỹ = (0.35, 0.1, 0.55).
 */
test('MAD-argmax and the G = I ablation, worked by hand', async () => {
  const y = [[0.7, 0.2, 0.1]];
  const p = [[0.2, 0.5, 0.3]];
  const v = [(1 + 1e-5) / (2 + 1e-5), 0, 1 / (2 + 1e-5)];
  const alpha = 0.4 / (Math.abs(0.7 - v[0]!) + 0.2 + Math.abs(0.1 - v[2]!));
  const expected = [y[0]!.map((yj, j) => yj + alpha * (v[j]! - yj))];
  assertRows(await defend('mad-argmax', { eps: '0.4' }, y, p), expected, 'mad-argmax l1 0.4');
  assertRows(await defend('mad-argmax', { eps: '0.4', ablation: 'identity' }, y), expected, 'mad-argmax G = I');
  assertRows(await defend('mad', { eps: '0.9', ablation: 'identity' }, y), [[0.35, 0.1, 0.55]], 'mad G = I');
});

test("MAD-argmax's vertex table follows the reference's enumeration order", () => {
  const t = 1e-5;
  const table = subsetVertexTable(3);
  const rows = (k0: number): number[][] => Array.from({ length: 4 }, (_, c) => Array.from(table.subarray((k0 * 4 + c) * 3, (k0 * 4 + c + 1) * 3)));
  const v = (members: number[], k0: number): number[] => [0, 1, 2].map((j) => ((members.includes(j) ? 1 : 0) + (j === k0 ? t : 0)) / (members.length + t));
  // itertools.product([0, 1], repeat=3) keeps 100, 101, 110, 111 for k₀ = 0 and 010, 011, 110, 111 for k₀ = 1.
  assertRows(rows(0), [v([0], 0), v([0, 2], 0), v([0, 1], 0), v([0, 1, 2], 0)], 'k0 = 0');
  assertRows(rows(1), [v([1], 1), v([1, 2], 1), v([0, 1], 1), v([0, 1, 2], 1)], 'k0 = 1');
});
