/**
 * The S4L attacker (src/adaptations/s4l.ts): rot90 turns images exactly as specified, the rotation
 * term reaches the attacker's training through the generic attackerTraining hook (weight 0 trains
 * the naive attacker bit for bit, weight 1 another one), an epoch ends with the shorter source,
 * the head is disposed, the same seed gives the same attacker; as a user runs it (result.json,
 * bad input as one line, the sweep config refusing a Jacobian attack).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../src/engine/backend.js';
import { rot90, s4l } from '../src/adaptations/s4l.js';
import { runAttack } from '../src/attack-run/run.js';
import type { AttackSpec } from '../src/attack-run/spec.js';
import { buildAttacker } from '../src/attack-run/train-attacker.js';
import type { ImageSet, InputSpec } from '../src/data/types.js';
import { parseSweepConfig } from '../src/sweep/config/parse-config.js';
import { trainClassifier, type BatchSource } from '../src/train/loop.js';
import { Rng } from '../src/util/rng.js';
import { smallAttackSpec } from './helpers/attack-spec.js';
import { useVictimWorkspace } from './helpers/victim-workspace.js';

const ws = useVictimWorkspace('poison-s4l-');

const INPUT: InputSpec = { height: 28, width: 28, channels: 1, mean: [0.1307], std: [0.3081] };

test('rot90 turns counter-clockwise in (H, W), channel by channel; four turns are the identity', async () => {
  await initEngine({ backend: 'wasm' });
  // One 3×3 image with two channels (the second is the first + 10): no symmetry to hide a wrong turn.
  const values = Array.from({ length: 9 }, (_, p) => [p + 1, p + 11]).flat();
  const x = tf.tensor4d(values, [1, 3, 3, 2]);
  const turned = async (k: number): Promise<number[][]> => {
    const r = rot90(x, k);
    const data = Array.from(await r.data());
    r.dispose();
    return [0, 1].map((c) => data.filter((_, i) => i % 2 === c));
  };
  const before = tf.memory().numTensors;
  // numpy.rot90([[1,2,3],[4,5,6],[7,8,9]], k) for k = 1, 2, 3.
  assert.deepEqual((await turned(1))[0], [3, 6, 9, 2, 5, 8, 1, 4, 7]);
  assert.deepEqual((await turned(2))[0], [9, 8, 7, 6, 5, 4, 3, 2, 1]);
  assert.deepEqual((await turned(3))[0], [7, 4, 1, 8, 5, 2, 9, 6, 3]);
  assert.deepEqual((await turned(1))[1], [13, 16, 19, 12, 15, 18, 11, 14, 17], 'each channel turns alike');
  assert.deepEqual((await turned(4))[0], [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual((await turned(0))[1], [11, 12, 13, 14, 15, 16, 17, 18, 19]);
  const twice = tf.tidy(() => rot90(rot90(x, 1), 3));
  assert.deepEqual(Array.from(await twice.data()), values);
  twice.dispose();
  assert.equal(tf.memory().numTensors, before, 'rot90 leaves no tensor behind');
  x.dispose();
});

/** `count` seeded random 28×28 grayscale images. */
function randomPool(count: number, seed: number): ImageSet {
  const rng = new Rng(seed);
  return {
    dataset: 'mnist', split: 'train', count, height: 28, width: 28, channels: 1, numClasses: 10, source: 'test',
    pixels: Uint8Array.from({ length: count * 784 }, () => rng.int(256)), labels: new Int32Array(count),
  };
}

