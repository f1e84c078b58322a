/**
 * The CIFAR path end to end on a small fixture in the official binary formats (CIFAR-10: five
 * train batches and a test batch; CIFAR-100: train.bin / test.bin with coarse and fine labels):
 * - on webgpu (lavapipe in CI): `poison train --dataset cifar10 --arch vgg16_bn` and
 *   `poison attack` (knockoff from CIFAR-100 against MAD), each as the CLI, which must also exit
 *   with Dawn loaded; skipped with one line where webgpu cannot load (failed with POISON_REQUIRE_WEBGPU=1);
 * - on wasm (VGG16-BN on lavapipe is too slow for 12 cells): configs/cifar.yaml itself, cut down
 *   (1 epoch, 4 queries, each defense's first parameter value), as a sweep.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { parse, stringify } from 'yaml';
import { cifarChw, cifarRecords, tempDir } from './fixtures/data-builders.js';
import { POISON_BIN, REPO_ROOT } from './helpers/cli.js';
import { exitAfterTests, webgpuUnavailable } from './helpers/webgpu.js';
import { skipOrFail } from './helpers/requirement.js';

const tmp = tempDir('poison-cifar-');
const c10 = path.join(tmp.dir, 'cifar10');
const c100 = path.join(tmp.dir, 'cifar100');

before(() => {
  mkdirSync(c10);
  mkdirSync(c100);
  // CIFAR-10: batch b holds images with labels b and 9 − b (10 train images), 4 test images.
  for (let b = 0; b < 5; b++) {
    writeFileSync(
      path.join(c10, `data_batch_${b + 1}.bin`),
      cifarRecords([
        { labels: [b], chw: cifarChw(2 * b) },
        { labels: [9 - b], chw: cifarChw(2 * b + 1) },
      ]),
    );
  }
  writeFileSync(path.join(c10, 'test_batch.bin'), cifarRecords([0, 1, 2, 3].map((i) => ({ labels: [i * 2], chw: cifarChw(50 + i) }))));
  // CIFAR-100: [coarse, fine] label bytes.
  const records = (n: number, seed: number) => Array.from({ length: n }, (_, i) => ({ labels: [i % 20, (i * 7) % 100], chw: cifarChw(seed + i) }));
  writeFileSync(path.join(c100, 'train.bin'), cifarRecords(records(8, 200)));
  writeFileSync(path.join(c100, 'test.bin'), cifarRecords(records(2, 300)));
});

after(() => tmp.cleanup());

function poison(args: string[], timeoutMs: number): { status: number | null; stderr: string; seconds: number } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [POISON_BIN, ...args], { cwd: tmp.dir, encoding: 'utf8', timeout: timeoutMs });
  return { status: r.status, stderr: r.stderr, seconds: (performance.now() - t0) / 1000 };
}

function readJson(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
}

const why = await webgpuUnavailable();
exitAfterTests('CIFAR path tests');

test('webgpu: poison train (cifar10, vgg16_bn) then poison attack (knockoff from cifar100, MAD) through the CLI', (t) => {
  if (why) {
    skipOrFail(t, 'WEBGPU', `webgpu cannot load: ${why}`);
    return;
  }
  const victim = path.join(tmp.dir, 'victim');
  const train = poison(
    ['train', '--dataset', 'cifar10', '--arch', 'vgg16_bn', '--epochs', '1', '--batch-size', '5', '--data-dir', c10, '--backend', 'webgpu', '--out', victim, '--quiet'],
    300_000,
  );
  assert.equal(train.status, 0, train.stderr);
  const params = readJson(path.join(victim, 'params.json')) as { provenance: { engine: { backend: string; webgpuAdapter?: { driver: string } } }; metrics: { testAccuracy: number } };
  assert.equal(params.provenance.engine.backend, 'webgpu');
  assert.ok(params.provenance.engine.webgpuAdapter?.driver, 'the adapter is in the provenance');
  assert.ok(params.metrics.testAccuracy >= 0 && params.metrics.testAccuracy <= 1);

  const out = path.join(tmp.dir, 'attack');
  const attack = poison(
    ['attack', '--victim', victim, '--attack', 'knockoff', '--queryset', 'cifar100', '--queryset-dir', c100, '--budget', '4', '--epochs', '1', '--batch-size', '4',
      '--data-dir', c10, '--defense', 'mad', '--eps', '0.5', '--backend', 'webgpu', '--out', out, '--quiet'],
    300_000,
  );
  assert.equal(attack.status, 0, attack.stderr);
  const result = readJson(path.join(out, 'result.json')) as { runs: { queries: number; attacker: { accuracy: number } }[]; provenance: { engine: { backend: string } } };
  assert.equal(result.provenance.engine.backend, 'webgpu');
  assert.equal(result.runs.length, 1);
  assert.equal(result.runs[0]!.queries, 4);
  const acc = result.runs[0]!.attacker.accuracy;
  assert.ok(acc >= 0 && acc <= 1, `accuracy ${acc}`);
  process.stderr.write(`# webgpu CLI: train ${train.seconds.toFixed(1)} s, attack ${attack.seconds.toFixed(1)} s\n`);
});

test('configs/cifar.yaml, cut down, runs as a sweep on the fixture (wasm): every attack × every defense kind', () => {
  const config = parse(readFileSync(path.join(REPO_ROOT, 'configs', 'cifar.yaml'), 'utf8')) as {
    victim: { train: Record<string, unknown> };
    attacks: Record<string, unknown>[];
    defenses: Record<string, Record<string, unknown>>;
    budgets: number[];
    attacker: Record<string, unknown>;
    [key: string]: unknown;
  };
  Object.assign(config.victim.train, { epochs: 1, batchSize: 5 });
  config.attacks = config.attacks.map((a) => (a.name === 'knockoff' ? a : { ...a, seedSize: 2, roundEpochs: 1, pgdSteps: 1 }));
  for (const params of Object.values(config.defenses)) {
    for (const [k, v] of Object.entries(params)) if (Array.isArray(v)) params[k] = [v[0]];
  }
  config.budgets = [4];
  Object.assign(config.attacker, { epochs: 1, batchSize: 4 });
  config.testLimit = 4;
  config.cacheDir = path.join(tmp.dir, 'cache');
  config.data = { cifar10: c10, cifar100: c100 };
  const file = path.join(tmp.dir, 'cifar-tiny.yaml');
  writeFileSync(file, stringify(config));
  const out = path.join(tmp.dir, 'sweep');
  const r = poison(['sweep', file, '--out', out, '--jobs', '1', '--backend', 'wasm', '--quiet'], 600_000);
  assert.equal(r.status, 0, r.stderr);
  const rows: Record<string, string>[] = parseCsv(readFileSync(path.join(out, 'sweep.csv'), 'utf8'), { columns: true });
  const kinds = Object.keys(config.defenses).length;
  assert.equal(rows.length, config.attacks.length * kinds, 'one cell per attack and defense');
  assert.deepEqual([...new Set(rows.map((row) => row.attack))].sort(), config.attacks.map((a) => String(a.name)).sort());
  for (const row of rows) {
    assert.equal(row.queries, '4');
    assert.equal(row.backend, 'wasm');
    assert.equal(row.invariant_violations, '0');
  }
  process.stderr.write(`# cut-down cifar.yaml sweep (wasm): ${r.seconds.toFixed(1)} s\n`);
});
