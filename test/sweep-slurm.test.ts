/**
 * Sweeps on the Slurm of this machine (.ci/slurm.sh starts one; CI sets POISON_REQUIRE_SLURM=1):
 * a real tiny 6-cell sweep through `--slurm --tasks 3 --submit --wait` gives the CSV of a local
 * `--jobs 1` run; an array task cancelled mid-cell leaves that cell to the merge's list (exit 1),
 * and resubmitting runs only that cell; an array task warned before its time limit (USR1 to its
 * batch shell) releases its cell, is requeued by its script and finishes the cell when it runs
 * again. Without a running Slurm these tests skip (one line why). The rest run everywhere: the
 * scripts' text, --shard auto, two pulling tasks, and a plain sweep stopped by SIGUSR1, SIGTERM or
 * SIGINT mid-cell (exit 128 + signal, no lock left, the cell rerun alone).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { VOLATILE_COLUMNS } from '../src/sweep/report/sweep-csv.js';
import { CELLS_DIR, cellPath } from '../src/sweep/run/cell-store.js';
import { readHolder } from '../src/sweep/run/file-lock.js';
import { claimKey, LOCKS_DIR } from '../src/sweep/run/shared-work.js';
import { FAKE_DELAY_ENV, FAKE_RUNNER, FAKE_SLOW_CELL_ENV } from './helpers/fake-runner.js';
import { POISON_BIN, REPO_ROOT, runCli } from './helpers/cli.js';

function slurmMissing(): string | null {
  const r = spawnSync('sinfo', ['-h', '-o', '%T'], { encoding: 'utf8', timeout: 10_000 });
  if (r.error) return `sinfo cannot run (${(r.error as NodeJS.ErrnoException).code ?? r.error.message})`;
  if (r.status !== 0) return `sinfo failed: ${r.stderr.trim().split('\n')[0] ?? ''}`;
  if (!/idle|mixed|allocated/.test(r.stdout)) return `no Slurm node is up (sinfo: ${r.stdout.trim() || 'nothing'})`;
  return null;
}

const missing = slurmMissing();
const skip = missing === null ? false : `Slurm is not running here (${missing}): start it with .ci/slurm.sh start`;
if (missing !== null && process.env.POISON_REQUIRE_SLURM === '1') {
  test('Slurm is running (POISON_REQUIRE_SLURM=1)', () => assert.fail(`POISON_REQUIRE_SLURM=1 but ${missing}`));
}

let root: string;
before(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'poison-sweep-slurm-'));
});
after(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

/** 6 cells: knockoff on the shipped Fashion-MNIST test split × 3 defenses × 2 budgets, a tiny victim. */
async function writeConfig(name: string, cacheDir: string): Promise<string> {
  const file = path.join(root, name);
  await fs.writeFile(
    file,
    [
      'victim:',
      '  train: {dataset: mnist, arch: lenet, epochs: 1, limit: 300, seed: 7}',
      'attacks:',
      '  - {name: knockoff, queryset: fashion-mnist, querysetSplit: test}',
      'defenses:',
      '  none: {}',
      '  mad: {eps: [0.5]}',
      '  top-k: {k: 1}',
      'budgets: [40, 80]',
      'seeds: [3]',
      'attacker: {epochs: 1}',
      'testLimit: 300',
      `cacheDir: ${JSON.stringify(cacheDir)}`,
      '',
    ].join('\n'),
  );
  return file;
}

/** The CSV without timing, version and machine columns. */
function stable(csv: string): string {
  const lines = csv.trimEnd().split('\n').map((l) => l.split(','));
  const header = lines[0]!;
  const volatile = new Set<string>([...VOLATILE_COLUMNS, 'host']);
  const keep = header.map((h, i) => (volatile.has(h) ? -1 : i)).filter((i) => i >= 0);
  return lines.map((l) => keep.map((i) => l[i] ?? '').join(',')).join('\n');
}

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface Background {
  child: ChildProcess;
  done: Promise<Ran>;
  /** stdout so far. */
  stdout: () => string;
}

