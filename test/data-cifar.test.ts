import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { RuntimeFailure } from '../src/errors.js';
import { loadImageSet } from '../src/data/index.js';
import { cifarChw, cifarRecords, tarArchive, tempDir } from './fixtures/data-builders.js';

const CIFAR10_TRAIN = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'];

/** CHW → HWC written the slow, obvious way, to check the reader's fast loop against. */
function hwc(chw: Uint8Array): Uint8Array {
  const out = new Uint8Array(3072);
  for (let y = 0; y < 32; y++)
    for (let x = 0; x < 32; x++) for (let c = 0; c < 3; c++) out[(y * 32 + x) * 3 + c] = chw[c * 1024 + y * 32 + x]!;
  return out;
}

/** CIFAR-10 batches: batch b holds 2 records with labels b and 9-b; the test batch 1 record. */
function cifar10Files(): { name: string; data: Buffer }[] {
  const files = CIFAR10_TRAIN.map((name, b) => ({
    name,
    data: cifarRecords([
      { labels: [b], chw: cifarChw(2 * b) },
      { labels: [9 - b], chw: cifarChw(2 * b + 1) },
    ]),
  }));
  files.push({ name: 'test_batch.bin', data: cifarRecords([{ labels: [3], chw: cifarChw(100) }]) });
  return files;
}

function checkCifar10Train(pixels: Uint8Array, labels: Int32Array, count: number): void {
  assert.equal(count, 10);
  assert.deepEqual(labels, Int32Array.from([0, 9, 1, 8, 2, 7, 3, 6, 4, 5]));
  for (let i = 0; i < count; i++) assert.deepEqual(pixels.subarray(i * 3072, (i + 1) * 3072), hwc(cifarChw(i)), `image ${i}`);
}

test('CIFAR-10 binary batches: labels, CHW→HWC, train/test/all', async () => {
  const { dir, cleanup } = tempDir('cifar10');
  try {
    for (const f of cifar10Files()) writeFileSync(path.join(dir, f.name), f.data);
    const train = await loadImageSet('cifar10', 'train', { dataDir: dir });
    assert.deepEqual([train.height, train.width, train.channels, train.numClasses], [32, 32, 3, 10]);
    checkCifar10Train(train.pixels, train.labels, train.count);
    // Spot-check one pixel by hand: image 0, row 1, column 2, green = plane 1 at 1·32+2.
    assert.equal(train.pixels[(1 * 32 + 2) * 3 + 1], cifarChw(0)[1024 + 34]);

    const testSet = await loadImageSet('cifar10', 'test', { dataDir: dir });
    assert.equal(testSet.count, 1);
    assert.deepEqual(testSet.labels, Int32Array.from([3]));
    assert.deepEqual(testSet.pixels, hwc(cifarChw(100)));

    const all = await loadImageSet('cifar10', 'all', { dataDir: dir, limit: 11 });
    assert.equal(all.count, 11);
    assert.equal(all.labels[10], 3);
    const few = await loadImageSet('cifar10', 'train', { dataDir: dir, limit: 3 });
    assert.deepEqual(few.labels, Int32Array.from([0, 9, 1]));
  } finally {
    cleanup();
  }
});

test('CIFAR-10 read straight from the official .tar.gz layout', async () => {
  const { dir, cleanup } = tempDir('cifar10-tgz');
  try {
    const members = [
      { name: 'cifar-10-batches-bin/batches.meta.txt', data: Buffer.from('airplane\n') },
      ...cifar10Files().map((f) => ({ name: `cifar-10-batches-bin/${f.name}`, data: f.data })),
    ];
    writeFileSync(path.join(dir, 'cifar-10-binary.tar.gz'), zlib.gzipSync(tarArchive(members)));
    const train = await loadImageSet('cifar10', 'train', { dataDir: dir });
    checkCifar10Train(train.pixels, train.labels, train.count);
    assert.ok(train.source.includes(dir));
    const testSet = await loadImageSet('cifar10', 'test', { dataDir: dir });
    assert.deepEqual(testSet.pixels, hwc(cifarChw(100)));
  } finally {
    cleanup();
  }
});

test('CIFAR-10 unpacked into cifar-10-batches-bin/ is found too', async () => {
  const { dir, cleanup } = tempDir('cifar10-dir');
  try {
    mkdirSync(path.join(dir, 'cifar-10-batches-bin'));
    for (const f of cifar10Files()) writeFileSync(path.join(dir, 'cifar-10-batches-bin', f.name), f.data);
    const all = await loadImageSet('cifar10', 'all', { dataDir: dir });
    assert.equal(all.count, 11);
  } finally {
    cleanup();
  }
});

