import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { RuntimeFailure, UsageError } from '../src/errors.js';
import { fetchDataset, loadImageSet } from '../src/data/index.js';
import type { FetchEvent } from '../src/data/fetch.js';
import { officialManifest, type DatasetManifest } from '../src/data/manifest.js';
import { idxImages, idxLabels, patternPixels, tempDir, zipArchive } from './fixtures/data-builders.js';
import { startServer, type Route } from './helpers/http-server.js';
import { DEBIAN_FASHION, debianFashionMissing, skipOrFail } from './helpers/requirement.js';

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Tiny gzipped MNIST files in the official names, and a manifest pinning them. */
function mnistFixture(): { bodies: Record<string, Buffer>; manifest: DatasetManifest } {
  const bodies: Record<string, Buffer> = {
    'train-images-idx3-ubyte.gz': zlib.gzipSync(idxImages(patternPixels(3), 3, 28, 28)),
    'train-labels-idx1-ubyte.gz': zlib.gzipSync(idxLabels([5, 0, 4])),
    't10k-images-idx3-ubyte.gz': zlib.gzipSync(idxImages(patternPixels(1), 1, 28, 28)),
    't10k-labels-idx1-ubyte.gz': zlib.gzipSync(idxLabels([7])),
  };
  const manifest: DatasetManifest = {
    dataset: 'mnist',
    files: Object.entries(bodies).map(([name, body]) => ({
      name,
      // The official host is never contacted: --url-base replaces it, keeping the file name.
      url: `https://official.invalid/mnist/${name}`,
      size: body.length,
      sha256: sha256(body),
    })),
  };
  return { bodies, manifest };
}

function routesFor(bodies: Record<string, Buffer>, prefix = '/'): Record<string, Route> {
  return Object.fromEntries(Object.entries(bodies).map(([n, body]) => [`${prefix}${n}`, { body }]));
}

test('fetch: downloads, verifies and places every file; a second fetch skips them', async () => {
  const { bodies, manifest } = mnistFixture();
  const server = await startServer(routesFor(bodies, '/mirror/'));
  const { dir, cleanup } = tempDir('fetch-ok');
  try {
    const events: FetchEvent[] = [];
    const report = await fetchDataset('mnist', { dir, manifest, urlBase: `${server.url}mirror`, onEvent: (e) => events.push(e) });
    assert.deepEqual(report.downloaded.sort(), Object.keys(bodies).sort());
    assert.deepEqual(readdirSync(dir).sort(), Object.keys(bodies).sort(), 'exactly the files, no temporaries');
    for (const [n, body] of Object.entries(bodies)) assert.ok(readFileSync(path.join(dir, n)).equals(body), n);
    assert.ok(events.some((e) => e.type === 'progress' && e.received === e.total));
    assert.equal(events.filter((e) => e.type === 'verified').length, 4);

    const set = await loadImageSet('mnist', 'train', { dataDir: dir });
    assert.deepEqual(set.labels, Int32Array.from([5, 0, 4]));

    const again = await fetchDataset('mnist', { dir, manifest, urlBase: `${server.url}mirror/` });
    assert.equal(again.downloaded.length, 0);
    assert.equal(again.skipped.length, 4);
    for (const n of Object.keys(bodies)) assert.equal(server.hits.get(`/mirror/${n}`), 1, `${n} fetched once`);

  } finally {
    cleanup();
    await server.close();
  }
});

test('fetch: a damaged copy in place is downloaded again', async () => {
  const { bodies, manifest } = mnistFixture();
  const server = await startServer(routesFor(bodies));
  const { dir, cleanup } = tempDir('fetch-replace');
  try {
    await fetchDataset('mnist', { dir, manifest, urlBase: server.url });
    const victim = path.join(dir, 't10k-labels-idx1-ubyte.gz');
    writeFileSync(victim, Buffer.alloc(bodies['t10k-labels-idx1-ubyte.gz']!.length));
    const report = await fetchDataset('mnist', { dir, manifest, urlBase: server.url });
    assert.deepEqual(report.downloaded, ['t10k-labels-idx1-ubyte.gz']);
    assert.ok(readFileSync(victim).equals(bodies['t10k-labels-idx1-ubyte.gz']!));
  } finally {
    cleanup();
    await server.close();
  }
});

/** Fetch expecting a RuntimeFailure matching `problem`, then check the folder holds nothing. */
async function expectFailedFetch(routes: Record<string, Route>, manifest: DatasetManifest, problem: RegExp): Promise<void> {
  const server = await startServer(routes);
  const { dir, cleanup } = tempDir('fetch-bad');
  try {
    await assert.rejects(fetchDataset('mnist', { dir, manifest, urlBase: server.url }), (err: unknown) => {
      assert.ok(err instanceof RuntimeFailure, String(err));
      assert.match(err.message, problem);
      assert.ok(!err.message.includes('\n'));
      return true;
    });
    assert.deepEqual(readdirSync(dir), [], 'no file and no temporary file left');
  } finally {
    cleanup();
    await server.close();
  }
}

test('fetch: a corrupted file (hash mismatch) is refused and nothing is left', async () => {
  const { bodies, manifest } = mnistFixture();
  const first = manifest.files[0]!;
  const corrupted = Buffer.from(bodies[first.name]!);
  corrupted[corrupted.length - 1] = corrupted[corrupted.length - 1]! ^ 0xff;
  const only: DatasetManifest = { dataset: 'mnist', files: [first] };
  await expectFailedFetch({ [`/${first.name}`]: { body: corrupted } }, only, new RegExp(`${first.name}: SHA-256 mismatch .*expected ${first.sha256}`));
});

