/**
 * Missing data is fetched on demand (item 2 of the first-run issue): a command that needs a
 * dataset no source has downloads the official files (here from a local mirror with a small
 * pinned manifest), verifies them and goes on; offline, the error names the command that brings
 * the data; a failed fetch leaves nothing behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { RuntimeFailure } from '../src/errors.js';
import { loadImageSet } from '../src/data/index.js';
import type { FetchEvent } from '../src/data/fetch.js';
import type { DatasetManifest } from '../src/data/manifest.js';
import { downloadsAllowed } from '../src/data/on-demand.js';
import { emptyLocations, idxImages, idxLabels, patternPixels, tempDir } from './fixtures/data-builders.js';
import { startServer, type Route } from './helpers/http-server.js';

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function fixture(): { routes: Record<string, Route>; manifest: DatasetManifest } {
  const bodies: Record<string, Buffer> = {
    'train-images-idx3-ubyte.gz': zlib.gzipSync(idxImages(patternPixels(3), 3, 28, 28)),
    'train-labels-idx1-ubyte.gz': zlib.gzipSync(idxLabels([5, 0, 4])),
    't10k-images-idx3-ubyte.gz': zlib.gzipSync(idxImages(patternPixels(1), 1, 28, 28)),
    't10k-labels-idx1-ubyte.gz': zlib.gzipSync(idxLabels([7])),
  };
  return {
    routes: Object.fromEntries(Object.entries(bodies).map(([n, body]) => [`/${n}`, { body }])),
    manifest: {
      dataset: 'fashion-mnist',
      files: Object.entries(bodies).map(([name, body]) => ({ name, url: `https://official.invalid/${name}`, size: body.length, sha256: sha256(body) })),
    },
  };
}

test('a dataset no source has is fetched, verified and loaded in one call', async () => {
  const { routes, manifest } = fixture();
  const server = await startServer(routes);
  const { dir, cleanup } = tempDir('on-demand-ok');
  try {
    const locations = emptyLocations(dir);
    const events: FetchEvent[] = [];
    const set = await loadImageSet('fashion-mnist', 'train', {
      locations,
      download: true,
      fetch: { urlBase: server.url, manifest, onEvent: (e) => events.push(e) },
    });
    assert.deepEqual(set.labels, Int32Array.from([5, 0, 4]));
    assert.match(set.source, /datasets\/fashion-mnist/);
    assert.equal(events.filter((e) => e.type === 'verified').length, 4);
    assert.ok(events.some((e) => e.type === 'progress'), 'progress is reported');
    // The next load finds the files: nothing is downloaded again.
    const again = await loadImageSet('fashion-mnist', 'test', { locations, download: true, fetch: { urlBase: server.url, manifest } });
    assert.deepEqual(again.labels, Int32Array.from([7]));
    for (const n of Object.keys(routes)) assert.equal(server.hits.get(n), 1, `${n} fetched once`);
  } finally {
    cleanup();
    await server.close();
  }
});

test('a failed on-demand fetch leaves nothing behind: no files, no folders it created', async () => {
  const { routes, manifest } = fixture();
  // The third file is corrupt on the mirror: two good files arrive first.
  routes['/t10k-images-idx3-ubyte.gz'] = { body: Buffer.from('not the pinned file') };
  const server = await startServer(routes);
  const { dir, cleanup } = tempDir('on-demand-bad');
  try {
    const locations = emptyLocations(dir);
    await assert.rejects(
      loadImageSet('fashion-mnist', 'train', { locations, download: true, fetch: { urlBase: server.url, manifest, onEvent: () => undefined } }),
      (err: unknown) =>
        err instanceof RuntimeFailure &&
        /fashion-mnist is not on this machine and fetching it failed/.test(err.message) &&
        /nothing was kept: run `poison data fetch fashion-mnist`/.test(err.message),
    );
    assert.equal(server.hits.get('/train-images-idx3-ubyte.gz'), 1, 'the good files were downloaded first');
    assert.equal(existsSync(path.join(dir, 'datasets')), false, `nothing left: ${existsSync(path.join(dir, 'datasets')) ? readdirSync(path.join(dir, 'datasets')).join(', ') : ''}`);
  } finally {
    cleanup();
    await server.close();
  }
});

test('offline, a missing dataset is one error naming the command that brings it; nothing is contacted', async () => {
  const { routes, manifest } = fixture();
  const server = await startServer(routes);
  const { dir, cleanup } = tempDir('on-demand-offline');
  try {
    await assert.rejects(
      loadImageSet('fashion-mnist', 'train', { locations: emptyLocations(dir), download: false, fetch: { urlBase: server.url, manifest } }),
      (err: unknown) => err instanceof RuntimeFailure && /downloads are off \(--offline or POISON_OFFLINE\); get it with .*`poison data fetch fashion-mnist`/.test(err.message),
    );
    assert.equal(server.hits.size, 0);
  } finally {
    cleanup();
    await server.close();
  }
});

test('POISON_OFFLINE: set to anything but 0 forbids downloads', () => {
  assert.equal(downloadsAllowed({}), true);
  assert.equal(downloadsAllowed({ POISON_OFFLINE: '0' }), true);
  assert.equal(downloadsAllowed({ POISON_OFFLINE: '1' }), false);
  assert.equal(downloadsAllowed({ POISON_OFFLINE: 'yes' }), false);
});
