/**
 * Property tests of every defense over thousands of random posteriors (softmax of seeded random
 * logits at several temperatures, plus one-hot rows, uniform rows, rows with entries below
 * 1e-12 and rows with exact zeros): no NaN/Infinity, rows ≥ 0 summing to 1 ± 1e-5, MAD inside
 * its ε-ball and using the whole budget unless α is clipped, top-1 kept where promised, and
 * ε = 0 / β = 0 reproducing `none` bit for bit.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../src/engine/backend.js';
import { createDefense } from '../src/defenses/create.js';
import { parseDefenseSpec } from '../src/defenses/params.js';
import { projectL1Ball, projectL2Ball } from '../src/defenses/projection.js';
import { Surrogate } from '../src/defenses/mad/surrogate.js';
import type { DefenseSpec, Norm } from '../src/defenses/spec.js';
import type { Defense, DefenseContext } from '../src/defenses/types.js';
import { Rng } from '../src/util/rng.js';

const K = 10;
const ROWS = 2000;
const SEED = 7;

/** Seeded posteriors of every kind the properties must survive, as float32 rows. */
function randomPosteriors(rng: Rng, rows: number, k: number): Float32Array {
  const scales = [0.01, 0.3, 1, 3, 10, 30, 100];
  const out = new Float32Array(rows * k);
  const row = new Float64Array(k);
  for (let r = 0; r < rows; r++) {
    const kind = r % 12;
    if (kind === 0) {
      row.fill(0);
      row[rng.int(k)] = 1;
    } else if (kind === 1) {
      row.fill(1 / k);
    } else if (kind === 2) {
      // Entries below 1e-12 beside a dominant class.
      row.fill(1e-13);
      row[rng.int(k)] = 1 - (k - 1) * 1e-13;
    } else if (kind === 3) {
      // Exact zeros beside two classes sharing the mass.
      row.fill(0);
      const a = rng.int(k);
      const b = (a + 1 + rng.int(k - 1)) % k;
      const share = rng.next();
      row[a] = share;
      row[b] = 1 - share;
    } else {
      const scale = scales[r % scales.length]!;
      let max = -Infinity;
      for (let j = 0; j < k; j++) {
        row[j] = scale * rng.normal();
        max = Math.max(max, row[j]!);
      }
      let sum = 0;
      for (let j = 0; j < k; j++) sum += row[j] = Math.exp(row[j]! - max);
      for (let j = 0; j < k; j++) row[j] = row[j]! / sum;
    }
    for (let j = 0; j < k; j++) out[r * k + j] = row[j]!;
  }
  return out;
}

function argmaxOf(v: ArrayLike<number>, offset: number, k: number): number {
  let best = 0;
  for (let j = 1; j < k; j++) if (v[offset + j]! > v[offset + best]!) best = j;
  return best;
}

function distance(a: ArrayLike<number>, b: ArrayLike<number>, offset: number, k: number, norm: Norm): number {
  let s = 0;
  for (let j = 0; j < k; j++) {
    const d = Math.abs(a[offset + j]! - b[offset + j]!);
    s += norm === 'l1' ? d : d * d;
  }
  return norm === 'l1' ? s : Math.sqrt(s);
}

let ctx: DefenseContext;
let ctx100: DefenseContext;
let yRows: Float32Array;
let pRows: Float32Array;

before(async () => {
  await initEngine({ backend: 'wasm' });
  const base = { inputShape: [28, 28, 1] as [number, number, number], arch: 'lenet' as const, seed: SEED };
  ctx = { ...base, numClasses: K };
  ctx.surrogate = Surrogate.randomInit(ctx);
  ctx100 = { ...base, numClasses: 100 };
  ctx100.surrogate = Surrogate.randomInit(ctx100);
  const rng = new Rng(SEED);
  yRows = randomPosteriors(rng, ROWS, K);
  // Surrogate posteriors: random, except some rows equal to y (degenerate: p = y), one-hot or uniform.
  pRows = randomPosteriors(rng.fork('p'), ROWS, K);
  for (let r = 0; r < ROWS; r += 7) pRows.set(yRows.subarray(r * K, (r + 1) * K), r * K);
});

after(() => {
  ctx.surrogate?.dispose();
  ctx100.surrogate?.dispose();
});

/** Runs a defense on rows of y (and p as side information when it takes the closed-form one). */
function run(defense: Defense, y: Float32Array, p: Float32Array, k: number): Float32Array {
  const rows = y.length / k;
  const yt = tf.tensor2d(y, [rows, k]);
  const side = defense.sideInfoKey === null ? null : tf.tensor2d(p, [rows, k]);
  const out = defense.apply(yt, side);
  const data = out.dataSync() as Float32Array;
  tf.dispose([yt, out]);
  side?.dispose();
  return Float32Array.from(data);
}

