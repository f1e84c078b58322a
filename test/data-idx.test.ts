import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { RuntimeFailure } from '../src/errors.js';
import { loadImageSet } from '../src/data/index.js';
import { emptyLocations, idxImages, idxLabels, patternPixels, tempDir, zipArchive } from './fixtures/data-builders.js';

const MNIST_FILES = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];

/** Write an MNIST-format folder: 3 train and 2 test images, raw or gzipped. */
function writeMnistFolder(dir: string, gz: boolean): { train: Uint8Array; test: Uint8Array } {
  const train = patternPixels(3);
  const test = patternPixels(2).map((v) => 255 - v);
  const bodies = [idxImages(train, 3, 28, 28), idxLabels([5, 0, 9]), idxImages(test, 2, 28, 28), idxLabels([7, 2])];
  MNIST_FILES.forEach((f, i) => {
    writeFileSync(path.join(dir, gz ? f + '.gz' : f), gz ? zlib.gzipSync(bodies[i]!) : bodies[i]!);
  });
  return { train, test };
}

for (const gz of [false, true]) {
  test(`IDX reader reads ${gz ? 'gzipped' : 'raw'} MNIST files with their labels`, async () => {
    const { dir, cleanup } = tempDir('idx');
    try {
      const { train, test: testPixels } = writeMnistFolder(dir, gz);
      const set = await loadImageSet('mnist', 'train', { dataDir: dir });
      assert.equal(set.count, 3);
      assert.deepEqual([set.height, set.width, set.channels, set.numClasses], [28, 28, 1, 10]);
      assert.deepEqual(set.pixels, train);
      assert.deepEqual(set.labels, Int32Array.from([5, 0, 9]));
      assert.ok(set.source.includes(dir));

      const all = await loadImageSet('mnist', 'all', { dataDir: dir });
      assert.equal(all.count, 5);
      assert.deepEqual(all.labels, Int32Array.from([5, 0, 9, 7, 2]));
      assert.deepEqual(all.pixels.subarray(3 * 784), testPixels);

      const limited = await loadImageSet('mnist', 'all', { dataDir: dir, limit: 4 });
      assert.deepEqual(limited.labels, Int32Array.from([5, 0, 9, 7]));
      assert.equal(limited.pixels.length, 4 * 784);
    } finally {
      cleanup();
    }
  });
}

/** Load from a folder with one file replaced, expecting a RuntimeFailure naming that file. */
async function expectCorrupt(replace: string, body: Buffer, problem: RegExp): Promise<void> {
  const { dir, cleanup } = tempDir('idx-bad');
  try {
    writeMnistFolder(dir, false);
    const file = path.join(dir, replace);
    writeFileSync(file, body);
    await assert.rejects(loadImageSet('mnist', 'train', { dataDir: dir }), (err: unknown) => {
      assert.ok(err instanceof RuntimeFailure, `expected RuntimeFailure, got ${String(err)}`);
      assert.ok(err.message.includes(file), `message should name ${file}: ${err.message}`);
      assert.match(err.message, problem);
      assert.ok(!err.message.includes('\n'), 'one line');
      return true;
    });
  } finally {
    cleanup();
  }
}

test('IDX corruption: bad magic number names the file', async () => {
  const body = idxImages(patternPixels(3), 3, 28, 28);
  body.writeUInt32BE(0x00000801, 0);
  await expectCorrupt('train-images-idx3-ubyte', body, /bad magic number 0x00000801/);
});

test('IDX corruption: truncated data names the file', async () => {
  const body = idxImages(patternPixels(3), 3, 28, 28);
  await expectCorrupt('train-images-idx3-ubyte', body.subarray(0, body.length - 100), /wrong length.*truncated/);
});

test('IDX corruption: truncated header names the file', async () => {
  await expectCorrupt('train-labels-idx1-ubyte', idxLabels([1, 2, 3]).subarray(0, 6), /truncated/);
});