/** `poison ARGS` in the background (for --wait, which blocks until the merge job ends). */
function poisonAsync(args: string[], env: NodeJS.ProcessEnv): Background {
  const child = spawn(process.execPath, [POISON_BIN, ...args], { cwd: root, env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return { child, done: new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr }))), stdout: () => stdout };
}

interface StatusJson {
  done: number;
  running: number;
  cells: { id: string; state: string; slurmJob?: string; task?: string }[];
}

function status(config: string, out: string, env: NodeJS.ProcessEnv): StatusJson | null {
  const r = runCli(['sweep', config, '--out', out, '--status', '--json'], { cwd: root, env });
  return r.status === 0 ? (JSON.parse(r.stdout) as StatusJson) : null;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** `p`'s value, or null once `ms` have passed (every wait in these tests is bounded). */
async function within<T>(p: Promise<T>, ms: number): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), ms)));
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The sweep's cell ids, in the dry run's order. */
function cellIds(config: string, out: string): string[] {
  const dry = runCli(['sweep', config, '--out', out, '--dry-run'], { cwd: root, env: FAKE_RUNNER });
  assert.equal(dry.status, 0, dry.stderr);
  return [...dry.stdout.matchAll(/^([0-9a-f]{12}) /gm)].map((m) => m[1]!);
}

/** The finished cells of the sweep in `dir`: its cell files. */
async function cellFiles(dir: string): Promise<string[]> {
  return (await fs.readdir(path.join(dir, CELLS_DIR)).catch(() => [] as string[])).filter((n) => n.endsWith('.json'));
}

/** The claim (lock file) on a cell of the sweep in `dir`. */
function claimFile(dir: string, id: string): string {
  return path.join(dir, LOCKS_DIR, `${claimKey(id)}.lock`);
}

/** Every Slurm log of the sweep in `dir`, for failure messages. */
async function slurmLogs(dir: string): Promise<string> {
  const logs = path.join(dir, 'slurm', 'logs');
  const names = (await fs.readdir(logs).catch(() => [] as string[])).sort();
  return (await Promise.all(names.map(async (n) => `== ${n}\n${await fs.readFile(path.join(logs, n), 'utf8')}`))).join('\n');
}

let fakeReference: Promise<string> | undefined;
/** sweep.csv of the 6-cell config run locally (--jobs 1) with the fake runner: once, for every test comparing with it. */
function fakeReferenceCsv(): Promise<string> {
  fakeReference ??= (async () => {
    const config = await writeConfig('fake-reference.yaml', path.join(root, 'cache-fake-reference'));
    const r = runCli(['sweep', config, '--out', 'fake-reference', '--jobs', '1', '--quiet'], { cwd: root, env: FAKE_RUNNER });
    assert.equal(r.status, 0, r.stderr);
    return fs.readFile(path.join(root, 'fake-reference', 'sweep.csv'), 'utf8');
  })();
  return fakeReference;
}

/** `scontrol show job JOB` (an array task as ARRAYJOB_TASK); Restarts counts its requeues. */
function jobInfo(job: string): string {
  return spawnSync('scontrol', ['show', 'job', job], { encoding: 'utf8', timeout: 10_000 }).stdout ?? '';
}
const restarts = (info: string): number => Number(/\bRestarts=(\d+)/.exec(info)?.[1] ?? '0');