function spec(name: string, flags: Record<string, string>): DefenseSpec {
  return parseDefenseSpec(name, flags);
}

interface Expectations {
  keepsTop1?: boolean;
  /** MAD: ε-ball and whole-budget checks; `vertex` tells whether a row is one of the oracle's vertices. */
  ball?: { eps: number; norm: Norm; vertex: (row: Float32Array) => boolean };
}

function checkRows(label: string, y: Float32Array, out: Float32Array, k: number, expect: Expectations): void {
  const rows = y.length / k;
  assert.equal(out.length, y.length, label);
  for (let r = 0; r < rows; r++) {
    const o = r * k;
    let sum = 0;
    for (let j = 0; j < k; j++) {
      const v = out[o + j]!;
      assert.ok(Number.isFinite(v), `${label}: row ${r} has ${v}`);
      assert.ok(v >= 0, `${label}: row ${r} entry ${j} = ${v} < 0`);
      sum += v;
    }
    assert.ok(Math.abs(sum - 1) <= 1e-5, `${label}: row ${r} sums to ${sum}`);
    if (expect.keepsTop1) {
      assert.equal(argmaxOf(out, o, k), argmaxOf(y, o, k), `${label}: row ${r} changed its top-1`);
    }
    if (expect.ball) {
      const { eps, norm, vertex } = expect.ball;
      const d = distance(y, out, o, k, norm);
      assert.ok(d <= eps + 1e-5, `${label}: row ${r} is ${d} from y, outside the ε-ball ${eps}`);
      const isVertex = vertex(out.subarray(o, o + k));
      // Whole budget: ‖ỹ − y‖ = ε, unless α was clipped at 1 and ỹ = y* is a vertex closer than ε.
      assert.ok(Math.abs(d - eps) <= 1e-5 || (isVertex && d < eps + 1e-5), `${label}: row ${r} used ${d} of ε = ${eps}`);
    }
  }
}

const oneHotVertex = (row: Float32Array): boolean => row.every((v) => v <= 1e-6 || v >= 1 - 1e-6);
/** A uniform distribution over a subset (MAD-argmax's vertices, up to their 1e-5 tie-break). */
const subsetVertex = (row: Float32Array): boolean => {
  const members = Array.from(row).filter((v) => v > 1e-6);
  return members.every((v) => Math.abs(v - 1 / members.length) <= 2e-5);
};

async function withDefense<T>(s: DefenseSpec, c: DefenseContext, f: (d: Defense) => T): Promise<T> {
  const d = await createDefense(s, c);
  try {
    return f(d);
  } finally {
    d.dispose();
  }
}

test('none, top-k, argmax and rounding: finite rows on the simplex; top-k and argmax keep the top-1', async () => {
  const none = await withDefense(spec('none', {}), ctx, (d) => run(d, yRows, pRows, K));
  assert.deepEqual(none, yRows);
  for (const k of [1, 3, K]) {
    const out = await withDefense(spec('top-k', { k: String(k) }), ctx, (d) => run(d, yRows, pRows, K));
    checkRows(`top-k ${k}`, yRows, out, K, { keepsTop1: true });
    for (let r = 0; r < ROWS; r++) {
      const nonzero = out.subarray(r * K, (r + 1) * K).filter((v) => v > 0).length;
      assert.ok(nonzero <= k, `top-k ${k}: row ${r} keeps ${nonzero} entries`);
    }
  }
  const arg = await withDefense(spec('argmax', {}), ctx, (d) => run(d, yRows, pRows, K));
  checkRows('argmax', yRows, arg, K, { keepsTop1: true });
  assert.ok(arg.every((v) => v === 0 || v === 1));
  for (const decimals of [0, 1, 2, 4]) {
    const out = await withDefense(spec('rounding', { decimals: String(decimals) }), ctx, (d) => run(d, yRows, pRows, K));
    checkRows(`rounding ${decimals}`, yRows, out, K, {});
  }
});

test('reverse sigmoid: on the simplex for every β in [0, 1]; keeps the top-1 where f is increasing (γ ≥ 1, βγ < 1)', async () => {
  for (const [beta, gamma] of [[0.2, 0.2], [0.5, 0.1], [1, 0.4], [1, 0.2], [0.5, 1], [0.9, 1], [0.3, 3], [1, 5]] as const) {
    const out = await withDefense(spec('reverse-sigmoid', { beta: String(beta), gamma: String(gamma) }), ctx, (d) => run(d, yRows, pRows, K));
    checkRows(`reverse-sigmoid β=${beta} γ=${gamma}`, yRows, out, K, { keepsTop1: gamma >= 1 && beta * gamma < 1 });
  }
});