test('IDX corruption: bad gzip data names the file', async () => {
  const { dir, cleanup } = tempDir('idx-gz');
  try {
    writeMnistFolder(dir, true);
    const file = path.join(dir, 'train-images-idx3-ubyte.gz');
    const gz = zlib.gzipSync(idxImages(patternPixels(3), 3, 28, 28));
    writeFileSync(file, gz.subarray(0, gz.length - 40)); // cut short
    await assert.rejects(loadImageSet('mnist', 'train', { dataDir: dir }), (err: unknown) => {
      assert.ok(err instanceof RuntimeFailure);
      assert.ok(err.message.includes(file), err.message);
      assert.match(err.message, /bad gzip data/);
      return true;
    });
    const garbage = Buffer.from(gz);
    garbage.fill(0x55, 10, 60); // gzip magic intact, deflate data destroyed
    writeFileSync(file, garbage);
    await assert.rejects(loadImageSet('mnist', 'train', { dataDir: dir }), /train-images-idx3-ubyte\.gz: bad gzip data/);
  } finally {
    cleanup();
  }
});

test('IDX corruption: label/image count mismatch names both files', async () => {
  const { dir, cleanup } = tempDir('idx-count');
  try {
    writeMnistFolder(dir, false);
    writeFileSync(path.join(dir, 'train-labels-idx1-ubyte'), idxLabels([5, 0]));
    await assert.rejects(loadImageSet('mnist', 'train', { dataDir: dir }), (err: unknown) => {
      assert.ok(err instanceof RuntimeFailure);
      assert.ok(err.message.includes(path.join(dir, 'train-labels-idx1-ubyte')), err.message);
      assert.ok(err.message.includes(path.join(dir, 'train-images-idx3-ubyte')), err.message);
      assert.match(err.message, /count mismatch: it holds 2 labels but .* holds 3 images/);
      return true;
    });
  } finally {
    cleanup();
  }
});

test('IDX corruption: a label outside the classes names the file', async () => {
  await expectCorrupt('train-labels-idx1-ubyte', idxLabels([5, 10, 9]), /label 10 at index 1 is outside 0\.\.9/);
});

