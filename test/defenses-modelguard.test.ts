/**
 * ModelGuard-W and ModelGuard-S (SPEC-ADAPTIVE §4): W's LP against an independent vertex
 * enumeration on random inputs (ties included: the lexicographically smallest optimum), the
 * reference's worked example, and both defenses' invariants (‖ỹ − y‖₁ ≤ ε, top-1 kept, S emits
 * only codebook vectors, first fit in creation order, one codebook per consumer); bad input as
 * one stderr line; and a tiny `poison attack` under each.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { UsageError } from '../src/errors.js';
import { loadHighs, modelguardW, modelguardWRow } from '../src/defenses/modelguard-w.js';
import { EpsCoverCodebook, modelguardS } from '../src/defenses/modelguard-s.js';
import { parseDefenseSpec } from '../src/defenses/params.js';
import { needsInstancePerConsumer } from '../src/defenses/spec.js';
import type { Defense } from '../src/defenses/types.js';
import type { DefenseDefinition, DefenseSpec } from '../src/defenses/definition.js';
import type { AttackResult } from '../src/attack-run/result.js';
import { Rng } from '../src/util/rng.js';
import { useVictimWorkspace } from './helpers/victim-workspace.js';

const ws = useVictimWorkspace('poison-modelguard-');

const l1 = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let s = 0;
  for (let k = 0; k < a.length; k++) s += Math.abs(a[k]! - b[k]!);
  return s;
};
const argmax = (a: ArrayLike<number>): number => {
  let top = 0;
  for (let k = 1; k < a.length; k++) if (a[k]! > a[top]!) top = k;
  return top;
};

/** A random posterior: some entries exactly 0 or exactly equal (ties), the rest exponential. */
function randomPosterior(rng: Rng, K: number): number[] {
  const e = Array.from({ length: K }, (): number => {
    const u = rng.next();
    if (u < 0.2) return 0;
    if (u < 0.35) return 0.5; // equal to every other 0.5: tied log-coefficients
    return (-Math.log(1 - rng.next())) ** 3;
  });
  if (!e.some((v) => v > 0)) e[0] = 1;
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/** Solves A x = b (n × n) by Gaussian elimination with partial pivoting; null when singular. */
function solveSquare(A: number[][], b: number[]): number[] | null {
  const n = b.length;
  const M = A.map((row, i) => [...row, b[i]!]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r]![c]!) > Math.abs(M[p]![c]!)) p = r;
    if (Math.abs(M[p]![c]!) < 1e-12) return null;
    [M[c], M[p]] = [M[p]!, M[c]!];
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = M[r]![c]! / M[c]![c]!;
      for (let k = c; k <= n; k++) M[r]![k] = M[r]![k]! - f * M[c]![k]!;
    }
  }
  return M.map((row, i) => row[n]! / row[i]!);
}

/**
 * The reference answer by a different formulation: in ỹ alone, the L1 ball written as its 2^K
 * half-spaces Σ s_k(ỹ_k − y_k) ≤ ε, every vertex enumerated (K − 1 active inequalities plus the sum),
 * the best objective kept, and among the vertices within 1e-9 of it the lexicographically smallest.
 */
