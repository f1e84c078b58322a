import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../src/engine/backend.js';
import { trainVictim, TRAIN_LOG_FILE, type TrainVictimSpec } from '../src/train/victim.js';
import { loadSavedModel } from '../src/models/io.js';
import { MODEL_FILE, PARAMS_FILE, WEIGHTS_FILE } from '../src/models/files.js';
import { loadImageSet } from '../src/data/index.js';
import { toModelInput } from '../src/data/convert.js';
import { runCli, REPO_ROOT } from './helpers/cli.js';
import { installedVersion } from '../src/util/package-info.js';
import { buildModel } from '../src/models/registry.js';
import { Rng } from '../src/util/rng.js';

const tmpRoot = await fs.mkdtemp(path.join(os.tmpdir(), 'poison-train-'));

function spec(out: string, overrides: Partial<TrainVictimSpec> = {}): TrainVictimSpec {
  return {
    dataset: 'mnist', arch: 'lenet', epochs: 1, lr: 0.1, momentum: 0.5, batchSize: 64, lrStep: 50,
    weightDecay: 0, seed: 3, limit: 256, out, force: false, backend: 'wasm', quiet: true, ...overrides,
  };
}

/**
 * Two independent trainings with one seed (folders a and b), done once for whichever test asks
 * first, so each test finds them whatever order the tests run in.
 */
let sameSeedPair: Promise<{ a: string; b: string }> | undefined;
function trainSameSeedPair(): Promise<{ a: string; b: string }> {
  sameSeedPair ??= (async () => {
    await initEngine({ backend: 'wasm' });
    const a = path.join(tmpRoot, 'a');
    const b = path.join(tmpRoot, 'b');
    await trainVictim(spec(a));
    await trainVictim(spec(b));
    return { a, b };
  })();
  return sameSeedPair;
}

test('the same seed and backend give identical weights; another seed does not', async () => {
  const { a, b } = await trainSameSeedPair();
  const c = path.join(tmpRoot, 'c');
  await trainVictim(spec(c, { seed: 4 }));
  const wa = await fs.readFile(path.join(a, WEIGHTS_FILE));
  const wb = await fs.readFile(path.join(b, WEIGHTS_FILE));
  const wc = await fs.readFile(path.join(c, WEIGHTS_FILE));
  assert.ok(wa.equals(wb), 'same seed gave different weights');
  assert.ok(!wa.equals(wc), 'different seeds gave the same weights');
  const files = (await fs.readdir(a)).sort();
  assert.deepEqual(files, [MODEL_FILE, PARAMS_FILE, TRAIN_LOG_FILE, WEIGHTS_FILE].sort());
  const log = (await fs.readFile(path.join(a, TRAIN_LOG_FILE), 'utf8')).trim().split('\n');
  assert.equal(log[0], 'epoch,loss,train_acc,test_acc,seconds,lr');
  assert.equal(log.length, 2);
  const params = JSON.parse(await fs.readFile(path.join(a, PARAMS_FILE), 'utf8')) as Record<string, unknown>;
  assert.equal(params.seed, 3);
  assert.equal(params.arch, 'lenet');
  assert.ok((params.provenance as { engine: { backend: string } }).engine.backend === 'wasm');
  // Nothing but the finished directories is left in the parent (no temp dirs).
  assert.deepEqual((await fs.readdir(tmpRoot)).filter((f) => f.startsWith('.')), []);
});

test('two trainings with one seed, each saved and loaded, give bit-identical predictions', async () => {
  const { a, b } = await trainSameSeedPair();
  await initEngine({ backend: 'wasm' });
  const { model, params } = await loadSavedModel(a);
  const test = await loadImageSet('mnist', 'test', { limit: 64 });
  const x = toModelInput(test, { start: 0, end: 64 }, params.input);
  const loaded = (model.predict(x) as tf.Tensor).dataSync();
  const again = await loadSavedModel(b);
  const second = (again.model.predict(x) as tf.Tensor).dataSync();
  assert.deepEqual(Array.from(loaded), Array.from(second));
  // And the saved weights are the trained ones: accuracy well above chance (0.1) after one epoch
  // of 4 steps (34% with this seed's streams), where the initial weights of the same seed are at chance.
  const accuracy = (m: tf.LayersModel): number =>
    tf.tidy(() => tf.mean(tf.cast(tf.equal(tf.argMax(m.predict(x) as tf.Tensor, 1), tf.tensor1d(test.labels.subarray(0, 64), 'int32')), 'float32')).dataSync()[0]!);
  const acc = accuracy(model);
  const untrained = buildModel('lenet', { inputShape: [28, 28, 1], numClasses: 10, rng: new Rng(3) });
  const initial = accuracy(untrained);
  untrained.dispose();
  assert.ok(acc > 0.25 && acc > initial + 0.15, `accuracy after loading ${acc}, of the untrained network ${initial}`);
  x.dispose();
  model.dispose();
  again.model.dispose();
});