test('CIFAR-100: the fine label (second byte) is used, 100 classes, also from .tar.gz', async () => {
  const { dir, cleanup } = tempDir('cifar100');
  try {
    const train = cifarRecords([
      { labels: [19, 99], chw: cifarChw(1) },
      { labels: [4, 30], chw: cifarChw(2) },
      { labels: [0, 0], chw: cifarChw(3) },
    ]);
    const testBin = cifarRecords([{ labels: [11, 57], chw: cifarChw(4) }]);
    writeFileSync(
      path.join(dir, 'cifar-100-binary.tar.gz'),
      zlib.gzipSync(
        tarArchive([
          { name: 'cifar-100-binary/coarse_label_names.txt', data: Buffer.from('x\n') },
          { name: 'cifar-100-binary/test.bin', data: testBin },
          { name: 'cifar-100-binary/train.bin', data: train },
        ]),
      ),
    );
    const set = await loadImageSet('cifar100', 'train', { dataDir: dir });
    assert.equal(set.numClasses, 100);
    assert.deepEqual(set.labels, Int32Array.from([99, 30, 0]));
    assert.deepEqual(set.pixels.subarray(3072, 6144), hwc(cifarChw(2)));
    const all = await loadImageSet('cifar100', 'all', { dataDir: dir });
    assert.deepEqual(all.labels, Int32Array.from([99, 30, 0, 57]));

    // The same files loose in the folder take precedence and give the same result.
    writeFileSync(path.join(dir, 'train.bin'), train);
    writeFileSync(path.join(dir, 'test.bin'), testBin);
    const loose = await loadImageSet('cifar100', 'all', { dataDir: dir });
    assert.deepEqual(loose.pixels, all.pixels);
    assert.ok(!loose.source.includes('tar.gz'));
  } finally {
    cleanup();
  }
});

test('CIFAR corruption: a wrong-length batch names the file', async () => {
  const { dir, cleanup } = tempDir('cifar-bad');
  try {
    for (const f of cifar10Files()) writeFileSync(path.join(dir, f.name), f.data);
    const bad = path.join(dir, 'data_batch_3.bin');
    writeFileSync(bad, cifar10Files()[2]!.data.subarray(0, 5000));
    await assert.rejects(loadImageSet('cifar10', 'train', { dataDir: dir }), (err: unknown) => {
      assert.ok(err instanceof RuntimeFailure);
      assert.ok(err.message.includes(bad), err.message);
      assert.match(err.message, /wrong length: 5000 bytes is not a whole number of 3073-byte CIFAR records/);
      return true;
    });
  } finally {
    cleanup();
  }
});

test('CIFAR corruption: CIFAR-10 files given as CIFAR-100 are refused (record size)', async () => {
  const { dir, cleanup } = tempDir('cifar-mix');
  try {
    // 2 CIFAR-10 records = 6146 bytes, not a multiple of 3074.
    writeFileSync(path.join(dir, 'train.bin'), cifar10Files()[0]!.data);
    writeFileSync(path.join(dir, 'test.bin'), cifar10Files()[5]!.data);
    await assert.rejects(loadImageSet('cifar100', 'train', { dataDir: dir }), /train\.bin: wrong length/);
  } finally {
    cleanup();
  }
});

test('CIFAR corruption: truncated or damaged .tar.gz names the archive', async () => {
  const { dir, cleanup } = tempDir('cifar-tgz-bad');
  try {
    const archive = path.join(dir, 'cifar-10-binary.tar.gz');
    const tar = tarArchive(cifar10Files().map((f) => ({ name: `cifar-10-batches-bin/${f.name}`, data: f.data })));
    const gz = zlib.gzipSync(tar);
    writeFileSync(archive, gz.subarray(0, Math.floor(gz.length / 2)));
    await assert.rejects(loadImageSet('cifar10', 'test', { dataDir: dir }), (err: unknown) => {
      assert.ok(err instanceof RuntimeFailure, String(err));
      assert.ok(err.message.includes(archive), err.message);
      assert.match(err.message, /bad gzip data|truncated/);
      return true;
    });
    // Intact gzip around a tar whose header checksum is wrong.
    const badTar = Buffer.from(tar);
    badTar[0] = badTar[0]! ^ 0x01;
    writeFileSync(archive, zlib.gzipSync(badTar));
    await assert.rejects(loadImageSet('cifar10', 'test', { dataDir: dir }), /cifar-10-binary\.tar\.gz: not a valid tar archive \(header checksum/);
    // Intact gzip around a tar cut short inside a member.
    writeFileSync(archive, zlib.gzipSync(tar.subarray(0, 512 + 1000)));
    await assert.rejects(loadImageSet('cifar10', 'test', { dataDir: dir }), /cifar-10-binary\.tar\.gz: truncated: the archive ends inside a member/);
    // Not a tar archive at all.
    writeFileSync(archive, zlib.gzipSync(Buffer.from('not a tar archive')));
    await assert.rejects(loadImageSet('cifar10', 'test', { dataDir: dir }), /cifar-10-binary\.tar\.gz: not a valid tar archive \(Unrecognized archive format\)/);
    // A valid archive without the test batch.
    writeFileSync(archive, zlib.gzipSync(tarArchive([{ name: 'cifar-10-batches-bin/readme.html', data: Buffer.from('hi') }])));
    await assert.rejects(loadImageSet('cifar10', 'test', { dataDir: dir }), /has no member cifar-10-batches-bin\/test_batch\.bin/);
  } finally {
    cleanup();
  }
});