test('a real 6-cell sweep through --slurm --tasks 3 --submit --wait equals the local --jobs 1 run', { skip, timeout: 600_000 }, async () => {
  const local = runCli(['sweep', await writeConfig('local.yaml', path.join(root, 'cache-local')), '--out', 'local', '--jobs', '1', '--backend', 'wasm', '--quiet'], { cwd: root, timeoutMs: 400_000 });
  assert.equal(local.status, 0, local.stderr);
  const config = await writeConfig('cluster.yaml', path.join(root, 'cache-cluster'));
  const r = await poisonAsync(['sweep', config, '--out', 'cluster', '--backend', 'wasm', '--slurm', '--tasks', '3', '--submit', '--wait'], {}).done;
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /submitted: prepare \d+, cells \d+ \(array\), merge \d+/);
  for (const f of ['prepare', 'cells', 'merge']) await fs.access(path.join(root, 'cluster', 'slurm', `${f}.sbatch`));
  const cells = await fs.readFile(path.join(root, 'cluster', 'slurm', 'cells.sbatch'), 'utf8');
  assert.match(cells, /#SBATCH --array=1-3\n/);
  assert.match(cells, /--shard auto/);
  const a = await fs.readFile(path.join(root, 'local', 'sweep.csv'), 'utf8');
  const b = await fs.readFile(path.join(root, 'cluster', 'sweep.csv'), 'utf8');
  assert.equal(a.trimEnd().split('\n').length, 7, 'six cells');
  assert.equal(stable(b), stable(a), 'the Slurm sweep and the local one agree');
});

test('an array task cancelled mid-cell: the merge lists that cell and fails; resubmitting runs only it', { skip, timeout: 300_000 }, async () => {
  const reference = await fakeReferenceCsv();
  const config = await writeConfig('fake.yaml', path.join(root, 'cache-fake'));
  const slow = cellIds(config, 'fake-slurm')[2]!;
  const env = { ...FAKE_RUNNER, [FAKE_DELAY_ENV]: '200', [FAKE_SLOW_CELL_ENV]: `${slow}:400000` };
  const run = poisonAsync(['sweep', config, '--out', 'fake-slurm', '--slurm', '--tasks', '3', '--submit', '--wait'], env).done;
  // Wait until the slow cell runs in some task, every other cell is done and the other tasks have
  // ended (nothing left for them to pull), then cancel that task: nobody is left to take its cell.
  let job: string | undefined;
  for (let i = 0; i < 480 && !job; i++) {
    await sleep(500);
    const s = status(config, 'fake-slurm', FAKE_RUNNER);
    const cell = s?.cells.find((c) => c.id === slow);
    if (!s || s.done !== 5 || cell?.state !== 'running' || !cell.slurmJob) continue;
    const tasks = spawnSync('squeue', ['-h', '-r', '-j', cell.slurmJob.split('_')[0]!, '-o', '%i %T'], { encoding: 'utf8' }).stdout.trim().split('\n');
    if (tasks.length === 1 && tasks[0] === `${cell.slurmJob} RUNNING`) job = cell.slurmJob;
  }
  assert.ok(job, 'the slow cell ran in an array task while the others finished');
  const cancelledAt = performance.now();
  assert.equal(spawnSync('scancel', [job]).status, 0);
  const first = await run;
  const logs = path.join(root, 'fake-slurm', 'slurm', 'logs');
  assert.equal(first.code, 1, `${first.stderr}\ncancelled ${job} ${((performance.now() - cancelledAt) / 1000).toFixed(0)} s before the merge ended\n${await slurmLogs(path.join(root, 'fake-slurm'))}`);
  assert.match(first.stderr, /the merge job \d+ ended with exit status 1/);
  const mergeLog = (await fs.readdir(logs)).filter((n) => n.startsWith('merge-'));
  const logText = await fs.readFile(path.join(logs, mergeLog[0]!), 'utf8');
  assert.match(logText, new RegExp(`not finished: cell ${slow}`));
  assert.match(logText, /1 of 6 cells did not finish/);
  // The cancelled task releases its claim in its SIGTERM handler, which may still be running when
  // the merge (afterany) has already ended: wait for the release, bounded.
  let after = status(config, 'fake-slurm', FAKE_RUNNER)!;
  for (let i = 0; i < 60 && after.cells.find((c) => c.id === slow)?.state !== 'pending'; i++) {
    await sleep(500);
    after = status(config, 'fake-slurm', FAKE_RUNNER)!;
  }
  assert.equal(after.cells.find((c) => c.id === slow)?.state, 'pending', 'the cancelled task released its claim');

  const cellsDir = path.join(root, 'fake-slurm', 'cells');
  const before = new Map<string, number>();
  for (const n of await fs.readdir(cellsDir)) before.set(n, (await fs.stat(path.join(cellsDir, n))).mtimeMs);
  assert.equal(before.size, 5);
  const again = await poisonAsync(['sweep', config, '--out', 'fake-slurm', '--slurm', '--tasks', '3', '--submit', '--wait'], { ...FAKE_RUNNER }).done;
  assert.equal(again.code, 0, again.stderr);
  for (const [n, mtime] of before) assert.equal((await fs.stat(path.join(cellsDir, n))).mtimeMs, mtime, `${n} was not run again`);
  assert.equal((await fs.readdir(cellsDir)).length, 6);
  assert.equal(stable(await fs.readFile(path.join(root, 'fake-slurm', 'sweep.csv'), 'utf8')), stable(reference));
});