test('a second training run leaves the tensor count unchanged', async () => {
  await initEngine({ backend: 'wasm' });
  await trainVictim(spec(path.join(tmpRoot, 'm1'), { limit: 64 }));
  const before = tf.memory().numTensors;
  await trainVictim(spec(path.join(tmpRoot, 'm2'), { limit: 64 }));
  assert.equal(tf.memory().numTensors, before);
});

test('poison --help and train --help never load TensorFlow.js', () => {
  const preload = path.join(REPO_ROOT, 'test', 'helpers', 'no-tfjs.cjs');
  for (const args of [['--help'], ['train', '--help'], ['--version']]) {
    const r = runCli(args, { nodeArgs: ['--require', preload] });
    assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
    assert.ok(r.stdout.length > 0);
  }
});

test('bad input to poison train: one line on stderr, the right exit code, nothing written', async () => {
  const out = path.join(tmpRoot, 'bad');
  const occupied = path.join(tmpRoot, 'occupied');
  await fs.mkdir(occupied);
  await fs.writeFile(path.join(occupied, 'result.json'), '{}');
  const aFile = path.join(tmpRoot, 'a-file');
  await fs.writeFile(aFile, 'x');
  const emptyData = path.join(tmpRoot, 'empty-data');
  await fs.mkdir(emptyData);
  const cases: { args: string[]; code: number; mentions: RegExp }[] = [
    { args: ['--dataset', 'mnsit'], code: 2, mentions: /--dataset.*mnsit.*mnist/ },
    { args: ['--arch', 'resnet'], code: 2, mentions: /--arch.*resnet/ },
    { args: ['--backend', 'cuda'], code: 2, mentions: /--backend.*cuda/ },
    { args: ['--epochs', 'two'], code: 2, mentions: /--epochs.*number/ },
    { args: ['--epochs', '0'], code: 2, mentions: /--epochs/ },
    { args: ['--lr', '-1'], code: 2, mentions: /--lr/ },
    { args: ['--batch-size', '1.5'], code: 2, mentions: /--batch-size.*whole/ },
    { args: ['--limit', 'x'], code: 2, mentions: /--limit/ },
    { args: ['--out', occupied], code: 2, mentions: /already holds.*--force/ },
    { args: ['--out', path.join(aFile, 'sub')], code: 1, mentions: /cannot be written/ },
    { args: ['--dataset', 'cifar10', '--arch', 'cnn-small', '--data-dir', emptyData], code: 1, mentions: /poison data fetch cifar10/ },
  ];
  if (installedVersion('@tensorflow/tfjs-node') === null) {
    cases.push({ args: ['--backend', 'tensorflow'], code: 1, mentions: /backend 'tensorflow' cannot load/ });
  }
  for (const c of cases) {
    const args = ['train', '--limit', '64', '--epochs', '1', '--quiet', '--out', out, ...c.args];
    const r = runCli(args);
    assert.equal(r.status, c.code, `${c.args.join(' ')}: exit ${r.status}, stderr: ${r.stderr}`);
    assert.equal(r.errLines.length, 1, `${c.args.join(' ')}: expected one stderr line, got: ${r.stderr}`);
    assert.match(r.errLines[0]!, c.mentions, c.args.join(' '));
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'stack trace printed');
  }
  await assert.rejects(fs.access(out), 'a failed run left an output directory');
  assert.deepEqual(await fs.readdir(occupied), ['result.json']);
});
