/**
 * The sweep's lock files with real processes: one holder at a time; a holder that died on this
 * machine is taken over at once, one elsewhere only after the waiter watched it stand still; two
 * waiters racing for one stale lock leave one holder; a live holder whose file times stand still
 * (NFS attribute caching, a skewed clock) is never taken over; release never removes a lock that
 * another process holds; `--force` refuses while a lock is live.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { promises as fs, readdirSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileLock, readHolder } from '../src/sweep/run/file-lock.js';
import { FileGate } from '../src/sweep/run/shared-work.js';
import { FAKE_RUNNER } from './helpers/fake-runner.js';
import { runCli } from './helpers/cli.js';

const LOCK_MODULE = new URL('../src/sweep/run/file-lock.js', import.meta.url).href;
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
let root: string;

before(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'poison-file-lock-'));
});
/** Holder processes still running (a failed assertion must not leave them keeping the test file alive). */
const children = new Set<ChildProcessWithoutNullStreams>();
after(async () => {
  for (const c of children) c.kill('SIGKILL');
  await fs.rm(root, { recursive: true, force: true });
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A process holding `file` (heartbeat `beatMs`) until it reads "release" on stdin; it says "held" and "released lost=…". */
function holder(file: string, beatMs: number, env: NodeJS.ProcessEnv = {}): { child: ChildProcessWithoutNullStreams; said: (text: string) => Promise<string> } {
  const code = `
    import { FileLock } from ${JSON.stringify(LOCK_MODULE)};
    const lock = await FileLock.tryAcquire(${JSON.stringify(file)}, { heartbeatMs: ${beatMs} });
    if (!(lock instanceof FileLock)) { console.log('busy'); process.exit(3); }
    console.log('held ' + lock.token);
    process.stdin.setEncoding('utf8').on('data', async () => { await lock.release(); console.log('released lost=' + lock.lost); process.exit(0); });
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { env: { ...process.env, ...env } });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  const said = async (text: string): Promise<string> => {
    for (let i = 0; i < 300 && !out.includes(text); i++) await sleep(50);
    assert.ok(out.includes(text), `the holder said ${JSON.stringify(out)}, not ${text}`);
    return out;
  };
  return { child, said };
}

test('one holder at a time; a holder that died on this machine is taken over at once', async () => {
  const file = path.join(root, 'a', 'k.lock');
  const a = await FileLock.tryAcquire(file);
  assert.ok(a instanceof FileLock);
  const b = await FileLock.tryAcquire(file);
  assert.ok(!(b instanceof FileLock));
  assert.equal(b.pid, process.pid);
  await a.release();
  const h = holder(file, 10_000);
  await h.said('held');
  assert.ok(!((await FileLock.tryAcquire(file)) instanceof FileLock), 'a live holder keeps it');
  h.child.kill('SIGKILL');
  await new Promise((r) => h.child.once('exit', r));
  const d = await FileLock.tryAcquire(file);
  assert.ok(d instanceof FileLock, 'a holder killed on this machine (same boot, same pid namespace) is taken over at once');
  await d.release();
  assert.deepEqual((await fs.readdir(path.dirname(file))).sort(), [], 'no lock, beat or aside file is left');
});

test('a lock from elsewhere is stale only once this waiter watched it stand still for staleMs', async () => {
  const file = path.join(root, 'b', 'k.lock');
  await fs.mkdir(path.dirname(file), { recursive: true });
  // Another host's holder (no same-machine identity), its file times far in the past.
  await fs.writeFile(file, JSON.stringify({ host: 'elsewhere', pid: 1, since: '2000-01-01T00:00:00Z', token: 't0', heartbeatMs: 100 }));
  await fs.writeFile(`${file}.beat-t0`, '7\n');
  const old = new Date('2000-01-01T00:00:00Z');
  await fs.utimes(file, old, old);
  assert.ok(!((await FileLock.tryAcquire(file, { staleMs: 300 })) instanceof FileLock), 'first sight: never stale, whatever the mtime');
  await sleep(150);
  await fs.writeFile(`${file}.beat-t0`, '8\n');
  await sleep(200);
  assert.ok(!((await FileLock.tryAcquire(file, { staleMs: 300 })) instanceof FileLock), 'its beat changed: watching starts again');
  await sleep(400);
  const got = await FileLock.tryAcquire(file, { staleMs: 300 });
  assert.ok(got instanceof FileLock, 'unchanged for longer than staleMs on our clock: taken over');
  await got.release();
});

test('two processes racing to take over one stale lock: only one wins', async () => {
  for (let round = 0; round < 3; round++) {
    const file = path.join(root, `race-${round}`, 'k.lock');
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, JSON.stringify({ host: 'gone-host', pid: 1, since: '2000-01-01T00:00:00Z', token: 'dead', heartbeatMs: 100 }));
    // Each racer watches the lock (300 ms of staleness), pauses 200 ms between judging it stale and
    // moving it, so both judge it stale before either moved it; then keeps what it got for a while.
    const code = `
      import { FileLock } from ${JSON.stringify(LOCK_MODULE)};
      const until = Date.now() + 2500;
      let won = null;
      while (Date.now() < until) {
        const got = won ?? await FileLock.tryAcquire(${JSON.stringify(file)}, { staleMs: 300, heartbeatMs: 50 });
        if (got instanceof FileLock) won = got;
        // The other racer holds it now: stop (on a loaded machine its beat could lag behind staleMs,
        // and taking over a holder that stopped beating is allowed; this test is about the race).
        else if (got.token !== 'dead') break;
        await new Promise((r) => setTimeout(r, 10));
      }
      if (won) await new Promise((r) => setTimeout(r, Math.max(0, until - Date.now())));
      // 'won' whenever it got the lock, even if it found out later that it was displaced: two 'won' is two holders.
      console.log(won ? 'won' : 'lost');
      process.exit(0);
    `;
    const env = { ...process.env, POISON_LOCK_TAKEOVER_PAUSE_MS: '200' };
    const racers = [0, 1].map(
      () =>
        new Promise<string>((resolve) => {
          const c = spawn(process.execPath, ['--input-type=module', '-e', code], { env });
          let out = '';
          c.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
          c.on('exit', () => resolve(out.trim()));
        }),
    );
    const results = await Promise.all(racers);
    assert.deepEqual(results.sort(), ['lost', 'won'], `round ${round}: exactly one holder (${results.join(', ')})`);
  }
});

test('a live holder whose file times stand still (attribute cache, skewed clock) is never taken over', async () => {
  const file = path.join(root, 'c', 'k.lock');
  const h = holder(file, 100, { POISON_LOCK_PID_SHORTCUT: '0' });
  const token = (await h.said('held')).split(' ')[1]!.trim();
  const old = new Date('2000-01-01T00:00:00Z');
  let freezing = true;
  const freeze = (async () => {
    while (freezing) {
      await fs.utimes(file, old, old).catch(() => undefined);
      await fs.utimes(`${file}.beat-${token}`, old, old).catch(() => undefined);
      await sleep(20);
    }
  })();
  try {
    const started = performance.now();
    // 1.5 s of staleness against a 100 ms beat: a margin for a loaded machine, still 15 beats.
    while (performance.now() - started < 3000) {
      const got = await FileLock.tryAcquire(file, { staleMs: 1500 });
      assert.ok(!(got instanceof FileLock), 'taken over from a live holder');
      await sleep(50);
    }
  } finally {
    freezing = false;
    await freeze;
  }
  h.child.stdin.write('release\n');
  await h.said('released lost=false');
  const got = await FileLock.tryAcquire(file, { staleMs: 400 });
  assert.ok(got instanceof FileLock, 'free once released');
  await got.release();
});

test('release never removes a lock another process holds now', async () => {
  const file = path.join(root, 'd', 'k.lock');
  const h = holder(file, 50);
  await h.said('held');
  // The holder stalls (a frozen VM, SIGSTOP): alive, but its heartbeat stops; it is taken over.
  h.child.kill('SIGSTOP');
  let mine: FileLock | null = null;
  const started = performance.now();
  while (!mine && performance.now() - started < 5000) {
    const got = await FileLock.tryAcquire(file, { staleMs: 300 });
    if (got instanceof FileLock) mine = got;
    else await sleep(50);
  }
  assert.ok(mine, 'a stalled holder is taken over once its beat stood still for staleMs');
  h.child.kill('SIGCONT');
  h.child.stdin.write('release\n');
  await h.said('released lost=true');
  assert.equal((await readHolder(file))?.token, mine.token, 'the old holder released nothing of ours');
  await mine.release();
  await assert.rejects(fs.access(file), 'and ours is removed by our release');
});

test('--force refuses to start over while a lock in the output folder is live', async () => {
  const config = path.join(root, 'tiny.yaml');
  const yaml = (epochs: number): string =>
    `victim:\n  train: {dataset: mnist, arch: lenet, epochs: ${epochs}, limit: 300, seed: 1}\n` +
    'attacks:\n  - {name: knockoff, queryset: fashion-mnist, querysetSplit: test}\ndefenses:\n  none: {}\nbudgets: [100]\nseeds: [1]\n';
  await fs.writeFile(config, yaml(1));
  const other = path.join(root, 'tiny-other.yaml');
  await fs.writeFile(other, yaml(2));
  const out = path.join(root, 'force-out');
  const first = runCli(['sweep', config, '--out', out, '--jobs', '1', '--quiet'], { env: FAKE_RUNNER, cwd: repo });
  assert.equal(first.status, 0, first.stderr);
  // A 1 s beat: --force watches a lock for three of its holder's beats.
  const h = holder(path.join(out, 'locks', 'victim.lock'), 1000);
  await h.said('held');
  const refused = runCli(['sweep', other, '--out', out, '--jobs', '1', '--force', '--quiet'], { env: FAKE_RUNNER, cwd: repo });
  assert.equal(refused.status, 2, refused.stderr);
  assert.match(refused.errLines.join('\n'), /--force refused: 1 lock in .*locks is held by running processes \(.* pid \d+, since /);
  await fs.access(path.join(out, 'cells'));
  h.child.kill('SIGKILL');
  await new Promise((r) => h.child.once('exit', r));
  const forced = runCli(['sweep', other, '--out', out, '--jobs', '1', '--force', '--quiet'], { env: FAKE_RUNNER, cwd: repo });
  assert.equal(forced.status, 0, `a dead holder's lock does not block --force: ${forced.stderr}`);
});

test('a rerun removes the locks a killed process left on work that is finished (a ready key, a finished cell)', async () => {
  const config = path.join(root, 'tiny-left.yaml');
  await fs.writeFile(
    config,
    'victim:\n  train: {dataset: mnist, arch: lenet, epochs: 1, limit: 300, seed: 1}\n' +
      'attacks:\n  - {name: knockoff, queryset: fashion-mnist, querysetSplit: test}\ndefenses:\n  none: {}\n  mad: {eps: [1]}\nbudgets: [100]\nseeds: [1]\n',
  );
  const out = path.join(root, 'left-out');
  const first = runCli(['sweep', config, '--out', out, '--jobs', '1', '--quiet'], { env: FAKE_RUNNER, cwd: repo });
  assert.equal(first.status, 0, first.stderr);
  const locks = path.join(out, 'locks');
  const ready = (await fs.readdir(locks)).filter((n) => n.endsWith('.ready'));
  const cell = (await fs.readdir(path.join(out, 'cells'))).find((n) => n.endsWith('.json'));
  assert.ok(ready.length > 0 && cell, `the sweep left ready markers (${ready.join(', ')}) and cells`);
  // Killed between its two writes: the work is marked finished, the lock is still there.
  const left = [ready[0]!.replace(/\.ready$/, '.lock'), `cell-${cell.replace(/\.json$/, '')}.lock`];
  for (const name of left) {
    const h = holder(path.join(locks, name), 10_000);
    await h.said('held');
    h.child.kill('SIGKILL');
    await new Promise((r) => h.child.once('exit', r));
  }
  assert.deepEqual((await fs.readdir(locks)).filter((n) => n.endsWith('.lock')).sort(), [...left].sort());
  const rerun = runCli(['sweep', config, '--out', out, '--jobs', '1', '--quiet'], { env: FAKE_RUNNER, cwd: repo });
  assert.equal(rerun.status, 0, rerun.stderr);
  assert.deepEqual((await fs.readdir(locks)).filter((n) => !n.endsWith('.ready')), [], 'no lock, beat or aside file is left');
});

test('the synchronous release of a signal handler also finishes a release the signal came in the middle of', async () => {
  const dir = path.join(root, 'interrupted');
  const gate = new FileGate(dir);
  assert.equal(await gate.claim('0123456789ab'), 'mine');
  // A cell just ended: its claim is being let go of (async, so the signal may come between two
  // awaits), and the sweep's signal handler releases everything synchronously, then exits.
  const lettingGo = gate.unclaim('0123456789ab');
  gate.releaseAllSync();
  // Read synchronously: the interrupted release must not get a turn to finish the job itself.
  assert.deepEqual(readdirSync(path.join(dir, 'locks')), [], 'no lock, beat or aside file is left');
  await lettingGo;
});
