/**
 * `poison attack` as a user runs it: every bad input is one line on stderr with exit code 2 (or
 * 1) and nothing written; a run killed during training leaves no result and reruns cleanly.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { promises as fs, existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { trainVictim } from '../src/train/victim.js';
import { buildModel } from '../src/models/registry.js';
import { saveModel, type ModelParams } from '../src/models/io.js';
import { PARAMS_FILE } from '../src/models/files.js';
import { Rng } from '../src/util/rng.js';

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/poison');
let root: string;
let victim: string;
let smallVictim: string;

before(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'poison-attack-cli-'));
  victim = path.join(root, 'victim');
  await trainVictim({
    dataset: 'mnist', arch: 'lenet', epochs: 1, lr: 0.1, momentum: 0.5, batchSize: 64, lrStep: 50, weightDecay: 0,
    seed: 1, out: victim, force: false, limit: 300, backend: 'wasm', quiet: true,
  });
  // A LeNet taking 24×24 inputs: no dataset converts to that shape.
  smallVictim = path.join(root, 'victim-24');
  const model = buildModel('lenet', { inputShape: [24, 24, 1], numClasses: 10, rng: new Rng(2) });
  await saveModel(model, smallVictim);
  model.dispose();
  const params: ModelParams = {
    kind: 'victim', arch: 'lenet', dataset: 'mnist', numClasses: 10, seed: 2,
    input: { height: 24, width: 24, channels: 1, mean: [0.1307], std: [0.3081] },
  };
  await fs.writeFile(path.join(smallVictim, PARAMS_FILE), JSON.stringify(params));
});

after(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

function poison(args: string[]): { status: number | null; stderr: string; stdout: string } {
  const r = spawnSync(process.execPath, [bin, 'attack', ...args], { encoding: 'utf8', cwd: root });
  return { status: r.status, stderr: r.stderr, stdout: r.stdout };
}

const quick = ['--backend', 'wasm', '--test-limit', '100', '--epochs', '1', '--quiet', '--no-cache'];

const badInputs: { name: string; args: () => string[]; code: number; says: RegExp }[] = [
  { name: 'unknown attack', args: () => ['--victim', victim, '--attack', 'copycat'], code: 2, says: /--attack: unknown value 'copycat'/ },
  {
    name: 'query pool that cannot be converted to the victim input',
    args: () => ['--victim', smallVictim, '--attack', 'knockoff', '--queryset', 'mnist', '--budget', '50'],
    code: 2,
    says: /cannot feed mnist \(28×28×1\) to a model taking 24×24×1/,
  },
  { name: 'budget below the seed set', args: () => ['--victim', victim, '--attack', 'jbda', '--budget', '50'], code: 2, says: /smaller than the seed set/ },
  {
    name: 'budget larger than the pool',
    args: () => ['--victim', victim, '--attack', 'knockoff', '--queryset', 'mnist', '--queryset-split', 'test', '--budget', '10001'],
    code: 2,
    says: /larger than the query pool/,
  },
  {
    name: '--kappa with knockoff',
    args: () => ['--victim', victim, '--attack', 'knockoff', '--queryset', 'mnist', '--kappa', '10'],
    code: 2,
    says: /--kappa does not apply to --attack knockoff/,
  },
  { name: '--top-k with jbda', args: () => ['--victim', victim, '--attack', 'jbda', '--top-k', '2'], code: 2, says: /--top-k does not apply to --attack jbda/ },
  { name: '--queryset with jbself', args: () => ['--victim', victim, '--attack', 'jbself', '--queryset', 'mnist'], code: 2, says: /--queryset does not apply/ },
  { name: 'unknown label mode', args: () => ['--victim', victim, '--attack', 'jbda', '--label-mode', 'soft'], code: 2, says: /--label-mode: unknown value 'soft'/ },
  {
    name: 'attacker architecture that cannot take the victim input',
    args: () => ['--victim', victim, '--attack', 'knockoff', '--queryset', 'mnist', '--budget', '50', '--attacker-arch', 'cnn-small'],
    code: 2,
    says: /--attacker-arch cnn-small cannot take the victim's 28×28×1 input/,
  },
  {
    name: 'default pool too small for the budget',
    args: () => ['--victim', victim, '--attack', 'knockoff', '--budget', '10001'],
    code: 2,
    says: /--budget 10001 is larger than the query pool fashion-mnist\/test \(10000 images\)/,
  },
  { name: 'victim that is a file', args: () => ['--victim', path.join(victim, PARAMS_FILE), '--attack', 'jbda'], code: 2, says: /is not a model directory written by `poison train` \(it is a file\)/ },
  { name: 'victim directory without a model', args: () => ['--victim', root, '--attack', 'jbda'], code: 2, says: /no params\.json/ },
  { name: 'defense flag of another defense', args: () => ['--victim', victim, '--attack', 'jbda', '--eps', '0.5'], code: 2, says: /--eps does not apply to defense 'none'/ },
  { name: 'budget that is not a number', args: () => ['--victim', victim, '--attack', 'jbda', '--budget', '100,lots'], code: 2, says: /--budget must be a number/ },
  { name: 'jbtop k beyond the classes', args: () => ['--victim', victim, '--attack', 'jbtop', '--top-k', '10'], code: 2, says: /--top-k must be at most 9/ },
  { name: 'unknown preset', args: () => ['--victim', victim, '--attack', 'jbda', '--preset', 'authors'], code: 2, says: /--preset: unknown value 'authors' \(choose one of: paper, reference\)/ },
  { name: 'training flag out of range', args: () => ['--victim', victim, '--attack', 'jbda', '--preset', 'reference', '--momentum', '1.5'], code: 2, says: /--momentum must be ≤ 0\.999, got 1\.5/ },
  { name: 'missing baseline file', args: () => ['--victim', victim, '--attack', 'jbda', '--baseline', 'nope.json'], code: 2, says: /--baseline nope\.json does not exist/ },
];

for (const bad of badInputs) {
  test(`bad input: ${bad.name}`, async () => {
    const out = path.join(root, `bad-${bad.name.replace(/\W+/g, '-')}`);
    const r = poison([...bad.args(), ...quick, '--out', out]);
    assert.equal(r.status, bad.code, r.stderr);
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, `one line on stderr, got:\n${r.stderr}`);
    assert.match(lines[0]!, bad.says);
    assert.doesNotMatch(r.stderr, /\n\s+at |internal error/);
    assert.equal(existsSync(out), false, 'nothing written');
    const leftovers = (await fs.readdir(root)).filter((f) => f.startsWith(`.${path.basename(out)}`));
    assert.deepEqual(leftovers, []);
  });
}

test('--preset reference: unset training flags come from the authors’ knockoff script, set ones win; recorded in result.json', async () => {
  const out = path.join(root, 'preset-reference');
  const r = poison(['--victim', victim, '--attack', 'knockoff', '--queryset', 'mnist', '--queryset-split', 'test', '--budget', '40',
    '--preset', 'reference', '--backend', 'wasm', '--test-limit', '50', '--epochs', '1', '--quiet', '--no-cache', '--out', out]);
  assert.equal(r.status, 0, r.stderr);
  const result = JSON.parse(await fs.readFile(path.join(out, 'result.json'), 'utf8')) as { config: { training: unknown; trainingPreset: unknown } };
  assert.equal(result.config.trainingPreset, 'reference');
  assert.deepEqual(result.config.training, { epochs: 1, lr: 0.01, momentum: 0.5, batchSize: 64, lrStep: 60, weightDecay: 0 });
});

test('an existing non-empty --out is refused without --force', async () => {
  const out = path.join(root, 'taken');
  await fs.mkdir(out);
  await fs.writeFile(path.join(out, 'mine.txt'), 'keep');
  const r = poison(['--victim', victim, '--attack', 'jbda', '--budget', '100', ...quick, '--out', out]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /already holds another run's files/);
  assert.deepEqual(await fs.readdir(out), ['mine.txt']);
});

test('a run killed during training leaves no result and reruns cleanly', async () => {
  const parent = path.join(root, 'killed');
  const out = path.join(parent, 'run');
  const args = [bin, 'attack', '--victim', victim, '--attack', 'knockoff', '--queryset', 'mnist', '--queryset-split', 'test',
    '--budget', '400', '--epochs', '2', '--backend', 'wasm', '--test-limit', '100', '--cache-dir', path.join(root, 'cache'), '--out', out];
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  const killed = new Promise<void>((resolve, reject) => {
    let seen = '';
    child.stderr.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      if (/budget 400 epoch 1/.test(seen)) child.kill('SIGKILL');
    });
    child.on('exit', (_code, signal) => (signal === 'SIGKILL' ? resolve() : reject(new Error(`exited before training was reached:\n${seen}`))));
  });
  await killed;
  assert.equal(existsSync(out), false, 'no --out directory');
  const left = await fs.readdir(parent);
  assert.ok(left.every((f) => /^\.run\.tmp-/.test(f)), `only temporary directories remain: ${left.join(', ')}`);
  for (const f of left) assert.equal(existsSync(path.join(parent, f, 'result.json')), false);

  const rerun = spawnSync(process.execPath, [...args, '--quiet'], { cwd: root, encoding: 'utf8' });
  assert.equal(rerun.status, 0, rerun.stderr);
  // The rerun removed the killed run's temporary folder (its pid is gone): nothing lasts.
  assert.deepEqual(await fs.readdir(parent), ['run']);
  const result = JSON.parse(await fs.readFile(path.join(out, 'result.json'), 'utf8')) as { runs: { queries: number }[] };
  assert.equal(result.runs[0]!.queries, 400);
  assert.match(rerun.stdout, /knockoff B=400 vs none: attacker/);
});

test('--help does not load TensorFlow.js', () => {
  const r = spawnSync(process.execPath, [bin, 'attack', '--help'], { encoding: 'utf8' });
  assert.equal(r.status, 0);
  assert.match(r.stdout, /--label-mode/);
  // tfjs registers its engine on globalThis when it loads; the command module alone must not.
  const commandFile = path.resolve(path.dirname(bin), '../dist/src/cli/commands/attack.js');
  const libraryFile = path.resolve(path.dirname(bin), '../dist/src/attack-run/run.js');
  const probe = (file: string): string =>
    spawnSync(process.execPath, ['--input-type=module', '-e', `await import(${JSON.stringify(file)}); process.stdout.write(String('_tfengine' in globalThis));`], {
      encoding: 'utf8',
    }).stdout;
  assert.equal(probe(commandFile), 'false');
  assert.equal(probe(libraryFile), 'true', 'the probe detects tfjs');
});