function enumerateOptimum(y: number[], eps: number): number[] {
  const K = y.length;
  const top = argmax(y);
  const total = y.reduce((a, b) => a + b, 0);
  const rows: { a: number[]; b: number }[] = []; // a·ỹ ≤ b
  for (let mask = 0; mask < 1 << K; mask++) {
    const s = Array.from({ length: K }, (_, k) => ((mask >> k) & 1 ? 1 : -1));
    rows.push({ a: s, b: eps + s.reduce((acc, sk, k) => acc + sk * y[k]!, 0) });
  }
  for (let k = 0; k < K; k++) {
    rows.push({ a: Array.from({ length: K }, (_, j) => (j === k ? -1 : 0)), b: 0 });
    rows.push({ a: Array.from({ length: K }, (_, j) => (j === k ? 1 : 0)), b: 1 });
    if (k !== top) rows.push({ a: Array.from({ length: K }, (_, j) => (j === k ? 1 : j === top ? -1 : 0)), b: -Math.min(1e-4, y[top]! - y[k]!) });
  }
  const cost = y.map((v) => Math.log(v + 1e-6));
  let best: number[] | null = null;
  let bestValue = Infinity;
  const vertices: { x: number[]; value: number }[] = [];
  const pick = (from: number, chosen: number[]): void => {
    if (chosen.length === K - 1) {
      const A = [Array<number>(K).fill(1), ...chosen.map((i) => rows[i]!.a)];
      const x = solveSquare(A, [total, ...chosen.map((i) => rows[i]!.b)]);
      if (x && rows.every((r) => r.a.reduce((acc, a, k) => acc + a * x[k]!, 0) <= r.b + 1e-9)) {
        const value = cost.reduce((acc, c, k) => acc + c * x[k]!, 0);
        vertices.push({ x, value });
        if (value < bestValue) bestValue = value;
      }
      return;
    }
    for (let i = from; i < rows.length; i++) pick(i + 1, [...chosen, i]);
  };
  pick(0, []);
  for (const v of vertices) {
    if (v.value > bestValue + 1e-9) continue;
    if (best === null) {
      best = v.x;
      continue;
    }
    const k = v.x.findIndex((x, i) => Math.abs(x - best![i]!) > 1e-7);
    if (k >= 0 && v.x[k]! < best[k]!) best = v.x;
  }
  assert.ok(best, 'ỹ = y is feasible, so there is a vertex');
  return best;
}

test('modelguard-w: the HiGHS answer is the lexicographically smallest optimum a vertex enumeration finds (random inputs, ties, K = 2…5)', async () => {
  const highs = await loadHighs();
  const rng = new Rng(7);
  let tied = 0;
  for (const K of [2, 3, 4, 5]) {
    for (let i = 0; i < (K === 5 ? 3 : K === 4 ? 20 : 30); i++) {
      const y = randomPosterior(rng, K);
      const eps = [0.05, 0.3, 1, 2][i % 4]!;
      const got = Array.from(modelguardWRow(highs, y, eps));
      const want = enumerateOptimum(y, eps);
      const cost = y.map((v) => Math.log(v + 1e-6));
      const value = (x: number[]): number => cost.reduce((acc, c, k) => acc + c * x[k]!, 0);
      assert.ok(Math.abs(value(got) - value(want)) <= 1e-7, `K=${K} y=[${y.join(', ')}] ε=${eps}: objective ${value(got)} vs ${value(want)}`);
      got.forEach((v, k) => assert.ok(Math.abs(v - want[k]!) <= 1e-6, `K=${K} y=[${y.join(', ')}] ε=${eps}: ỹ=[${got.join(', ')}] vs [${want.join(', ')}]`));
      if (new Set(y).size < K) tied++;
    }
  }
  assert.ok(tied >= 10, `the random inputs include ties (${tied})`);
});

test('modelguard-w: the reference example drains the mid-ranked class (greedy filling is not exact); ε = 0 releases y', async () => {
  const highs = await loadHighs();
  const got = Array.from(modelguardWRow(highs, [0.28596, 0.00004, 0.714], 2));
  [0, 0.49995, 0.50005].forEach((v, k) => assert.ok(Math.abs(got[k]! - v) <= 1e-9, got.join(', ')));
  // Three equal smallest classes: the mass goes to the last of them (lexicographically smallest).
  const tiedRow = Array.from(modelguardWRow(highs, [0.5, 0.2, 0.1, 0.1, 0.1], 0.3));
  [0.35, 0.2, 0.1, 0.1, 0.25].forEach((v, k) => assert.ok(Math.abs(tiedRow[k]! - v) <= 1e-9, tiedRow.join(', ')));
  assert.deepEqual(Array.from(modelguardWRow(highs, [0.3, 0.7], 0)), [0.3, 0.7]);
  // A near-tie at the top (gap below the 1e-4 margin) stays feasible: the margin is capped by y's own.
  const near = Array.from(modelguardWRow(highs, [0.49998, 0.50002], 0.5));
  assert.equal(argmax(near), 1);
});