test('an array task warned with USR1 (as --signal=B:USR1@… does) releases its cell, its script requeues it, and the sweep finishes', { skip, timeout: 300_000 }, async () => {
  const reference = await fakeReferenceCsv();
  const config = await writeConfig('warned.yaml', path.join(root, 'cache-warned'));
  const dir = path.join(root, 'warned');
  const slow = cellIds(config, 'warned')[2]!;
  // The slow cell runs long enough to be caught mid-cell, and once more, whole, after the requeue.
  const env = { ...FAKE_RUNNER, [FAKE_DELAY_ENV]: '200', [FAKE_SLOW_CELL_ENV]: `${slow}:25000` };
  const run = poisonAsync(['sweep', config, '--out', 'warned', '--slurm', '--tasks', '2', '--submit', '--wait'], env);
  const logs = path.join(dir, 'slurm', 'logs');
  const allLogs = (): Promise<string> => slurmLogs(dir);
  try {
    // Wait until the slow cell runs in one task, every other cell is done and the other task has
    // ended: only a requeued run of the warned task can then finish the slow cell.
    let job: string | undefined;
    let firstPid = 0;
    for (let i = 0; i < 240 && !job; i++) {
      await sleep(500);
      const holder = await readHolder(claimFile(dir, slow));
      if (!holder?.slurmJob || (await cellFiles(dir)).length !== 5) continue;
      const tasks = spawnSync('squeue', ['-h', '-r', '-j', holder.slurmJob.split('_')[0]!, '-o', '%i %T'], { encoding: 'utf8', timeout: 10_000 }).stdout.trim().split('\n');
      if (tasks.length === 1 && tasks[0] === `${holder.slurmJob} RUNNING`) {
        job = holder.slurmJob;
        firstPid = holder.pid;
      }
    }
    assert.ok(job, `the slow cell ran in an array task while the other task finished the rest\n${await allLogs()}`);
    // Exactly what Slurm sends at --signal=B:USR1@120: USR1 to the batch shell alone, not to poison.
    const warned = spawnSync('scancel', ['--signal=USR1', '--batch', job], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(warned.status, 0, warned.stderr);
    // The script's trap forwards USR1 to poison, waits for it to exit, then requeues the task.
    let info = jobInfo(job);
    for (let i = 0; i < 120 && restarts(info) === 0; i++) {
      await sleep(500);
      info = jobInfo(job);
    }
    assert.ok(restarts(info) >= 1, `the task's script requeued it (Restarts≥1):\n${info}\n${await allLogs()}`);
    // By then poison had exited: its claim released (no lock, beat or aside file for the cell)
    // and the cell left unfinished for whoever runs next.
    const leftovers = (await fs.readdir(path.join(dir, LOCKS_DIR))).filter((n) => n.startsWith(`${claimKey(slow)}.lock`));
    assert.deepEqual(leftovers, [], 'the warned task released its claim on the slow cell');
    assert.ok(!existsSync(cellPath(dir, slow)), 'the warned task left the slow cell unfinished (it did not run it to the end)');
    // Slurm (22.05 here) holds a requeued job pending for about two minutes: the requeue sets its
    // EligibleTime ~121 s ahead (Reason=BeginTime from the next scheduler pass on). Waiting that out
    // tests nothing of poison's and triples this test's time, so the start is moved to now; the
    // task was requeued all the same, and Slurm starts it again as after any requeue.
    const eligible = Date.parse(/\bEligibleTime=(\S+)/.exec(info)?.[1] ?? '');
    if (/JobState=PENDING/.test(info) && eligible > Date.now() + 5000) {
      const now = spawnSync('scontrol', ['update', `jobid=${job}`, 'StartTime=now'], { encoding: 'utf8', timeout: 10_000 });
      assert.equal(now.status, 0, now.stderr);
    }
    const r = await within(run.done, 200_000);
    assert.ok(r, `the sweep (--wait) ended within 200 s of the requeue\n${jobInfo(job)}\n${await allLogs()}`);
    assert.equal(r.code, 0, `${r.stderr}${r.stdout}\n${await allLogs()}`);
    // The task's log (appended to, not truncated, by its requeued run) holds both runs.
    const log = await fs.readFile(path.join(logs, `cells-${job}.log`), 'utf8');
    assert.match(log, /sweep stopped by SIGUSR1/);
    assert.match(log, /1 to run/, 'the requeued run found only the slow cell left');
    const final = jobInfo(job);
    assert.match(final, /JobState=COMPLETED/);
    assert.equal(restarts(final), 1, final);
    // The slow cell was finished by the requeued run of the same array task (another process).
    const cell = status(config, 'warned', FAKE_RUNNER)?.cells.find((c) => c.id === slow);
    assert.equal(cell?.state, 'done');
    const by = new RegExp(`pid (\\d+) slurm ${job}$`).exec(cell.task ?? '');
    assert.ok(by && Number(by[1]) !== firstPid, `the requeued task ran it: ${cell.task ?? 'no task recorded'} (first run: pid ${firstPid})`);
    assert.equal((await cellFiles(dir)).length, 6);
    assert.equal(stable(await fs.readFile(path.join(dir, 'sweep.csv'), 'utf8')), stable(reference));
  } finally {
    // A failed assertion must not leave jobs queued or the --wait process running.
    const ids = /submitted: prepare (\d+), cells (\d+) \(array\), merge (\d+)/.exec(run.stdout());
    if (ids) spawnSync('scancel', [ids[1]!, ids[2]!, ids[3]!], { timeout: 10_000 });
    run.child.kill('SIGKILL');
  }
});

// The scripts are written without Slurm too: the flags reach the #SBATCH lines.
test('--slurm writes the three scripts with the flags given', async () => {
  const config = await writeConfig('flags.yaml', path.join(root, 'cache-flags'));
  const r = runCli(
    ['sweep', config, '--out', 'flags', '--slurm', '--tasks', '5', '--parallelism', '2', '--partition', 'gpu', '--gpus-per-task', '1', '--cpus-per-task', '4', '--mem', '16G', '--time', '2:00:00', '--sbatch-arg=--account=abc'],
    { cwd: root, env: FAKE_RUNNER },
  );
  assert.equal(r.status, 0, r.stderr);
  const dir = path.join(root, 'flags', 'slurm');
  const cells = await fs.readFile(path.join(dir, 'cells.sbatch'), 'utf8');
  for (const line of ['--array=1-5%2', '--partition=gpu', '--gpus-per-task=1', '--cpus-per-task=4', '--mem=16G', '--time=2:00:00', '--account=abc', '--requeue', '--signal=B:USR1@120', '--open-mode=append']) {
    assert.ok(cells.includes(`#SBATCH ${line}\n`), line);
  }
  assert.match(cells, /--shard auto --jobs 4/);
  assert.doesNotMatch(cells, /tensorflow-gpu/);
  const prepare = await fs.readFile(path.join(dir, 'prepare.sbatch'), 'utf8');
  assert.match(prepare, /--prepare/);
  const merge = await fs.readFile(path.join(dir, 'merge.sbatch'), 'utf8');
  assert.match(merge, /--merge --require-all/);
  assert.ok(merge.includes('#SBATCH --account=abc\n'));
  assert.ok(!merge.includes('--gpus-per-task'), 'the merge needs no GPU');
  // The scripts' folder does not make the output look foreign to the sweep.
  const dry = runCli(['sweep', config, '--out', 'flags', '--dry-run'], { cwd: root, env: FAKE_RUNNER });
  assert.equal(dry.status, 0, dry.stderr);
  void REPO_ROOT;
});

test('--shard auto reads the array task from Slurm, Kubernetes or AWS Batch, and is a usage error elsewhere', async () => {
  const config = await writeConfig('auto.yaml', path.join(root, 'cache-auto'));
  const clean: NodeJS.ProcessEnv = { SLURM_ARRAY_TASK_ID: '', JOB_COMPLETION_INDEX: '', AWS_BATCH_JOB_ARRAY_INDEX: '' };
  const outside = runCli(['sweep', config, '--out', 'auto', '--shard', 'auto'], { cwd: root, env: { ...FAKE_RUNNER, ...clean } });
  assert.equal(outside.status, 2);
  assert.match(outside.errLines.join('\n'), /--shard auto: this process is not a job-array task/);
  const k8sNoCount = runCli(['sweep', config, '--out', 'auto', '--shard', 'auto'], { cwd: root, env: { ...FAKE_RUNNER, ...clean, JOB_COMPLETION_INDEX: '1' } });
  assert.equal(k8sNoCount.status, 2);
  assert.match(k8sNoCount.errLines.join('\n'), /--shard auto\/N/);
  const runs: [NodeJS.ProcessEnv, string, RegExp][] = [
    [{ SLURM_ARRAY_TASK_ID: '4', SLURM_ARRAY_TASK_MIN: '3', SLURM_ARRAY_TASK_COUNT: '3' }, 'auto', /task 2 of 3, pulling/],
    [{ JOB_COMPLETION_INDEX: '0' }, 'auto/2', /task 1 of 2, pulling/],
    [{ AWS_BATCH_JOB_ARRAY_INDEX: '2' }, 'auto', /task 3, pulling/],
  ];
  for (const [vars, shard, line] of runs) {
    const r = runCli(['sweep', config, '--out', 'auto', '--shard', shard, '--jobs', '1'], { cwd: root, env: { ...FAKE_RUNNER, ...clean, ...vars } });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, line);
  }
});