test("reverse sigmoid can flip the top-1 at the paper's MNIST setting (γ = 0.2): a flat posterior with a tiny entry", async () => {
  // f(y) = y + β(½ − σ(γ logit y)), β = 0.5, γ = 0.2:
  //   y = 0.2:  σ(0.2·logit 0.2) = σ(−0.2773) = 0.4311 → f = 0.2 + 0.5·0.0689 = 0.2345
  //   y = 0.1:  σ(0.2·logit 0.1) = σ(−0.4394) = 0.3919 → f = 0.1 + 0.5·0.1081 = 0.1541
  //   y = 1e-9: σ(0.2·(−20.723)) = σ(−4.1447) = 0.01560 → f = 0.5·0.4844 = 0.2422 > 0.2345
  // so the near-zero class becomes the top-1 of ỹ.
  const y = new Float32Array([0.2, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 1e-9]);
  const out = await withDefense(spec('reverse-sigmoid', { beta: '0.5', gamma: '0.2' }), ctx, (d) => run(d, y, y, K));
  assert.equal(argmaxOf(y, 0, K), 0);
  assert.equal(argmaxOf(out, 0, K), 9);
  const total = 0.2345 + 8 * 0.1541 + 0.2422;
  assert.ok(Math.abs(out[9]! - 0.2422 / total) < 1e-3 && Math.abs(out[0]! - 0.2345 / total) < 1e-3);
});

test('random noise: on the simplex for every norm, distribution and radius; same seed → same draws', async () => {
  for (const epsZ of ['0.1', '1', '5']) {
    for (const norm of ['l1', 'l2']) {
      for (const dist of ['uniform', 'gaussian']) {
        const s = spec('random-noise', { 'noise-eps': epsZ, 'noise-norm': norm, 'noise-dist': dist });
        const a = await withDefense(s, ctx, (d) => [run(d, yRows, pRows, K), run(d, yRows, pRows, K)]);
        checkRows(`random-noise ${epsZ} ${norm} ${dist}`, yRows, a[0]!, K, {});
        assert.notDeepEqual(a[0], a[1], 'the second batch must draw new noise');
        const b = await withDefense(s, ctx, (d) => [run(d, yRows, pRows, K), run(d, yRows, pRows, K)]);
        assert.deepEqual(b, a, 'same seed and batch order, same outputs');
        const c = await withDefense(s, { ...ctx, seed: SEED + 1 }, (d) => run(d, yRows, pRows, K));
        assert.notDeepEqual(c, a[0], 'another seed, other noise');
      }
    }
  }
});

test('MAD and MAD-argmax: inside the ε-ball, whole budget unless α is clipped, MAD-argmax keeps the top-1', async () => {
  for (const name of ['mad', 'mad-argmax'] as const) {
    const vertex = name === 'mad' ? oneHotVertex : subsetVertex;
    for (const ydist of ['l1', 'l2'] as const) {
      for (const eps of [0.1, 0.5, 1, 2.5]) {
        for (const ablation of ['none', 'identity', 'random-vertex']) {
          const s = spec(name, { eps: String(eps), ydist, ablation });
          const out = await withDefense(s, ctx, (d) => run(d, yRows, pRows, K));
          checkRows(`${name} ε=${eps} ${ydist} ${ablation}`, yRows, out, K, {
            keepsTop1: name === 'mad-argmax',
            ball: { eps, norm: ydist, vertex },
          });
        }
      }
    }
  }
});

test('MAD-argmax beyond 10 classes (greedy search): invariants and top-1 on 100-class posteriors', async () => {
  const rng = new Rng(SEED + 100);
  const y = randomPosteriors(rng, 240, 100);
  const p = randomPosteriors(rng, 240, 100);
  for (const eps of [0.3, 1.5]) {
    const out = await withDefense(spec('mad-argmax', { eps: String(eps) }), ctx100, (d) => run(d, y, p, 100));
    checkRows(`mad-argmax K=100 ε=${eps}`, y, out, 100, { keepsTop1: true, ball: { eps, norm: 'l1', vertex: subsetVertex } });
    const plain = await withDefense(spec('mad', { eps: String(eps), ydist: 'l2' }), ctx100, (d) => run(d, y, p, 100));
    checkRows(`mad K=100 ε=${eps}`, y, plain, 100, { ball: { eps, norm: 'l2', vertex: oneHotVertex } });
  }
});