test('an epoch ends when the unlabelled pool does, and the head is disposed', async () => {
  await initEngine({ backend: 'wasm' });
  const before = tf.memory().numTensors;
  const data: BatchSource = {
    count: 64,
    batch: (indices) => ({
      x: tf.randomUniform([indices.length, 28, 28, 1], 0, 1, 'float32', 3),
      y: tf.tidy(() => tf.oneHot(tf.tensor1d(Array.from(indices, (i) => i % 10), 'int32'), 10).toFloat() as tf.Tensor2D),
    }),
  };
  const training = { epochs: 2, lr: 0.1, momentum: 0.5, batchSize: 16, lrStep: 50, weightDecay: 1e-4 };
  const model = buildAttacker('lenet', INPUT, 10, new Rng(2));
  // 64 labelled rows are 4 batches of 16; 20 pool images are 2 (the last of 4).
  const extension = await s4l.attackerTraining!({ settings: { rotationWeight: 1 }, rng: new Rng(3), model, input: INPUT, numClasses: 10, pool: randomPool(20, 2), training });
  const batches: number[] = [];
  const reports = await trainClassifier(model, data, training, new Rng(4), { onBatchEnd: (r) => batches.push(r.batches) }, { extension });
  assert.deepEqual(batches, [2, 2, 2, 2], 'two steps in each of the two epochs');
  assert.ok(reports.every((r) => Number.isFinite(r.loss) && r.loss > 0));
  assert.equal(extension.variables.length, 2);
  assert.deepEqual(extension.variables.map((v) => v.shape), [[500, 4], [4]], 'Linear(500 → 4) on LeNet\'s penultimate features');
  extension.dispose();
  model.dispose();
  assert.equal(tf.memory().numTensors, before);
});

/** The small request with 40 queries (weightsOf reads budget-40), scored on 100 test images, no cache. */
const spec = (overrides: Partial<AttackSpec> = {}): AttackSpec =>
  smallAttackSpec(ws, { budgets: [40], seed: 5, testLimit: 100, ...overrides });

const weightsOf = (out: string): Promise<Buffer> => fs.readFile(path.join(out, 'budget-40', 'weights.bin'));

test('the rotation term trains the attacker: weight 0 is the naive attacker bit for bit, weight 1 another; same seed, same attacker; no leaked tensors', async () => {
  const naive = spec();
  await runAttack(naive);
  const zero = spec({ adapt: { name: 's4l', settings: { rotationWeight: 0 } } });
  await runAttack(zero);
  const one = spec({ adapt: { name: 's4l', settings: { rotationWeight: 1 } } });
  const result = await runAttack(one);
  assert.deepEqual(await weightsOf(zero.out), await weightsOf(naive.out), 'w = 0 adds nothing to the classifier\'s gradients');
  assert.notDeepEqual(await weightsOf(one.out), await weightsOf(naive.out), 'w = 1: the rotation loss moved the shared features');
  assert.deepEqual(result.adaptation, { name: 's4l', settings: { rotationWeight: 1 } });
  assert.equal(result.attackerKnows, 'nothing');
  assert.deepEqual(result.runs.map((r) => [r.queries, r.images]), [[40, 40]], 'one query per image');
  // The saved attacker is the classifier alone: LeNet's four layers' eight weights, no head.
  const modelJson = JSON.parse(await fs.readFile(path.join(one.out, 'budget-40', 'model.json'), 'utf8')) as { weightsManifest: { weights: unknown[] }[] };
  assert.equal(modelJson.weightsManifest.flatMap((g) => g.weights).length, 8);

  const before = tf.memory().numTensors;
  const again = spec({ adapt: { name: 's4l', settings: { rotationWeight: 1 } } });
  const second = await runAttack(again);
  assert.equal(tf.memory().numTensors, before, 'a second run leaves no tensor behind (the head is disposed)');
  assert.deepEqual(await weightsOf(again.out), await weightsOf(one.out), 'the same seed trains the same attacker');
  assert.deepEqual(second.runs[0]!.attacker.epochs.map((e) => e.loss), result.runs[0]!.attacker.epochs.map((e) => e.loss));
});

