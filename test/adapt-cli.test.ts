/**
 * `poison attack --adapt` as a user runs it: budgets count queries, result.json records the
 * adaptation and attackerKnows, bad input as one line, --help without TensorFlow.js, and a toy
 * adaptation from one file (test/helpers/toy-adaptation.ts) through POISON_EXTENSION_MODULES.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { EXTENSIONS_ENV } from '../src/extensions.js';
import { REPO_ROOT, runCli } from './helpers/cli.js';
import { useVictimWorkspace } from './helpers/victim-workspace.js';
import { TOY_ADAPTATION, TOY_ADAPTATION_MODULE } from './helpers/toy-adaptation.js';

const ws = useVictimWorkspace('poison-adapt-');

test('poison attack --adapt smoothing: budgets count queries, result.json records the adaptation and attackerKnows', async () => {
  const out = path.join(ws.root, 'smoothing');
  const r = ws.poison(['attack', '--victim', ws.victim, '--attack', 'knockoff', '--queryset', 'mnist', '--queryset-split', 'test', '--budget', '31,61',
    '--adapt', 'smoothing', '--qpi', '3', '--defense', 'reverse-sigmoid', '--beta', '0.3', '--backend', 'wasm', '--test-limit', '100', '--epochs', '1', '--quiet', '--out', out]);
  assert.equal(r.status, 0, r.stderr);
  const result = JSON.parse(await fs.readFile(path.join(out, 'result.json'), 'utf8')) as {
    adaptation: unknown; attackerKnows: unknown; runs: { budget: number; queries: number; images: number }[]; transferSet: { cache: string }; config: { adapt: unknown };
  };
  assert.deepEqual(result.adaptation, { name: 'smoothing', settings: { qpi: 3 } });
  assert.deepEqual(result.config.adapt, result.adaptation);
  assert.equal(result.attackerKnows, 'nothing');
  assert.deepEqual(result.runs.map((run) => [run.budget, run.queries, run.images]), [[31, 30, 10], [61, 60, 20]]);
  assert.equal(result.transferSet.cache, 'off', 'an adapted run always queries live');
  assert.match(r.stdout, /knockoff \+ smoothing B=31/);
  assert.match(r.stdout, /: threat model: adapts with smoothing \(qpi=3\); attackerKnows nothing \(nothing of the defense\)\n/, 'the summary says which attacker it measured');
});

test('bad --adapt input: one line on stderr, exit 2, nothing written', async () => {
  const base = ['attack', '--victim', ws.victim, '--queryset', 'mnist', '--budget', '30', '--backend', 'wasm', '--quiet'];
  const cases: [string[], RegExp][] = [
    [['--adapt', 'nope'], /^poison: --adapt: unknown value 'nope' \(choose one of: smoothing/],
    [['--adapt', 'smoothing', '--qpi', '0'], /^poison: --qpi must be/],
    [['--qpi', '3'], /^poison: --qpi needs --adapt smoothing$/],
    [['--adapt', 'smoothing', '--qpi', '40'], /^poison: --budget 30 buys no image at 40 queries per image \(--adapt smoothing\)$/],
  ];
  for (const [i, [extra, expected]] of cases.entries()) {
    const out = path.join(ws.root, `bad-${i}`);
    const r = ws.poison([...base, ...extra, '--out', out]);
    assert.equal(r.status, 2, `${extra.join(' ')}: ${r.stderr}`);
    assert.equal(r.errLines.length, 1, r.stderr);
    assert.match(r.errLines[0]!, expected);
    await assert.rejects(fs.access(out));
  }
});

test('attack --help lists --adapt and its parameters without loading TensorFlow.js', () => {
  const help = runCli(['attack', '--help'], { nodeArgs: ['--require', path.join(REPO_ROOT, 'test', 'helpers', 'no-tfjs.cjs')] });
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /--adapt <name>/);
  assert.match(help.stdout.replace(/\s+/g, ' '), /--qpi <n> --adapt smoothing: black-box queries per image/);
});

test('a toy adaptation from one file runs through poison attack, its flag from its declaration', async () => {
  const env = { ...process.env, [EXTENSIONS_ENV]: TOY_ADAPTATION_MODULE };
  const out = path.join(ws.root, 'toy');
  const r = ws.poison(['attack', '--victim', ws.victim, '--attack', 'knockoff', '--queryset', 'mnist', '--queryset-split', 'test', '--budget', '40',
    '--adapt', TOY_ADAPTATION, '--repeats', '4', '--backend', 'wasm', '--test-limit', '100', '--epochs', '1', '--quiet', '--out', out], env);
  assert.equal(r.status, 0, r.stderr);
  const result = JSON.parse(await fs.readFile(path.join(out, 'result.json'), 'utf8')) as { attackerKnows: unknown; runs: { queries: number; images: number }[] };
  assert.equal(result.attackerKnows, 'defense-type');
  assert.deepEqual(result.runs.map((run) => [run.queries, run.images]), [[40, 10]]);
  const help = ws.poison(['attack', '--help'], env);
  assert.match(help.stdout, /--repeats <n>/);
});

test('poison attack --adapt bayes against reverse sigmoid: one query per image, attackerKnows defense-params; MAD is refused', async () => {
  const out = path.join(ws.root, 'bayes');
  const base = ['attack', '--victim', ws.victim, '--attack', 'knockoff', '--queryset', 'mnist', '--queryset-split', 'test', '--budget', '20',
    '--adapt', 'bayes', '--bayes-samples', '50', '--backend', 'wasm', '--test-limit', '100', '--epochs', '1', '--quiet'];
  const r = ws.poison([...base, '--defense', 'reverse-sigmoid', '--beta', '0.3', '--out', out]);
  assert.equal(r.status, 0, r.stderr);
  const result = JSON.parse(await fs.readFile(path.join(out, 'result.json'), 'utf8')) as { adaptation: unknown; attackerKnows: unknown; runs: { queries: number; images: number }[] };
  assert.deepEqual(result.adaptation, { name: 'bayes', settings: { bayesSamples: 50, bayesPrior: 'answer', concentration: 8 } });
  assert.equal(result.attackerKnows, 'defense-params');
  assert.deepEqual(result.runs.map((run) => [run.queries, run.images]), [[20, 20]]);

  const oracleOut = path.join(ws.root, 'bayes-oracle');
  const oracle = ws.poison([...base, '--bayes-prior', 'oracle', '--defense', 'reverse-sigmoid', '--beta', '0.3', '--out', oracleOut]);
  assert.equal(oracle.status, 0, oracle.stderr);
  const oracleResult = JSON.parse(await fs.readFile(path.join(oracleOut, 'result.json'), 'utf8')) as { attackerKnows: unknown };
  assert.equal(oracleResult.attackerKnows, 'oracle', 'the oracle prior reads the clean posteriors: an upper bound');

  const madOut = path.join(ws.root, 'bayes-mad');
  const mad = ws.poison([...base, '--defense', 'mad', '--eps', '0.5', '--out', madOut]);
  assert.equal(mad.status, 2, mad.stderr);
  assert.equal(mad.errLines.length, 1, mad.stderr);
  assert.match(mad.errLines[0]!, /^poison: --adapt bayes simulates the defense on posteriors alone: mad\(eps=0\.5/);
  await assert.rejects(fs.access(madOut));

  const bad = ws.poison([...base, '--concentration', '0', '--out', madOut]);
  assert.equal(bad.status, 2, bad.stderr);
  assert.equal(bad.errLines.length, 1, bad.stderr);
  assert.match(bad.errLines[0]!, /^poison: --concentration must be/);
});

test('poison attack --adapt restorer: one query per image, result.json records the adaptation, attackerKnows and the detector; bad input is one line', async () => {
  const base = ['attack', '--victim', ws.victim, '--attack', 'knockoff', '--queryset', 'mnist', '--queryset-split', 'test', '--budget', '20,40',
    '--adapt', 'restorer', '--shadows', '2', '--shadow-fraction', '0.005', '--shadow-epochs', '1', '--restorer-epochs', '20',
    '--backend', 'wasm', '--test-limit', '100', '--epochs', '1', '--quiet'];
  const out = path.join(ws.root, 'restorer');
  const r = ws.poison([...base, '--defense', 'reverse-sigmoid', '--beta', '1', '--out', out]);
  assert.equal(r.status, 0, r.stderr);
  const result = JSON.parse(await fs.readFile(path.join(out, 'result.json'), 'utf8')) as {
    adaptation: unknown; attackerKnows: unknown; adaptationReport: Record<string, unknown>; runs: { budget: number; queries: number; images: number }[];
  };
  assert.deepEqual(result.adaptation, {
    name: 'restorer',
    settings: { restorerPrior: 'shadow', shadows: 2, shadowFraction: 0.005, shadowEpochs: 1, restorerSamples: 8, restorerEpochs: 20, concentration: 8 },
  });
  assert.equal(result.attackerKnows, 'defense-params');
  assert.deepEqual(result.runs.map((run) => [run.budget, run.queries, run.images]), [[20, 20, 20], [40, 40, 40]], 'budgets exact: one query per image');
  assert.equal(result.adaptationReport.prior, 'shadow');
  assert.ok(['none', 'defense'].includes(result.adaptationReport.detector as string), JSON.stringify(result.adaptationReport));
  assert.equal(result.adaptationReport.tableRows, 2 * 300, 'S × 0.5% of the 60,000 training images');

  const cases: [string[], RegExp][] = [
    [['--restorer-prior', 'nope'], /^poison: --restorer-prior: unknown value 'nope'|^poison: --restorer-prior must be one of/],
    [['--shadows', '0'], /^poison: --shadows must be/],
    [['--defense', 'mad', '--eps', '0.5'], /^poison: --adapt restorer simulates the defense on posteriors alone: mad\(eps=0\.5/],
  ];
  for (const [i, [extra, expected]] of cases.entries()) {
    const bad = path.join(ws.root, `bad-${i}`);
    const run = ws.poison([...base, ...extra, '--out', bad]);
    assert.equal(run.status, 2, `${extra.join(' ')}: ${run.stderr}`);
    assert.equal(run.errLines.length, 1, run.stderr);
    assert.match(run.errLines[0]!, expected);
    await assert.rejects(fs.access(bad));
  }
});