async function defenseOf(spec: DefenseSpec, K: number, definition: DefenseDefinition): Promise<Defense> {
  return definition.create(spec, { numClasses: K, inputShape: [28, 28, 1], arch: 'lenet', seed: 1 });
}

async function releaseAll(defense: Defense, rows: number[][]): Promise<number[][]> {
  const y = tf.tensor2d(rows);
  const released = await defense.applyAsync(y, null);
  const values = (await released.array());
  y.dispose();
  released.dispose();
  return values;
}

test('modelguard-w through the defense: ‖ỹ − y‖₁ ≤ ε, top-1 kept, rows sum to 1, no tensor left behind', async () => {
  const K = 10;
  const rng = new Rng(3);
  const rows = Array.from({ length: 40 }, () => randomPosterior(rng, K));
  const f32 = rows.map((r) => Array.from(Float32Array.from(r)));
  for (const eps of [0.25, 1, 2]) {
    const defense = await defenseOf(parseDefenseSpec('modelguard-w', { eps }), K, modelguardW);
    const before = tf.memory().numTensors;
    const released = await releaseAll(defense, f32);
    assert.equal(tf.memory().numTensors, before);
    released.forEach((row, i) => {
      assert.ok(l1(row, f32[i]!) <= eps + 1e-5, `row ${i}: ‖ỹ − y‖₁ = ${l1(row, f32[i]!)} > ${eps}`);
      assert.equal(argmax(row), argmax(f32[i]!), `row ${i}: top-1 changed`);
      assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) <= 1e-5);
      assert.ok(row.every((v) => v >= 0 && v <= 1));
    });
    // It does move the answers: the cross-entropy against y grows.
    const ce = (a: number[], y: number[]): number => -a.reduce((s, v, k) => s + v * Math.log(y[k]! + 1e-6), 0);
    assert.ok(released.every((row, i) => ce(row, f32[i]!) >= ce(f32[i]!, f32[i]!) - 1e-6));
    assert.ok(released.some((row, i) => ce(row, f32[i]!) > ce(f32[i]!, f32[i]!) + 0.1));
    defense.dispose();
  }
  assert.equal(needsInstancePerConsumer(parseDefenseSpec('modelguard-w', {})), false, 'stateless and deterministic: one instance serves both consumers');
});

test('modelguard-s: the codebook answers the first centroid within ε in creation order, else adds y', () => {
  const book = new EpsCoverCodebook(3, 0.3);
  const a = Float32Array.from([0.7, 0.2, 0.1]);
  assert.equal(book.answer(a), book.answer(Float32Array.from([0.7, 0.2, 0.1])), 'a repeat gets the same vector');
  const b = Float32Array.from([0.5, 0.4, 0.1]); // ‖b − a‖₁ = 0.4 > 0.3: a new centroid
  assert.deepEqual(Array.from(book.answer(b)), Array.from(b));
  const c = Float32Array.from([0.6, 0.3, 0.1]); // within 0.2 of both: the first created (a) answers
  assert.deepEqual(Array.from(book.answer(c)), Array.from(a));
  const d = Float32Array.from([0.1, 0.2, 0.7]); // another class: its own list, even if close in L1 to none
  assert.deepEqual(Array.from(book.answer(d)), Array.from(d));
  assert.deepEqual(book.sizes(), [2, 0, 1]);
});