test('poison attack --adapt s4l writes result.json with the adaptation and attackerKnows nothing', async () => {
  const out = path.join(ws.root, 'cli');
  const r = ws.poison(['attack', '--victim', ws.victim, '--attack', 'knockoff', '--queryset', 'mnist', '--queryset-split', 'test', '--budget', '30',
    '--adapt', 's4l', '--rotation-weight', '0.5', '--backend', 'wasm', '--test-limit', '100', '--epochs', '1', '--quiet', '--out', out]);
  assert.equal(r.status, 0, r.stderr);
  const result = JSON.parse(await fs.readFile(path.join(out, 'result.json'), 'utf8')) as { adaptation: unknown; attackerKnows: unknown; runs: { queries: number; images: number }[] };
  assert.deepEqual(result.adaptation, { name: 's4l', settings: { rotationWeight: 0.5 } });
  assert.equal(result.attackerKnows, 'nothing');
  assert.deepEqual(result.runs.map((run) => [run.queries, run.images]), [[30, 30]]);
  assert.match(r.stdout, /knockoff \+ s4l B=30/);
});

test('bad --adapt s4l input: one line on stderr, exit 2, nothing written', async () => {
  // All refused before the victim is read: no victim needed.
  const base = ['attack', '--victim', path.join(ws.root, 'no-victim'), '--budget', '30', '--backend', 'wasm', '--quiet'];
  const cases: [string[], RegExp][] = [
    [['--attack', 'jbda', '--adapt', 's4l'], /^poison: --adapt s4l needs an attack whose queries come from a query pool \(knockoff, knockoff-adaptive\); jbda's come from a seed set$/],
    [['--attack', 'jbtr', '--adapt', 's4l'], /^poison: --adapt s4l needs an attack whose queries come from a query pool .*; jbtr's come from a seed set$/],
    [['--queryset', 'mnist', '--adapt', 's4l', '--rotation-weight', '-1'], /^poison: --rotation-weight must be/],
    [['--queryset', 'mnist', '--adapt', 's4l', '--rotation-weight', 'abc'], /^poison: --rotation-weight must be/],
    [['--rotation-weight', '1'], /^poison: --rotation-weight needs --adapt s4l$/],
    [['--adapt', 'smoothing', '--rotation-weight', '1'], /^poison: --rotation-weight does not apply to adaptation smoothing/],
  ];
  for (const [i, [extra, expected]] of cases.entries()) {
    const out = path.join(ws.root, `bad-${i}`);
    const r = ws.poison([...base, ...extra, '--out', out]);
    assert.equal(r.status, 2, `${extra.join(' ')}: ${r.stderr}`);
    assert.equal(r.errLines.length, 1, r.stderr);
    assert.match(r.errLines[0]!, expected);
    await assert.rejects(fs.access(out));
  }
  // The library refuses it too (a sweep cell, a script), before anything loads.
  await assert.rejects(runAttack(spec({ attack: 'jbda', adapt: { name: 's4l', settings: { rotationWeight: 1 } } })), /--adapt s4l needs an attack whose queries come from a query pool/);
});

test('a sweep config refuses s4l on a Jacobian attack, naming where', () => {
  const text = `
victim: {dir: ${JSON.stringify(ws.victim)}}
attacks:
  - {name: knockoff, queryset: mnist, adapt: s4l}
  - {name: jbda, adapt: {name: s4l, rotationWeight: 2}}
defenses: {none: {}}
budgets: [100]
seeds: [1]
`;
  assert.throws(() => parseSweepConfig(text, 'bad.yaml'), (err: Error) => {
    assert.match(err.message, /attacks\[1\]\.adapt/);
    assert.match(err.message, /s4l needs an attack whose queries come from a query pool/);
    assert.doesNotMatch(err.message, /attacks\[0\]/, 'knockoff takes it');
    return true;
  });
  const ok = parseSweepConfig(text.replace('name: jbda, adapt: {name: s4l, rotationWeight: 2}', 'name: jbda'), 'ok.yaml');
  assert.equal(ok.attacks[0]!.params.adapt, 's4l');
  assert.equal(ok.attacks[0]!.params.rotationWeight, 1, 'the default weight');
});
