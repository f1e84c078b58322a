/**
 * `poison sweep` as a user runs it, with the fake cell runner (helpers/fake-runner.ts:
 * deterministic numbers, no training) so the machinery is tested in seconds: the CSV matches a
 * committed golden file and is byte-identical across runs; a sweep killed with SIGKILL at any
 * point and rerun ends with the same CSV; shards on "several machines" add up to the same CSV;
 * bad input is one clear message, exit code 2 and nothing written.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { FAKE_CSV_FIRST_LINE, VOLATILE_COLUMNS } from '../src/sweep/report/sweep-csv.js';
import { RUNNER_MODULE_ENV } from '../src/sweep/run/runner-module.js';
import { FAKE_DELAY_ENV, FAKE_RUNNER } from './helpers/fake-runner.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const bin = path.join(repo, 'bin/poison');
const fixture = path.join(repo, 'test/fixtures/sweep/fake.yaml');
const golden = path.join(repo, 'test/fixtures/sweep/golden-fake.csv');
/** fake.yaml: 3 attack entries × 2 budgets × 2 seeds × (none + 3 mad + 2 mad-argmax + 2 reverse sigmoid + 1 top-k). */
const CELLS = 3 * 2 * 2 * 9;

let root: string;
let reference: string;

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function poison(args: string[], env: Record<string, string> = FAKE_RUNNER): Ran {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: root, env: { ...process.env, ...env }, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Run the CLI and SIGKILL it once `when` says so (seeing its stderr so far), or after `when`
 * milliseconds; resolves when it is gone.
 */
function poisonKilled(args: string[], when: number | ((stderr: string) => boolean), env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let killed = false;
    if (typeof when === 'number') {
      setTimeout(() => {
        killed = true;
        child.kill('SIGKILL');
      }, when);
    }
    child.stderr.on('data', (d: Buffer) => {
      if (typeof when === 'number') return;
      stderr += d.toString();
      if (!killed && when(stderr)) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.on('error', reject);
    child.on('exit', () => resolve(stderr));
  });
}

function finishedLines(stderr: string): number {
  return stderr.split('\n').filter((l) => /^(\r\x1b\[K)?\[\d+\/\d+\] /.test(l)).length;
}

async function cellCount(out: string): Promise<number> {
  return (await fs.readdir(path.join(out, 'cells')).catch(() => [] as string[])).filter((n) => n.endsWith('.json')).length;
}

/** The CSV without the columns that hold timings, versions or the machine, as CSV text. */
function stable(csv: string): string {
  // The fake runner's notice line stays, as written, above the header.
  const notice = csv.startsWith('#') ? csv.slice(0, csv.indexOf('\n') + 1) : '';
  return notice + stableTable(csv.slice(notice.length));
}

function stableTable(csv: string): string {
  const rows = parse(csv);
  const keep = rows[0]!.map((name, i) => ((VOLATILE_COLUMNS as readonly string[]).includes(name) ? -1 : i)).filter((i) => i >= 0);
  return stringify(rows.map((r) => keep.map((i) => r[i] ?? '')), { record_delimiter: 'unix' });
}

/**
 * Byte-for-byte equality of two sweep CSVs, except the git_commit column: the repository can be
 * committed to (or edited: "+dirty") while the suite runs, which rightly changes that column.
 */
function assertSameCsv(actual: string, expected: string, message: string): void {
  const mask = (csv: string): string => {
    const lines = csv.split('\n');
    const fieldsOf = (line: string): string[] => parse(line)[0] ?? [];
    const header = lines.findIndex((line) => !line.startsWith('#'));
    const col = fieldsOf(lines[header]!).indexOf('git_commit');
    return lines
      .map((line, i) => {
        if (i <= header || line === '') return line;
        const fields = fieldsOf(line);
        assert.match(fields[col]!, /^[0-9a-f]{40}(\+dirty)?$/, 'git_commit');
        // The commit is the last column and holds no comma or quote: cut it off the raw line.
        return line.slice(0, line.length - fields[col]!.length);
      })
      .join('\n');
  };
  assert.equal(mask(actual), mask(expected), message);
}

before(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'poison-sweep-cli-'));
  const r = poison(['sweep', fixture, '--out', 'reference', '--jobs', '2', '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  reference = await fs.readFile(path.join(root, 'reference', 'sweep.csv'), 'utf8');
});

after(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

test('a fake sweep writes every cell, the CSV (matching the golden file), the summary and the plots', async () => {
  const out = path.join(root, 'reference');
  assert.equal(await cellCount(out), CELLS);
  // The notice that nothing here is measured, the header, one row per cell.
  assert.equal(reference.trimEnd().split('\n').length, CELLS + 2);
  assert.equal(reference.split('\n')[0], FAKE_CSV_FIRST_LINE);
  assert.match(FAKE_CSV_FIRST_LINE, /^# NOT A MEASUREMENT: made by the fake runner/);
  if (process.env.POISON_UPDATE_GOLDEN === '1') await fs.writeFile(golden, stable(reference));
  assert.equal(stable(reference), await fs.readFile(golden, 'utf8'), 'sweep.csv differs from test/fixtures/sweep/golden-fake.csv');
  const summary = await fs.readFile(path.join(out, 'summary.md'), 'utf8');
  assert.match(summary, /^# Sweep fake: NOT A MEASUREMENT \(fake runner\)\n\nNOT A MEASUREMENT: made by the fake runner/);
  assert.match(summary, /108 of 108 cells finished/);
  assert.match(summary, /## knockoff \(labelMode=argmax\), budget 400/);
  const plots = (await fs.readdir(path.join(out, 'plots'))).sort();
  assert.deepEqual(plots, [
    'jbda-b100.svg', 'jbda-b400.svg',
    'knockoff-labelmode-argmax-b100.svg', 'knockoff-labelmode-argmax-b400.svg',
    'knockoff-labelmode-probs-b100.svg', 'knockoff-labelmode-probs-b400.svg',
  ]);
  const svg = await fs.readFile(path.join(out, 'plots', 'jbda-b400.svg'), 'utf8');
  assert.match(svg, /^<svg/);
  assert.ok(svg.includes('undefended') && svg.includes('ideal') && svg.includes('mad-argmax'));
  assert.ok(svg.includes('NOT A MEASUREMENT (fake runner)'), 'the title says the figure is not a measurement');
  const fingerprint = JSON.parse(await fs.readFile(path.join(out, 'sweep.json'), 'utf8')) as { format: string; fingerprint: string };
  assert.equal(fingerprint.format, 'poison-sweep/1');
  assert.match(fingerprint.fingerprint, /^[0-9a-f]{16}$/);
});

test('two runs give byte-identical CSVs; rerunning a finished sweep runs nothing and rewrites the same CSV', async () => {
  const r = poison(['sweep', fixture, '--out', 'again', '--jobs', '1', '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  assertSameCsv(await fs.readFile(path.join(root, 'again', 'sweep.csv'), 'utf8'), reference, 'second run');
  const rerun = poison(['sweep', fixture, '--out', 'again', '--jobs', '2']);
  assert.equal(rerun.code, 0, rerun.stderr);
  assert.match(rerun.stderr, /108 cells, 108 already finished, 0 to run/);
  assert.equal(finishedLines(rerun.stderr), 0);
  assertSameCsv(await fs.readFile(path.join(root, 'again', 'sweep.csv'), 'utf8'), reference, 'rerun');
});

test('killed with SIGKILL at any point (before any cell, after 1, after many) and rerun: the same CSV', async () => {
  const slow = { ...FAKE_RUNNER, [FAKE_DELAY_ENV]: '25' };
  const points: [string, number | ((stderr: string) => boolean)][] = [
    ['while starting', 150],
    ['while the victim is prepared', (s) => /training the victim/.test(s)],
    ['before any cell finished', (s) => /to run on/.test(s)],
    ['after 1 cell', (s) => finishedLines(s) >= 1],
    ['after 17 cells', (s) => finishedLines(s) >= 17],
    ['after 70 cells', (s) => finishedLines(s) >= 70],
  ];
  for (const [i, [name, when]] of points.entries()) {
    const out = `killed-${i}`;
    await poisonKilled(['sweep', fixture, '--out', out, '--jobs', '2'], when, slow);
    const partial = await cellCount(path.join(root, out));
    assert.ok(partial < CELLS, `${name}: the kill came before the end (${partial} cells)`);
    assert.ok(!existsSync(path.join(root, out, 'sweep.csv')), `${name}: no CSV from a killed run`);
    // A second kill of the rerun, then the run that finishes.
    await poisonKilled(['sweep', fixture, '--out', out, '--jobs', '2'], (s) => finishedLines(s) >= 3, slow);
    const r = poison(['sweep', fixture, '--out', out, '--jobs', '2']);
    assert.equal(r.code, 0, `${name}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`108 cells, \\d+ already finished, \\d+ to run`));
    assertSameCsv(await fs.readFile(path.join(root, out, 'sweep.csv'), 'utf8'), reference, `${name}: CSV differs`);
    // No worker outlives its sweep, no lock stays behind.
    const locks = (await fs.readdir(path.join(root, out, 'locks'))).filter((n) => n.endsWith('.lock'));
    assert.deepEqual(locks, [], name);
  }
});

test('shards: three machines each run a third, the last one merges, and the CSV is the same', async () => {
  const seen = new Set<string>();
  for (const i of [1, 2, 3]) {
    const before = new Set(await fs.readdir(path.join(root, 'sharded', 'cells')).catch(() => [] as string[]));
    const r = poison(['sweep', fixture, '--out', 'sharded', '--shard', `${i}/3`, '--jobs', '2']);
    assert.equal(r.code, 0, r.stderr);
    const now = (await fs.readdir(path.join(root, 'sharded', 'cells'))).filter((n) => n.endsWith('.json'));
    const added = now.filter((n) => !before.has(n));
    assert.equal(added.length, CELLS / 3, `shard ${i} ran a third of the cells`);
    for (const n of added) {
      assert.ok(!seen.has(n), 'no cell ran in two shards');
      seen.add(n);
    }
    if (i < 3) {
      assert.match(r.stderr, /cells of other shards not finished yet/);
      assert.ok(!existsSync(path.join(root, 'sharded', 'sweep.csv')), 'an unfinished sweep is not merged automatically');
    }
  }
  assertSameCsv(await fs.readFile(path.join(root, 'sharded', 'sweep.csv'), 'utf8'), reference, 'sharded');
});

test('shards running at the same time share the victim and the transfer sets, and --merge gathers them', async () => {
  const slow = { ...FAKE_RUNNER, [FAKE_DELAY_ENV]: '10' };
  const runShard = (i: number): Promise<number | null> =>
    new Promise((resolve) => {
      const c = spawn(process.execPath, [bin, 'sweep', fixture, '--out', 'parallel', '--shard', `${i}/2`, '--jobs', '1', '--quiet'], {
        cwd: root,
        env: { ...process.env, ...slow },
        stdio: 'ignore',
      });
      c.on('exit', (code) => resolve(code));
    });
  const codes = await Promise.all([runShard(1), runShard(2)]);
  assert.deepEqual(codes, [0, 0]);
  const r = poison(['sweep', fixture, '--out', 'parallel', '--merge']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /sweep\.csv: 108 of 108 cells/);
  assertSameCsv(await fs.readFile(path.join(root, 'parallel', 'sweep.csv'), 'utf8'), reference, 'parallel shards');
});

test('--dry-run lists the cells and which are finished, and writes nothing', async () => {
  const fresh = poison(['sweep', fixture, '--out', 'dry', '--dry-run']);
  assert.equal(fresh.code, 0, fresh.stderr);
  assert.match(fresh.stdout, /108 cells: 0 finished, 108 to run/);
  assert.match(fresh.stdout, /\(to be trained first\)/);
  assert.equal(fresh.stdout.split('\n').filter((l) => /^[0-9a-f]{12} {2}todo /.test(l)).length, CELLS);
  assert.ok(!existsSync(path.join(root, 'dry')), 'a dry run creates nothing');

  await poisonKilled(['sweep', fixture, '--out', 'dry', '--jobs', '1'], (s) => finishedLines(s) >= 5, { ...FAKE_RUNNER, [FAKE_DELAY_ENV]: '25' });
  const done = await cellCount(path.join(root, 'dry'));
  const listing = poison(['sweep', fixture, '--out', 'dry', '--dry-run', '--shard', '1/2']);
  assert.equal(listing.code, 0, listing.stderr);
  assert.match(listing.stdout, new RegExp(`108 cells: ${done} finished, ${CELLS - done} to run; shard 1/2 has 54`));
  const rows = listing.stdout.split('\n').filter((l) => /^[0-9a-f]{12} {2}/.test(l));
  assert.equal(rows.length, 54);
  const doneIds = new Set((await fs.readdir(path.join(root, 'dry', 'cells'))).map((n) => n.slice(0, 12)));
  for (const row of rows) assert.equal(row.includes('  done  '), doneIds.has(row.slice(0, 12)), row);
});

/** Exit code 2, one message naming the problem, and no output directory written. */
function refused(r: Ran, message: RegExp, out?: string): void {
  assert.equal(r.code, 2, `exit code (stderr: ${r.stderr})`);
  assert.match(r.stderr, message);
  assert.equal(r.stderr.match(/^poison: /gm)?.length ?? 0, 1, 'one message');
  assert.doesNotMatch(r.stderr, /internal error|at .*\.js:\d+/);
  if (out) assert.ok(!existsSync(path.join(root, out)), `${out} was not created`);
}

test('bad input: one clear message, exit code 2, nothing written', async () => {
  const text = await fs.readFile(fixture, 'utf8');
  const write = async (name: string, content: string): Promise<string> => {
    const file = path.join(root, name);
    await fs.writeFile(file, content);
    return file;
  };
  refused(poison(['sweep', await write('malformed.yaml', 'victim:\n  train: {dataset: mnist\nattacks: [\n'), '--out', 'bad1']), /malformed\.yaml:\d+:\d+: expected valid YAML, found/, 'bad1');
  refused(
    poison(['sweep', await write('attack.yaml', text.replace('{name: jbda,', '{name: jbdaa,')), '--out', 'bad2']),
    /attack\.yaml:7:12: attacks\[2\]\.name: expected one of knockoff, knockoff-adaptive, jbda, jbself, jbtop, jbtr, found 'jbdaa' \(text\) \(did you mean 'jbda'\?\)/,
    'bad2',
  );
  refused(poison(['sweep', await write('defense.yaml', text.replace('top-k: {k: 1}', 'topk: {k: 1}')), '--out', 'bad3']), /defense\.yaml:13:3: defenses\.topk: expected a defense/, 'bad3');
  refused(poison(['sweep', await write('param.yaml', text.replace('ydist: l1', 'ydst: l1')), '--out', 'bad4']), /defenses\.mad\.ydst: expected one of the keys eps, ydist, .*unknown key 'ydst' \(did you mean 'ydist'\?\)/, 'bad4');
  refused(poison(['sweep', await write('empty.yaml', text.replace('budgets: [100, 400]', 'budgets: []')), '--out', 'bad5']), /budgets: expected a value or a non-empty list of values, found an empty list/, 'bad5');
  refused(poison(['sweep', fixture, '--out', 'bad6', '--shard', '3/2']), /--shard 3\/2: i must be between 1 and 2/, 'bad6');
  refused(poison(['sweep', path.join(root, 'no-such.yaml'), '--out', 'bad7']), /sweep config .*no-such\.yaml does not exist/, 'bad7');
  refused(poison(['sweep', fixture, '--out', 'bad8', '--merge']), /bad8 holds no cells of this sweep: nothing to merge/, 'bad8');
  refused(poison(['sweep', fixture, '--out', 'bad9', '--jobs', '0']), /--jobs must be ≥ 1, got 0/, 'bad9');
  refused(poison(['sweep', fixture, '--out', 'bad10', '--dry-run', '--merge']), /--dry-run and --merge do not go together/, 'bad10');
  const notARunner = path.join(repo, 'dist/src/errors.js');
  refused(poison(['sweep', fixture, '--out', 'bad11'], { [RUNNER_MODULE_ENV]: notARunner }), /POISON_SWEEP_RUNNER_MODULE=.*errors\.js does not export readsData \(a boolean\) and createRunner\(\)/, 'bad11');
  refused(poison(['sweep', fixture, '--out', 'bad12'], { [RUNNER_MODULE_ENV]: path.join(root, 'no-such.js') }), /POISON_SWEEP_RUNNER_MODULE=.*no-such\.js: cannot load it/, 'bad12');
});

test("an output directory holding another sweep's cells is refused unless --force, which starts over", async () => {
  // A copy of the reference sweep: --force below replaces what it holds, and the other tests read
  // 'reference' itself (they run in any order).
  const out = path.join(root, 'replaced');
  await fs.cp(path.join(root, 'reference'), out, { recursive: true });
  const before = await cellCount(out);
  const other = path.join(root, 'other-victim.yaml');
  await fs.writeFile(other, (await fs.readFile(fixture, 'utf8')).replace('epochs: 1, limit: 300', 'epochs: 2, limit: 300'));
  const r = poison(['sweep', other, '--out', 'replaced', '--jobs', '2']);
  refused(r, /replaced holds the results of a different sweep \(.*fake\.yaml, victim: mnist lenet trained 1 epochs.*this config's victim: mnist lenet trained 2 epochs.*pass --force/);
  assert.equal(await cellCount(out), before, 'nothing was touched');
  assertSameCsv(await fs.readFile(path.join(out, 'sweep.csv'), 'utf8'), reference, 'untouched');

  await fs.mkdir(path.join(root, 'foreign'));
  await fs.writeFile(path.join(root, 'foreign', 'notes.txt'), 'mine');
  refused(poison(['sweep', fixture, '--out', 'foreign']), /foreign holds files that are not a poison sweep's \(notes\.txt\)/);

  const forced = poison(['sweep', other, '--out', 'replaced', '--jobs', '2', '--force', '--quiet']);
  assert.equal(forced.code, 0, forced.stderr);
  assert.equal(await cellCount(out), CELLS, 'the old cells are gone, the new sweep is complete');
  const csv = await fs.readFile(path.join(out, 'sweep.csv'), 'utf8');
  assert.notEqual(csv, reference, 'a different victim gives different ids and numbers');
});

test('--help lists the flags, and the command module does not import TensorFlow.js', async () => {
  const r = spawnSync(process.execPath, [bin, 'sweep', '--help'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  for (const flag of ['--dry-run', '--merge', '--jobs', '--shard', '--out', '--backend', '--force', '--quiet']) assert.ok(r.stdout.includes(flag), flag);
  // Walk the static imports of the compiled command file: none may reach @tensorflow.
  const seen = new Set<string>();
  const visit = async (file: string): Promise<void> => {
    if (seen.has(file)) return;
    seen.add(file);
    const js = await fs.readFile(file, 'utf8');
    for (const m of js.matchAll(/^(?:import|export)\s[^;]*?from\s+['"]([^'"]+)['"]|^import\s+['"]([^'"]+)['"]/gm)) {
      const spec = m[1] ?? m[2]!;
      assert.ok(!spec.startsWith('@tensorflow'), `${path.relative(repo, file)} imports ${spec} at top level`);
      if (spec.startsWith('.')) await visit(path.resolve(path.dirname(file), spec));
    }
  };
  await visit(path.join(repo, 'dist/src/cli/commands/sweep.js'));
  assert.ok(seen.size > 3);
});
