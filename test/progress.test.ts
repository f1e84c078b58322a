/**
 * Progress that tells the truth about the whole run: the whole-run ETA as a pure function, the
 * clock every stage's bar shares, and each long command's first line saying what will run
 * (a bare `poison train`: 30 epochs × 60,000 images, and the backend).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { formatDuration, planLine, RunClock, startProgress, wholeRunEta } from '../src/util/progress.js';
import { attackPlanLine } from '../src/attack-run/reporter.js';
import { tempDir } from './fixtures/data-builders.js';
import { POISON_BIN, runCli } from './helpers/cli.js';

test('wholeRunEta: elapsed × (total − done) / done; null with no rate yet, 0 when done', () => {
  assert.equal(wholeRunEta(10, 5, 20), 30);
  assert.equal(wholeRunEta(65, 1, 30), 65 * 29);
  assert.equal(wholeRunEta(10, 0, 20), null);
  assert.equal(wholeRunEta(10, 5, 0), null);
  assert.equal(wholeRunEta(10, 20, 20), 0);
  assert.equal(wholeRunEta(10, 25, 20), 0);
});

test('formatDuration: seconds, minutes and seconds, hours and minutes', () => {
  assert.equal(formatDuration(42.4), '42s');
  assert.equal(formatDuration(185), '3m05s');
  assert.equal(formatDuration(3720), '1h02m');
  assert.equal(formatDuration(-3), '0s');
});

test('RunClock: the whole run beside a stage, on an injected clock; extend grows the total', () => {
  let now = 100;
  const clock = new RunClock(100, () => now);
  assert.equal(clock.summary(), 'run 0% 0s eta -');
  now = 110;
  clock.done = 25;
  assert.equal(clock.summary(), 'run 25% 10s eta 30s');
  clock.extend(100); // 25 of 200 after 10 s: 70 s left
  assert.equal(clock.summary(), 'run 12% 10s eta 1m10s');
  clock.done = 500;
  assert.equal(clock.done, 200, 'done never passes the total');
  assert.equal(clock.summary(), 'run 100% 10s eta 0s');
});

test("a stage's plain progress lines carry the whole run's summary", () => {
  const lines: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  const tty = process.stderr.isTTY;
  process.stderr.isTTY = false;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
  try {
    let now = 0;
    const run = new RunClock(40, () => now);
    const bar = startProgress({ label: 'epoch 1/4', total: 10, run, lineIntervalMs: 0 });
    now = 5;
    run.done = 10;
    bar.update(10);
    bar.stop();
  } finally {
    process.stderr.write = write;
    process.stderr.isTTY = tty;
  }
  assert.equal(lines.length, 1, lines.join(''));
  assert.match(lines[0]!, /^epoch 1\/4 10\/10 elapsed \d+s eta \d+s \| run 25% 5s eta 15s\n$/);
});

test('first lines: what will run, how much, which backend', () => {
  assert.equal(planLine('eval', 'lenet victim with defense mad', ['10000 mnist test images'], 'wasm'), 'eval lenet victim with defense mad: 10000 mnist test images, backend wasm');
  assert.equal(
    attackPlanLine({ attack: 'knockoff', defense: 'MAD ε=0.5', queries: 60, budgets: [30, 60], epochs: 2, batchSize: 32, backend: 'wasm' }),
    'attack knockoff vs MAD ε=0.5: 60 queries, attackers for budgets 30, 60: 2 epochs each (6 batches of 32), backend wasm',
  );
});

test('a bare `poison train` says first that it runs 30 epochs × 60000 images, and on which backend', async () => {
  const tmp = tempDir('progress');
  try {
    const child = spawn(process.execPath, [POISON_BIN, 'train', '--out', path.join(tmp.dir, 'victim')], {
      cwd: tmp.dir,
      env: { ...process.env, POISON_OFFLINE: '1' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    const firstLine = await new Promise<string>((resolve, reject) => {
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        // TensorFlow.js may print its own banner first: the first line of ours is the one asked for.
        const line = stderr.split('\n').find((l) => l.startsWith('train '));
        if (line !== undefined && stderr.includes(`${line}\n`)) resolve(line);
      });
      child.on('exit', () => reject(new Error(`poison train exited before its first line:\n${stderr}`)));
      // The run itself takes half an hour: its first line must come long before.
      setTimeout(() => reject(new Error(`no first line within 60 s:\n${stderr}`)), 60_000).unref();
    }).finally(() => child.kill('SIGKILL'));
    assert.match(firstLine, /^train lenet on mnist: 30 epochs × 60000 images \(28140 batches of 64\), 10000 test images after each epoch, backend (wasm|cpu|tensorflow|tensorflow-gpu|webgpu)$/);
    const ours = stderr.split('\n').filter((l) => !/^(=+|Hi, looks like|\s*)$/.test(l));
    assert.equal(ours[0], firstLine, `nothing of poison's before it:\n${stderr}`);
  } finally {
    tmp.cleanup();
  }
});

test("poison train's epoch bars show the whole run's share: 50% after epoch 1 of 2, 100% after epoch 2", () => {
  const tmp = tempDir('progress');
  try {
    const r = runCli(['train', '--epochs', '2', '--limit', '128', '--batch-size', '64', '--backend', 'wasm', '--out', path.join(tmp.dir, 'victim')], { cwd: tmp.dir });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.errLines[0]!, /^train lenet on mnist: 2 epochs × 128 images \(4 batches of 64\), 10000 test images after each epoch, backend wasm$/);
    const last = (epoch: number): string | undefined => r.errLines.filter((l) => l.startsWith(`epoch ${epoch}/2 2/2 `)).at(-1);
    assert.match(last(1) ?? '', /\| run 50% \S+ eta \S+$/, r.stderr);
    assert.match(last(2) ?? '', /\| run 100% \S+ eta 0s$/, r.stderr);
  } finally {
    tmp.cleanup();
  }
});
