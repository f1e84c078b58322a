/**
 * `poison eval` end to end on a tiny LeNet victim and real MNIST test images (--test-limit 200):
 * the numbers it reports are checked against a direct computation, and every kind of bad input
 * ends with one line on stderr, the right exit code, no stack trace and nothing written.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../src/engine/backend.js';
import { buildModel } from '../src/models/registry.js';
import { saveModel } from '../src/models/io.js';
import type { ArchName } from '../src/models/types.js';
import { loadImageSet } from '../src/data/load.js';
import { toModelInput } from '../src/data/convert.js';
import { accuracyOf } from '../src/train/loop.js';
import { Rng } from '../src/util/rng.js';
import type { EvalReport } from '../src/eval/run.js';
import { runCli, REPO_ROOT } from './helpers/cli.js';

const INPUT = { height: 28, width: 28, channels: 1, mean: [0.1307], std: [0.3081] };
let tmp: string;
let victimDir: string;
let victimAccuracy: number;

async function saveVictim(dir: string, arch: ArchName, shape: [number, number, number], classes: number, seed: number): Promise<tf.LayersModel> {
  const model = buildModel(arch, { inputShape: shape, numClasses: classes, rng: new Rng(seed) });
  await saveModel(model, dir);
  const input = { ...INPUT, height: shape[0], width: shape[1], channels: shape[2] };
  await fs.writeFile(path.join(dir, 'params.json'), JSON.stringify({ kind: 'victim', arch, dataset: 'mnist', numClasses: classes, input, seed }));
  return model;
}

before(async () => {
  await initEngine({ backend: 'wasm' });
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'poison-eval-'));
  victimDir = path.join(tmp, 'victim');
  const model = await saveVictim(victimDir, 'lenet', [28, 28, 1], 10, 8);
  const test200 = await loadImageSet('mnist', 'test', { limit: 200 });
  victimAccuracy = await accuracyOf(model, 200, (s, e) => toModelInput(test200, { start: s, end: e }, INPUT), test200.labels);
  model.dispose();
});

after(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

async function readReport(out: string): Promise<EvalReport> {
  return JSON.parse(await fs.readFile(path.join(out, 'eval.json'), 'utf8')) as EvalReport;
}

test('poison eval: defended and undefended accuracy, distortion and invariants on 200 MNIST test images', async () => {
  const out = path.join(tmp, 'mad');
  const r = runCli(['eval', '--victim', victimDir, '--defense', 'mad', '--eps', '0.5', '--test-limit', '200', '--batch-size', '64', '--backend', 'wasm', '--seed', '3', '--out', out]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /accuracy defended/);
  assert.match(r.stdout, /mad\(eps=0\.5, ydist=l1, jacobian=closed, surrogate=random-init\)/);
  assert.match(r.stdout, new RegExp(`wrote ${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/eval\\.json`));
  // Not a terminal: plain progress lines, ending with the whole set.
  assert.match(r.stderr, /eval mad 200\/200/);
  const report = await readReport(out);
  assert.equal(report.results.queries, 200);
  assert.equal(report.testSet.count, 200);
  assert.ok(Math.abs(report.results.accuracyUndefended - victimAccuracy) < 1e-9, `${report.results.accuracyUndefended} vs ${victimAccuracy}`);
  assert.ok(Math.abs(report.results.l1.mean - 0.5) < 1e-5, 'MAD uses its whole L1 budget');
  assert.equal(report.results.simplexViolations, 0);
  assert.equal(report.results.epsBallViolations, 0);
  assert.ok(report.results.queriesPerSecond > 0);
  assert.deepEqual(report.config.defense, { name: 'mad', eps: 0.5, ydist: 'l1', jacobian: 'closed', ablation: 'none', surrogate: null });
  assert.equal(report.config.seed, 3);
  assert.equal(report.provenance.engine.backend, 'wasm');
  assert.ok(report.provenance.packages['@tensorflow/tfjs']);

  const none = path.join(tmp, 'none');
  const n = runCli(['eval', '--victim', victimDir, '--test-limit', '200', '--backend', 'wasm', '--quiet', '--out', none]);
  assert.equal(n.status, 0, n.stderr);
  assert.equal(n.stderr, '', '--quiet prints no progress');
  const plain = await readReport(none);
  assert.equal(plain.defense.spec.name, 'none');
  assert.equal(plain.results.accuracyDefended, plain.results.accuracyUndefended);
  assert.equal(plain.results.l1.mean, 0);
  assert.equal(plain.results.epsBallViolations, null);
});

test('--help of every command never loads TensorFlow.js (every registered declaration is read)', () => {
  const preload = path.join(REPO_ROOT, 'test', 'helpers', 'no-tfjs.cjs');
  const r = runCli(['eval', '--help'], { nodeArgs: ['--require', preload] });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /--noise-eps/);
  assert.match(r.stdout, /--jacobian/);
  for (const command of ['attack', 'train', 'sweep', 'data']) {
    const help = runCli([command, '--help'], { nodeArgs: ['--require', preload] });
    assert.equal(help.status, 0, `${command} --help: ${help.stderr}`);
  }
});

test('bad input to poison eval: one line on stderr, the right exit code, nothing written', async () => {
  const out = path.join(tmp, 'bad');
  const empty = path.join(tmp, 'empty-victim');
  await fs.mkdir(empty);
  const noModel = path.join(tmp, 'params-only');
  await fs.mkdir(noModel);
  await fs.copyFile(path.join(victimDir, 'params.json'), path.join(noModel, 'params.json'));
  const fiveClasses = path.join(tmp, 'five-classes');
  (await saveVictim(fiveClasses, 'lenet', [28, 28, 1], 5, 9)).dispose();
  const cifarShaped = path.join(tmp, 'cifar-shaped');
  (await saveVictim(cifarShaped, 'cnn-small', [32, 32, 3], 10, 9)).dispose();
  const aFile = path.join(tmp, 'a-file');
  await fs.writeFile(aFile, 'x');

  const cases: { args: string[]; code: number; mentions: RegExp }[] = [
    { args: ['--defense', 'madd'], code: 2, mentions: /--defense: unknown value 'madd'/ },
    { args: ['--defense', 'mad-argmax', '--eps', 'x'], code: 2, mentions: /--eps must be a number, got 'x'/ },
    { args: ['--defense', 'mad', '--eps', 'half'], code: 2, mentions: /--eps must be a number, got 'half'/ },
    { args: ['--defense', 'mad', '--eps', '-1'], code: 2, mentions: /--eps must be ≥ 0/ },
    { args: ['--defense', 'mad', '--eps', '0.5', '--beta', '0.3'], code: 2, mentions: /--beta does not apply to defense 'mad'/ },
    { args: ['--defense', 'mad', '--eps', '0.5', '--ablation', 'identity', '--jacobian', 'autodiff'], code: 2, mentions: /--jacobian does not apply with --ablation identity/ },
    { args: ['--defense', 'none', '--k', '3'], code: 2, mentions: /--k does not apply to defense 'none'/ },
    { args: ['--defense', 'top-k', '--k', '11'], code: 2, mentions: /--k must be a whole number in 1\.\.10/ },
    { args: ['--defense', 'top-k', '--k', '2.5'], code: 2, mentions: /--k must be a whole number/ },
    { args: ['--defense', 'reverse-sigmoid', '--beta', '2'], code: 2, mentions: /--beta must be ≤ 1/ },
    { args: ['--defense', 'random-noise', '--noise-eps', '1', '--noise-norm', 'l3'], code: 2, mentions: /--noise-norm: unknown value 'l3'/ },
    { args: ['--seed', '0'], code: 2, mentions: /--seed must be ≥ 1/ },
    { args: ['--batch-size', 'many'], code: 2, mentions: /--batch-size must be a number/ },
    { args: ['--backend', 'cuda'], code: 2, mentions: /--backend: unknown value 'cuda'/ },
    { args: ['--victim', empty], code: 2, mentions: /is not a model directory written by `poison train` \(no params\.json there\)/ },
    { args: ['--victim', noModel], code: 2, mentions: /holds no saved model/ },
    { args: ['--defense', 'mad', '--eps', '0.5', '--surrogate', fiveClasses], code: 2, mentions: /5 classes.*must match/ },
    { args: ['--defense', 'mad-argmax', '--eps', '0.5', '--surrogate', cifarShaped], code: 2, mentions: /32×32×3 inputs.*must match/ },
    { args: ['--defense', 'mad', '--eps', '0.5', '--surrogate', path.join(tmp, 'nowhere')], code: 2, mentions: /--surrogate: .*no params\.json/ },
    { args: ['--out', path.join(aFile, 'sub')], code: 1, mentions: /cannot be written/ },
  ];
  for (const c of cases) {
    const args = ['eval', '--victim', victimDir, '--test-limit', '20', '--quiet', '--backend', 'wasm', '--out', out, ...c.args];
    const r = runCli(args);
    assert.equal(r.status, c.code, `${c.args.join(' ')}: exit ${r.status}, stderr: ${r.stderr}`);
    assert.equal(r.errLines.length, 1, `${c.args.join(' ')}: expected one stderr line, got: ${r.stderr}`);
    assert.match(r.errLines[0]!, c.mentions, c.args.join(' '));
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'stack trace printed');
    assert.equal(r.stdout, '', `${c.args.join(' ')}: printed results`);
  }
  const missing = runCli(['eval', '--defense', 'none']);
  assert.equal(missing.status, 2);
  assert.equal(missing.errLines.length, 1);
  assert.match(missing.errLines[0]!, /--victim/);
  await assert.rejects(fs.access(out), 'a failed run left an output directory');
});