test('fetch: a connection dropped mid-body is an error and nothing is left', async () => {
  const { bodies, manifest } = mnistFixture();
  const first = manifest.files[0]!;
  const only: DatasetManifest = { dataset: 'mnist', files: [first] };
  await expectFailedFetch(
    { [`/${first.name}`]: { body: bodies[first.name]!, behaviour: 'drop-half' } },
    only,
    new RegExp(`${first.name}: download from .* (broke off|ended) after \\d+ of ${first.size} bytes`),
  );
});

test('fetch: HTTP errors and wrong sizes are refused and nothing is left', async () => {
  const { bodies, manifest } = mnistFixture();
  const first = manifest.files[0]!;
  const only: DatasetManifest = { dataset: 'mnist', files: [first] };
  await expectFailedFetch({ [`/${first.name}`]: { body: bodies[first.name]!, behaviour: 'not-found' } }, only, /HTTP 404/);
  const longer = Buffer.concat([bodies[first.name]!, Buffer.from('extra')]);
  await expectFailedFetch({ [`/${first.name}`]: { body: longer } }, only, /longer than the pinned/);
  const shorter = bodies[first.name]!.subarray(0, 20);
  await expectFailedFetch({ [`/${first.name}`]: { body: shorter } }, only, /ended after 20 of/);
});

test('fetch: emnist-letters gzip.zip is verified, then its four letters files are extracted', async () => {
  const stored = new Uint8Array(784);
  stored[2] = 77; // stored (row 0, col 2) → upright (row 2, col 0)
  const members = {
    'emnist-letters-train-images-idx3-ubyte.gz': zlib.gzipSync(idxImages(stored, 1, 28, 28)),
    'emnist-letters-train-labels-idx1-ubyte.gz': zlib.gzipSync(idxLabels([3])),
    'emnist-letters-test-images-idx3-ubyte.gz': zlib.gzipSync(idxImages(stored, 1, 28, 28)),
    'emnist-letters-test-labels-idx1-ubyte.gz': zlib.gzipSync(idxLabels([26])),
  };
  const zip = zipArchive([
    { name: 'gzip/emnist-digits-test-labels-idx1-ubyte.gz', data: zlib.gzipSync(idxLabels([1])), method: 8 },
    ...Object.entries(members).map(([n, data]) => ({ name: `gzip/${n}`, data, method: 8 as const })),
  ]);
  // The official manifest's shape, with the fixture's size and hash.
  const official = officialManifest('emnist-letters');
  const manifest: DatasetManifest = { ...official, files: [{ ...official.files[0]!, size: zip.length, sha256: sha256(zip) }] };
  const server = await startServer({ '/gzip.zip': { body: zip } });
  const { dir, cleanup } = tempDir('fetch-emnist');
  try {
    const report = await fetchDataset('emnist-letters', { dir, manifest, urlBase: server.url });
    assert.deepEqual(report.extracted.sort(), Object.keys(members).sort());
    for (const [n, data] of Object.entries(members)) assert.ok(readFileSync(path.join(dir, n)).equals(data), n);
    assert.deepEqual(readdirSync(dir).sort(), ['gzip.zip', ...Object.keys(members)].sort());
    const set = await loadImageSet('emnist-letters', 'test', { dataDir: dir });
    assert.deepEqual(set.labels, Int32Array.from([25]));
    assert.equal(set.pixels[2 * 28], 77);
    assert.ok(!set.source.includes('gzip.zip:'), 'reads the extracted files');
    const again = await fetchDataset('emnist-letters', { dir, manifest, urlBase: server.url });
    assert.deepEqual([again.downloaded, again.extracted], [[], []]);
  } finally {
    cleanup();
    await server.close();
  }
});

test('fetch: --url-base must be http(s); the official manifests pin all five datasets', async () => {
  await assert.rejects(fetchDataset('mnist', { urlBase: 'ftp://example.org/' }), UsageError);
  await assert.rejects(fetchDataset('mnist', { urlBase: 'not a url' }), UsageError);
  for (const name of ['mnist', 'fashion-mnist', 'cifar10', 'cifar100', 'emnist-letters'] as const) {
    const m = officialManifest(name);
    assert.ok(m.files.length > 0);
    for (const f of m.files) {
      assert.match(f.sha256, /^[0-9a-f]{64}$/);
      assert.ok(f.size > 0 && f.url.endsWith(`/${f.name}`), f.url);
    }
  }
});

test("pinned fashion-mnist SHA-256 reproduce from Debian's files with the official gzip header restored", (t) => {
  const missing = debianFashionMissing('t10k-labels-idx1-ubyte.gz');
  if (missing) {
    skipOrFail(t, 'DATASETS', missing);
    return;
  }
  // Debian rewrote only the 10-byte gzip header (no FNAME, other mtime); the deflate data is the official one.
  const officialMtime: Record<string, number> = { train: 1504176606, t10k: 1504176627 };
  for (const f of officialManifest('fashion-mnist').files) {
    const debian = readFileSync(path.join(DEBIAN_FASHION, f.name));
    assert.equal(debian[3], 0, 'Debian header has no flags');
    const header = Buffer.alloc(10);
    header.set([0x1f, 0x8b, 8, 0x08]); // deflate, FLG = FNAME
    header.writeUInt32LE(officialMtime[f.name.split('-')[0]!]!, 4);
    header.set([0, 3], 8); // XFL 0, OS Unix
    const official = Buffer.concat([header, Buffer.from(f.name.replace(/\.gz$/, '') + '\0'), debian.subarray(10)]);
    assert.equal(official.length, f.size, f.name);
    assert.equal(sha256(official), f.sha256, f.name);
  }
});