// Without Slurm too: two array tasks on one output folder pull the cells between them.
test('two --shard auto tasks on one folder pull every cell exactly once between them', async () => {
  const config = await writeConfig('pull.yaml', path.join(root, 'cache-pull'));
  const clean: NodeJS.ProcessEnv = { SLURM_ARRAY_TASK_ID: '', JOB_COMPLETION_INDEX: '', AWS_BATCH_JOB_ARRAY_INDEX: '' };
  const task = (i: number): Promise<Ran> =>
    poisonAsync(['sweep', config, '--out', 'pull', '--shard', 'auto', '--jobs', '1'], {
      ...FAKE_RUNNER,
      ...clean,
      [FAKE_DELAY_ENV]: '3000',
      SLURM_ARRAY_TASK_ID: String(i),
      SLURM_ARRAY_TASK_COUNT: '2',
    }).done;
  const [a, b] = await Promise.all([task(1), task(2)]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  const ran = (r: Ran): string[] => [...r.stderr.matchAll(/^\[\d+\/\d+\] ([0-9a-f]{12}) /gm)].map((m) => m[1]!);
  const all = [...ran(a), ...ran(b)];
  assert.equal(new Set(all).size, all.length, `no cell ran twice: ${ran(a).join(' ')} | ${ran(b).join(' ')}`);
  assert.equal(all.length, 6, 'every cell ran');
  assert.ok(ran(a).length > 0 && ran(b).length > 0, `both tasks pulled cells: ${ran(a).length} and ${ran(b).length}`);
  const rows = (await fs.readFile(path.join(root, 'pull', 'sweep.csv'), 'utf8')).split('\n').filter((l) => /^[0-9a-f]{12},/.test(l));
  assert.equal(rows.length, 6, 'the task that finished the last cell merged all six');
});

// Without Slurm too: the signals a sweep is stopped by. SIGUSR1 is Slurm's warning before the time
// limit (--signal=USR1@…), SIGTERM preemption, scancel or a requeue, SIGINT Ctrl-C.
for (const signal of ['SIGUSR1', 'SIGTERM', 'SIGINT'] as const) {
  const code = 128 + os.constants.signals[signal];
  test(`a sweep stopped by ${signal} mid-cell exits ${code} at once, leaves no lock and that cell unfinished; a rerun runs only it`, async () => {
    const reference = await fakeReferenceCsv();
    const out = `stopped-${signal}`;
    const dir = path.join(root, out);
    const config = await writeConfig(`${out}.yaml`, path.join(root, `cache-${out}`));
    const slow = cellIds(config, out)[2]!;
    // Two workers: the other cells finish while the slow one (two minutes) runs.
    const run = poisonAsync(['sweep', config, '--out', out, '--jobs', '2'], { ...FAKE_RUNNER, [FAKE_SLOW_CELL_ENV]: `${slow}:120000` });
    try {
      let midCell = false;
      for (let i = 0; i < 600 && !midCell; i++) {
        await sleep(100);
        midCell = (await readHolder(claimFile(dir, slow)))?.pid === run.child.pid && (await cellFiles(dir)).length === 5;
      }
      assert.ok(midCell, 'the slow cell was running in this process and the other five were done');
      const sent = performance.now();
      run.child.kill(signal);
      const r = await within(run.done, 15_000);
      assert.ok(r, `the sweep exited within 15 s of ${signal}`);
      assert.ok(performance.now() - sent < 15_000);
      assert.equal(r.code, code, r.stderr);
      assert.match(r.stderr, new RegExp(`sweep stopped by ${signal}`));
      // Only the markers of finished shared work may stay: no lock, beat or aside file of its own.
      const left = (await fs.readdir(path.join(dir, LOCKS_DIR))).filter((n) => !n.endsWith('.ready'));
      assert.deepEqual(left, [], 'the stopped sweep released every lock it held');
      assert.ok(!existsSync(cellPath(dir, slow)), 'the cell it was running is not marked done');
      assert.equal((await cellFiles(dir)).length, 5);
    } finally {
      run.child.kill('SIGKILL');
    }
    const mtimes = new Map<string, number>();
    for (const n of await cellFiles(dir)) mtimes.set(n, (await fs.stat(path.join(dir, CELLS_DIR, n))).mtimeMs);
    const again = runCli(['sweep', config, '--out', out, '--jobs', '2'], { cwd: root, env: FAKE_RUNNER });
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stderr, /5 already finished, 1 to run/);
    assert.deepEqual([...again.stderr.matchAll(/^\[\d+\/\d+\] ([0-9a-f]{12}) /gm)].map((m) => m[1]), [slow], 'the rerun ran exactly the stopped cell');
    for (const [n, mtime] of mtimes) assert.equal((await fs.stat(path.join(dir, CELLS_DIR, n))).mtimeMs, mtime, `${n} was not run again`);
    assert.equal(stable(await fs.readFile(path.join(dir, 'sweep.csv'), 'utf8')), stable(reference));
  });
}