test('modelguard-s through the defense: only codebook vectors, ‖ỹ − y‖₁ ≤ ε, top-1 kept, fewer distinct answers; one codebook per consumer', async () => {
  const K = 10;
  const rng = new Rng(5);
  // Posteriors near a few prototypes, so the codebook has something to merge.
  const prototypes = Array.from({ length: 4 }, () => randomPosterior(rng, K));
  const rows = Array.from({ length: 200 }, (_, i) => {
    const p = prototypes[i % 4]!.map((v) => v + 0.02 * rng.next());
    const s = p.reduce((a, b) => a + b, 0);
    return Array.from(Float32Array.from(p.map((v) => v / s)));
  });
  const spec = parseDefenseSpec('modelguard-s', { eps: 0.5 });
  assert.equal(needsInstancePerConsumer(spec), true, 'stateful: the evaluation and the attacker each get a codebook');
  const defense = await defenseOf(spec, K, modelguardS);
  const first = await releaseAll(defense, rows.slice(0, 77));
  const released = [...first, ...(await releaseAll(defense, rows.slice(77)))];
  const seen: string[] = [];
  const emitted = new Set<string>();
  released.forEach((row, i) => {
    const y = rows[i]!;
    seen.push(y.join(','));
    const key = row.join(',');
    assert.ok(seen.includes(key), `row ${i}: the answer is not a past clean posterior`);
    emitted.add(key);
    assert.ok(l1(row, y) <= 0.5 + 1e-6, `row ${i}: ‖ỹ − y‖₁ = ${l1(row, y)}`);
    assert.equal(argmax(row), argmax(y));
  });
  assert.ok(emitted.size < 20, `few distinct answers: ${emitted.size}`);
  // A fresh instance on the same queries in the same order rebuilds the same codebook, whatever the batches.
  const again = await defenseOf(spec, K, modelguardS);
  assert.deepEqual(await releaseAll(again, rows), released);
  // ... while an instance that answered other queries first answers differently: the state matters.
  const warmed = await defenseOf(spec, K, modelguardS);
  await releaseAll(warmed, rows.slice(100).reverse());
  assert.notDeepEqual(await releaseAll(warmed, rows), released);
  // ε = 0: only exact repeats share an answer, so y comes back unchanged.
  const exact = await defenseOf(parseDefenseSpec('modelguard-s', { eps: 0 }), K, modelguardS);
  assert.deepEqual(await releaseAll(exact, rows), rows);
  for (const d of [defense, again, warmed, exact]) d.dispose();
});

test('modelguard-w/-s parameters: the shared --eps in [0, 2], default 1; other defenses\' flags refused', () => {
  for (const name of ['modelguard-w', 'modelguard-s']) {
    assert.deepEqual(parseDefenseSpec(name, {}), { name, eps: 1 });
    assert.throws(() => parseDefenseSpec(name, { eps: '2.5' }), (e: unknown) => e instanceof UsageError && /^--eps must be/.test(e.message));
    assert.throws(() => parseDefenseSpec(name, { beta: '0.5' }), (e: unknown) => e instanceof UsageError && e.message.startsWith(`--beta does not apply to defense '${name}'`));
  }
});

test('poison attack under modelguard-w and modelguard-s: result.json has no ball violation and no top-1 change; bad --eps is one stderr line', async () => {
  for (const name of ['modelguard-w', 'modelguard-s']) {
    const out = path.join(ws.root, name);
    const r = ws.poison(['attack', '--victim', ws.victim, '--attack', 'knockoff', '--queryset', 'mnist', '--queryset-split', 'test', '--budget', '30',
      '--defense', name, '--eps', '0.8', '--backend', 'wasm', '--test-limit', '60', '--epochs', '1', '--quiet', '--no-cache', '--out', out]);
    assert.equal(r.status, 0, r.stderr);
    const result = JSON.parse(await fs.readFile(path.join(out, 'result.json'), 'utf8')) as AttackResult;
    assert.equal(result.defense.name, name);
    assert.equal(result.defense.eps, 0.8);
    for (const stats of [result.defender.test, result.runs[0]!.queryDistortion]) {
      assert.equal(stats.epsBallViolations, 0);
      assert.equal(stats.top1Changed, 0);
      assert.equal(stats.simplexViolations, 0);
      assert.ok(stats.l1.mean > 0, 'the defense moved the answers');
    }
    assert.equal(result.defender.accuracyDefended, result.defender.accuracyUndefended, 'top-1 kept: the defender loses no accuracy');

    const bad = ws.poison(['attack', '--victim', ws.victim, '--attack', 'knockoff', '--queryset', 'mnist', '--budget', '30', '--defense', name, '--eps', '3', '--out', path.join(ws.root, `${name}-bad`)]);
    assert.equal(bad.status, 2, bad.stderr);
    assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
    assert.match(bad.stderr.trim(), /^poison: --eps must be/);
    assert.equal(existsSync(path.join(ws.root, `${name}-bad`)), false);
  }
});
