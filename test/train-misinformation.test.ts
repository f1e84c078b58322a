/**
 * The misinformation model f̂ of adaptive misinformation: its loss, its training (seeded, atomic,
 * a normal model directory beside the victim), `poison train --misinformation`, and the
 * defense's prepare() that trains it on first use and finds it afterwards.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../src/engine/backend.js';
import { trainVictim } from '../src/train/victim.js';
import { misinformationDefaults, misinformationLoss, trainMisinformation } from '../src/train/misinformation.js';
import { misinformationDirOf } from '../src/train/artifacts.js';
import { readParams } from '../src/models/io.js';
import { MODEL_FILE, PARAMS_FILE, WEIGHTS_FILE } from '../src/models/files.js';
import { adaptiveMisinformation } from '../src/defenses/adaptive-misinformation.js';
import { runCli } from './helpers/cli.js';

let root: string;
let victim: string;

before(async () => {
  await initEngine({ backend: 'wasm' });
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'poison-misinformation-'));
  victim = path.join(root, 'victim');
  await trainVictim({
    dataset: 'mnist', arch: 'lenet', epochs: 1, lr: 0.1, momentum: 0.5, batchSize: 64, lrStep: 50, weightDecay: 0,
    seed: 5, out: victim, force: false, limit: 512, backend: 'wasm', quiet: true,
  });
});

after(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

test('the loss is −mean log(1 − ŷ_c + 1e-7): worked by hand', () => {
  // logits [0, ln 3] → ŷ = [1/4, 3/4]; true class 1: −log(1/4 + 1e-7); true class 0: −log(3/4 + 1e-7).
  const loss = tf.tidy(() => misinformationLoss(tf.tensor2d([[0, Math.log(3)], [0, Math.log(3)]]), tf.tensor2d([[0, 1], [1, 0]])).dataSync()[0]!);
  const want = -(Math.log(0.25 + 1e-7) + Math.log(0.75 + 1e-7)) / 2;
  assert.ok(Math.abs(loss - want) < 1e-6, `${loss} vs ${want}`);
  // A certain, correct model pays log(1e-7) ≈ 16.1, not infinity.
  const certain = tf.tidy(() => misinformationLoss(tf.tensor2d([[0, 200]]), tf.tensor2d([[0, 1]])).dataSync()[0]!);
  assert.ok(Math.abs(certain + Math.log(1e-7)) < 1e-3, String(certain));
});

test('f̂ trained on the victim\'s data is right less often than chance (< 1/K), seeded and saved like a victim', async () => {
  const victimParams = await readParams(victim);
  const defaults = misinformationDefaults(victimParams);
  // The victim's own epochs, batch size and data size, with G2's optimiser.
  assert.deepEqual(defaults, { settings: { epochs: 1, batchSize: 64, lr: 0.1, momentum: 0.9, weightDecay: 5e-4, lrStep: 1 }, limit: 512 });
  const a = path.join(root, 'fhat-a');
  const b = path.join(root, 'fhat-b');
  const settings = { ...defaults.settings, epochs: 2 };
  const before = tf.memory().numTensors;
  const ra = await trainMisinformation({ victimDir: victim, out: a, force: false, seed: 7, settings, limit: 512 });
  assert.equal(tf.memory().numTensors, before, 'training leaked tensors');
  await trainMisinformation({ victimDir: victim, out: b, force: false, seed: 7, settings, limit: 512 });
  assert.ok(ra.testAccuracy < 1 / 10, `f̂ test accuracy ${ra.testAccuracy} is not below 1/K`);
  assert.ok((await fs.readFile(path.join(a, WEIGHTS_FILE))).equals(await fs.readFile(path.join(b, WEIGHTS_FILE))), 'same seed, different weights');
  const params = await readParams(a);
  assert.equal(params.kind, 'misinformation');
  assert.equal(params.arch, 'lenet');
  assert.equal(params.numClasses, 10);
  assert.equal((params.metrics as { testAccuracy: number }).testAccuracy, ra.testAccuracy);
  assert.ok(params.provenance, 'no provenance');
  assert.deepEqual((await fs.readdir(root)).filter((f) => f.startsWith('.')), [], 'temporary folders left behind');
});

test('poison train --misinformation writes f̂ inside the victim; prepare() then finds it; bad flags are one line', async () => {
  const r = runCli(['train', '--misinformation', victim, '--epochs', '1', '--limit', '128', '--backend', 'wasm', '--quiet']);
  assert.equal(r.status, 0, r.stderr);
  const dir = misinformationDirOf(victim);
  assert.match(r.stdout, /misinformation model, test accuracy/);
  for (const f of [MODEL_FILE, PARAMS_FILE, WEIGHTS_FILE]) await fs.access(path.join(dir, f));
  const params = await readParams(dir);
  assert.equal(params.seed, 5, "the victim's seed by default");
  const written = (await fs.stat(path.join(dir, WEIGHTS_FILE))).mtimeMs;
  // prepare() is idempotent: the model is there, nothing is retrained.
  const spec = { name: 'adaptive-misinformation', tau: 0.5, nu: 1000, misinformation: null };
  await adaptiveMisinformation.prepare!(spec, { victimDir: victim, seed: 1 });
  assert.equal((await fs.stat(path.join(dir, WEIGHTS_FILE))).mtimeMs, written);

  for (const [args, message] of [
    [['--lr-step', '3'], /^poison: --lr-step does not apply with --misinformation/],
    [['--arch', 'cnn-small'], /^poison: --arch does not apply with --misinformation/],
  ] as const) {
    const bad = runCli(['train', '--misinformation', victim, '--out', path.join(root, 'never'), ...args, '--quiet']);
    assert.equal(bad.status, 2, bad.stderr);
    assert.equal(bad.errLines.length, 1, bad.stderr);
    assert.match(bad.errLines[0]!, message);
  }
  const missing = runCli(['train', '--misinformation', path.join(root, 'no-such-victim'), '--quiet']);
  assert.equal(missing.status, 2, missing.stderr);
  assert.equal(missing.errLines.length, 1, missing.stderr);
});

test('prepare() trains f̂ beside a victim that has none, then create() uses it', async () => {
  const other = path.join(root, 'victim2');
  await trainVictim({
    dataset: 'mnist', arch: 'lenet', epochs: 1, lr: 0.1, momentum: 0.5, batchSize: 64, lrStep: 50, weightDecay: 0,
    seed: 6, out: other, force: false, limit: 128, backend: 'wasm', quiet: true,
  });
  const lines: string[] = [];
  const spec = { name: 'adaptive-misinformation', tau: 1, nu: 1000, misinformation: null };
  await adaptiveMisinformation.prepare!(spec, { victimDir: other, seed: 2, reporter: { line: (t) => lines.push(t) } });
  const params = await readParams(misinformationDirOf(other));
  assert.equal(params.kind, 'misinformation');
  assert.equal(params.seed, 6);
  assert.ok(lines.some((l) => /training the misinformation model/.test(l)), lines.join('\n'));
  const defense = await adaptiveMisinformation.create(spec, { numClasses: 10, inputShape: [28, 28, 1], arch: 'lenet', seed: 2, victimDir: other });
  try {
    assert.match(defense.sideInfoKey ?? '', /^misinformation-posterior:/);
  } finally {
    defense.dispose();
  }
});