test('ε = 0, β = 0 and ε_z = 0 reproduce `none` bit for bit', async () => {
  const none = await withDefense(spec('none', {}), ctx, (d) => run(d, yRows, pRows, K));
  const zeros: [string, Record<string, string>][] = [
    ['mad', { eps: '0' }],
    ['mad', { eps: '0', ydist: 'l2', ablation: 'identity' }],
    ['mad', { eps: '0', ablation: 'random-vertex' }],
    ['mad-argmax', { eps: '0' }],
    ['mad-argmax', { eps: '0', ydist: 'l2' }],
    ['reverse-sigmoid', { beta: '0', gamma: '0.2' }],
    ['random-noise', { 'noise-eps': '0', 'noise-dist': 'gaussian' }],
  ];
  for (const [name, flags] of zeros) {
    const out = await withDefense(spec(name, flags), ctx, (d) => run(d, yRows, pRows, K));
    assert.ok(Buffer.from(out.buffer).equals(Buffer.from(none.buffer)), `${name} ${JSON.stringify(flags)} is not bit-identical to none`);
  }
});

test('L1 and L2 ball projections agree with a float64 reference on random vectors', () => {
  const rng = new Rng(SEED + 3);
  const rows = 500;
  const k = 7;
  const v = new Float32Array(rows * k);
  for (let i = 0; i < v.length; i++) v[i] = rng.normal() * (1 + (i % 5));
  for (const eps of [0, 0.5, 3, 100]) {
    const t = tf.tensor2d(v, [rows, k]);
    const l1 = projectL1Ball(t, eps).dataSync();
    const l2 = projectL2Ball(t, eps).dataSync();
    t.dispose();
    for (let r = 0; r < rows; r++) {
      const row = Array.from(v.subarray(r * k, (r + 1) * k));
      const ref1 = referenceL1(row, eps);
      const norm2 = Math.hypot(...row);
      for (let j = 0; j < k; j++) {
        assert.ok(Math.abs(l1[r * k + j]! - ref1[j]!) <= 1e-4 * (1 + eps), `L1 ε=${eps} row ${r}`);
        const ref2 = norm2 > eps ? (row[j]! * eps) / norm2 : row[j]!;
        assert.ok(Math.abs(l2[r * k + j]! - ref2) <= 1e-5 * (1 + eps), `L2 ε=${eps} row ${r}`);
      }
    }
  }
});

/** Duchi et al.'s projection onto the L1 ball in float64, by sorting (the textbook algorithm). */
function referenceL1(v: number[], eps: number): number[] {
  const a = v.map(Math.abs);
  if (a.reduce((s, x) => s + x, 0) <= eps) return v;
  if (eps === 0) return v.map(() => 0);
  const u = [...a].sort((x, y) => y - x);
  let c = 0;
  let theta = 0;
  for (let j = 0; j < u.length; j++) {
    c += u[j]!;
    const t = (c - eps) / (j + 1);
    if (u[j]! - t > 0) theta = t;
  }
  return v.map((x, i) => Math.sign(x) * Math.max(a[i]! - theta, 0));
}

test('a second run of every defense leaves the tensor count unchanged', async () => {
  const specs: DefenseSpec[] = [
    spec('none', {}),
    spec('top-k', { k: '3' }),
    spec('argmax', {}),
    spec('rounding', { decimals: '2' }),
    spec('reverse-sigmoid', { beta: '0.5' }),
    spec('random-noise', { 'noise-eps': '1' }),
    spec('mad', { eps: '0.5' }),
    spec('mad-argmax', { eps: '0.5', ydist: 'l2' }),
    spec('mad', { eps: '0.5', ablation: 'identity' }),
    spec('mad-argmax', { eps: '0.5', ablation: 'random-vertex' }),
  ];
  const y = yRows.subarray(0, 64 * K);
  const x = tf.randomNormal([4, 28, 28, 1], 0, 1, 'float32', 5) as tf.Tensor4D;
  const y4 = tf.tensor2d(yRows.subarray(0, 4 * K), [4, K]);
  for (const s of specs) {
    const d = await createDefense(s, ctx);
    run(d, y, pRows.subarray(0, 64 * K), K);
    d.perturb(x, y4).dispose();
    const before = tf.memory().numTensors;
    run(d, y, pRows.subarray(0, 64 * K), K);
    d.perturb(x, y4).dispose();
    assert.equal(tf.memory().numTensors, before, `${s.name} leaks tensors`);
    d.dispose();
  }
  for (const name of ['mad', 'mad-argmax'] as const) {
    const before = tf.memory().numTensors;
    const d = await createDefense(spec(name, { eps: '0.5', ablation: 'none' }), { ...ctx, surrogate: undefined });
    d.perturb(x, y4).dispose();
    d.dispose();
    assert.equal(tf.memory().numTensors, before, `${name} with its own surrogate leaks tensors once disposed`);
  }
  tf.dispose([x, y4]);
});