test('IDX: images of the wrong size for the dataset are refused', async () => {
  await expectCorrupt('train-images-idx3-ubyte', idxImages(patternPixels(3, 32, 32), 3, 32, 32), /32×32, this dataset's are 28×28/);
});

const EMNIST = {
  trainImages: 'emnist-letters-train-images-idx3-ubyte',
  trainLabels: 'emnist-letters-train-labels-idx1-ubyte',
  testImages: 'emnist-letters-test-images-idx3-ubyte',
  testLabels: 'emnist-letters-test-labels-idx1-ubyte',
};

/** Two EMNIST images as stored (transposed): a bright pixel at stored (row 0, col 5) and (row 3, col 20). */
function emnistStored(): Uint8Array {
  const stored = new Uint8Array(2 * 784);
  stored[0 * 28 + 5] = 200;
  stored[784 + 3 * 28 + 20] = 99;
  return stored;
}

function assertUpright(pixels: Uint8Array): void {
  // Transposed back: (row 5, col 0) and (row 20, col 3); nothing left at the stored positions.
  assert.equal(pixels[5 * 28 + 0], 200);
  assert.equal(pixels[0 * 28 + 5], 0);
  assert.equal(pixels[784 + 20 * 28 + 3], 99);
  assert.equal(pixels[784 + 3 * 28 + 20], 0);
}

test('EMNIST letters: images are transposed upright and labels 1..26 become 0..25', async () => {
  const { dir, cleanup } = tempDir('emnist');
  try {
    writeFileSync(path.join(dir, EMNIST.trainImages + '.gz'), zlib.gzipSync(idxImages(emnistStored(), 2, 28, 28)));
    writeFileSync(path.join(dir, EMNIST.trainLabels + '.gz'), zlib.gzipSync(idxLabels([1, 26])));
    const set = await loadImageSet('emnist-letters', 'train', { dataDir: dir });
    assert.equal(set.numClasses, 26);
    assert.deepEqual(set.labels, Int32Array.from([0, 25]));
    assertUpright(set.pixels);
    // Only train files are there: test is missing, and the message says which files.
    await assert.rejects(loadImageSet('emnist-letters', 'test', { dataDir: dir }), (err: unknown) => {
      assert.ok(err instanceof RuntimeFailure);
      assert.match(err.message, /emnist-letters-test-images-idx3-ubyte/);
      assert.match(err.message, /poison data fetch emnist-letters/);
      return true;
    });
  } finally {
    cleanup();
  }
});

test('EMNIST letters: label 0 (not a letter) is refused', async () => {
  const { dir, cleanup } = tempDir('emnist-bad');
  try {
    writeFileSync(path.join(dir, EMNIST.trainImages), idxImages(emnistStored(), 2, 28, 28));
    const labels = path.join(dir, EMNIST.trainLabels);
    writeFileSync(labels, idxLabels([0, 3]));
    await assert.rejects(loadImageSet('emnist-letters', 'train', { dataDir: dir }), (err: unknown) => {
      assert.ok(err instanceof RuntimeFailure && err.message.includes(labels) && /outside 1\.\.26/.test(err.message), String(err));
      return true;
    });
  } finally {
    cleanup();
  }
});

test('EMNIST letters read straight from the official gzip.zip layout', async () => {
  const { dir, cleanup } = tempDir('emnist-zip');
  try {
    const member = (name: string, body: Buffer, method: 0 | 8) => ({ name: `gzip/${name}.gz`, data: zlib.gzipSync(body), method });
    const zip = zipArchive([
      member('emnist-balanced-train-labels-idx1-ubyte', idxLabels([1]), 8),
      member(EMNIST.trainImages, idxImages(emnistStored(), 2, 28, 28), 8),
      member(EMNIST.trainLabels, idxLabels([2, 3]), 0),
      member(EMNIST.testImages, idxImages(new Uint8Array(784), 1, 28, 28), 8),
      member(EMNIST.testLabels, idxLabels([26]), 8),
    ]);
    writeFileSync(path.join(dir, 'gzip.zip'), zip);
    const set = await loadImageSet('emnist-letters', 'all', { dataDir: dir });
    assert.equal(set.count, 3);
    assert.deepEqual(set.labels, Int32Array.from([1, 2, 25]));
    assertUpright(set.pixels);
    assert.ok(set.source.includes(dir));

    // A damaged member is caught by its CRC and named.
    const damaged = Buffer.from(zip);
    const at = damaged.indexOf(Buffer.from(`gzip/${EMNIST.trainLabels}.gz`)) + `gzip/${EMNIST.trainLabels}.gz`.length + 12;
    damaged[at] = damaged[at]! ^ 0xff;
    writeFileSync(path.join(dir, 'gzip.zip'), damaged);
    await assert.rejects(loadImageSet('emnist-letters', 'train', { dataDir: dir }), (err: unknown) => {
      assert.ok(err instanceof RuntimeFailure, String(err));
      assert.ok(err.message.includes(path.join(dir, 'gzip.zip')), err.message);
      assert.match(err.message, /CRC-32/);
      return true;
    });
  } finally {
    cleanup();
  }
});

test('an explicit empty data folder is not silently replaced by another source', async () => {
  const { dir, cleanup } = tempDir('idx-empty');
  try {
    await assert.rejects(loadImageSet('mnist', 'train', { dataDir: dir, locations: emptyLocations(dir) }), (err: unknown) => {
      assert.ok(err instanceof RuntimeFailure);
      assert.match(err.message, /mnist not found in .*train-images-idx3-ubyte\(\.gz\)/);
      assert.ok(err.message.includes(`poison data fetch mnist --dir ${dir}`), err.message);
      return true;
    });
  } finally {
    cleanup();
  }
});
