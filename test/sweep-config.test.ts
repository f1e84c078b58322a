/**
 * Sweep config validation: every problem of a file reported at once, each with its YAML path,
 * line and column, what was expected and what was found; defaults filled in; unknown keys are
 * errors, never silently ignored.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UsageError } from '../src/errors.js';
import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSweepConfig, parseSweepConfig, type ParseOptions } from '../src/sweep/config/parse-config.js';
import { cellAttacker, expandGrid } from '../src/sweep/plan/grid.js';
import { defenseNames, defenseParams } from '../src/sweep/config/defense-catalog.js';
import { oldYamlKey, yamlKey } from '../src/params/declaration.js';

const VALID = `
victim:
  train: {dataset: mnist, arch: lenet, epochs: 2, limit: 300}
attacks:
  - {name: knockoff, queryset: emnist-letters}
  - {name: jbda, seedSize: 10}
defenses:
  mad: {eps: [0, 0.5], ydist: l1}
  reverse-sigmoid: {beta: [0.1, 0.2]}
budgets: [100, 200]
`;

/** The UsageError message of a config that must fail, and its problem lines. */
function problems(text: string, opts: ParseOptions = {}): { message: string; lines: string[] } {
  try {
    parseSweepConfig(text, 'c.yaml', opts);
  } catch (err) {
    assert.ok(err instanceof UsageError, `expected a UsageError, got ${String(err)}`);
    assert.equal(err.exitCode, 2);
    // One problem: a single line; several: a header line, then one indented line each.
    const lines = err.message.includes('\n')
      ? err.message.split('\n').filter((l) => l.startsWith('  '))
      : [err.message.replace(/^invalid sweep config /, '  ')];
    return { message: err.message, lines };
  }
  assert.fail('the config was accepted');
}

test('a valid config gets every default filled in and the undefended reference added', () => {
  const c = parseSweepConfig(VALID, 'configs/my-sweep.yaml');
  assert.equal(c.name, 'my-sweep');
  assert.equal(c.out, 'results/my-sweep');
  assert.deepEqual(c.seeds, [1]);
  assert.deepEqual(c.budgets, [100, 200]);
  assert.equal(c.victim.kind, 'train');
  if (c.victim.kind === 'train') {
    assert.deepEqual(c.victim.train, {
      dataset: 'mnist', arch: 'lenet', epochs: 2, lr: 0.1, momentum: 0.5, batchSize: 64, lrStep: 50, weightDecay: 0, limit: 300, seed: 1,
    });
  }
  assert.deepEqual(c.attacker, { arch: null, preset: 'paper', overrides: {} });
  assert.deepEqual(c.attacks[0]?.params, { labelMode: 'probs', queryset: 'emnist-letters', querysetSplit: 'train' });
  assert.equal(c.attacks[1]?.params.seedSize, 10);
  assert.equal(c.attacks[1]?.params.kappa, 400);
  assert.deepEqual(c.defenses.map((d) => d.name), ['none', 'mad', 'reverse-sigmoid']);
  // Resolved by the defense library: MAD's defaults and reverse sigmoid's γ for MNIST (docs/spec.md: 0.2).
  assert.deepEqual(c.defenses[1]?.points, [
    { name: 'mad', eps: 0, ydist: 'l1', jacobian: 'closed', ablation: 'none', surrogate: null },
    { name: 'mad', eps: 0.5, ydist: 'l1', jacobian: 'closed', ablation: 'none', surrogate: null },
  ]);
  assert.deepEqual(c.defenses[2]?.points.map((p) => p), [
    { name: 'reverse-sigmoid', beta: 0.1, gamma: 0.2 },
    { name: 'reverse-sigmoid', beta: 0.2, gamma: 0.2 },
  ]);
  assert.equal(c.cacheDir, 'results/cache');
  assert.equal(c.testLimit, null);
});

test('reverse sigmoid γ defaults per victim dataset, as the paper fixes it', () => {
  const c = parseSweepConfig(VALID.replace('dataset: mnist', 'dataset: fashion-mnist'), 'c.yaml');
  assert.equal(c.defenses[2]?.points[0]?.gamma, 0.4);
});

test('a grid axis takes a scalar (fixed) or a list; the grid is the product of the lists', () => {
  const c = parseSweepConfig(VALID.replace('mad: {eps: [0, 0.5], ydist: l1}', 'mad: {eps: [0, 0.5], ydist: [l1, l2]}'), 'c.yaml');
  assert.deepEqual(c.defenses[1]?.points.map((p) => [p.eps, p.ydist]), [
    [0, 'l1'],
    [0, 'l2'],
    [0.5, 'l1'],
    [0.5, 'l2'],
  ]);
});

test('malformed YAML is reported with its line and column', () => {
  const { lines } = problems('victim:\n  train: {dataset: mnist\nattacks: []\n');
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /c\.yaml:\d+:\d+: expected valid YAML, found /);
  const { message } = problems('a: 1\na: 2\n');
  assert.match(message, /c\.yaml:2:1: expected valid YAML, found Map keys must be unique/);
});

test('an empty file and a non-mapping file are refused', () => {
  assert.match(problems('').message, /expected a mapping with the keys victim, attacks, defenses, budgets.*found an empty file/);
  assert.match(problems('- 1\n- 2\n').message, /c\.yaml:1:1: expected a mapping with the keys victim/);
});

test('every problem of a file is reported at once, each with path, line, column, expected and found', () => {
  const text = [
    'victim:', //                                                        1
    '  train: {dataset: mnist, arch: lenet, epoch: 3}', //                2
    'attacks:', //                                                        3
    '  - {name: knockoff, queryset: emnist-letters, labelMode: prob}', // 4
    '  - {name: knockof}', //                                             5
    'defenses:', //                                                       6
    '  mad: {eps: [0, -0.1], ydist: l3}', //                              7
    '  madd: {eps: 1}', //                                                8
    '  top-k: {k: [1, 11]}', //                                           9
    '  random-noise: {}', //                                              10
    'budgets: []', //                                                     11
    'atacker: {epochs: 3}', //                                            12
  ].join('\n');
  const { message, lines } = problems(text);
  assert.match(message, /^invalid sweep config c\.yaml: 10 problems\n/);
  const expected = [
    /^ {2}c\.yaml:2:40: victim\.train\.epoch: expected one of the keys dataset, arch, epochs, .*found unknown key 'epoch' \(did you mean 'epochs'\?\)$/,
    /^ {2}c\.yaml:4:59: attacks\[0\]\.labelMode: expected one of probs, argmax, found 'prob' \(text\) \(did you mean 'probs'\?\)$/,
    /^ {2}c\.yaml:5:12: attacks\[1\]\.name: expected one of knockoff, knockoff-adaptive, jbda, jbself, jbtop, jbtr, found 'knockof' \(text\) \(did you mean 'knockoff'\?\)$/,
    /^ {2}c\.yaml:7:18: defenses\.mad\.eps\[1\]: expected budget ε ≥ 0 .*found -0\.1 \(--eps must be ≥ 0, got -0\.1\)$/,
    /^ {2}c\.yaml:7:32: defenses\.mad\.ydist: expected norm of the budget, l1 \| l2.*found 'l3'/,
    /^ {2}c\.yaml:8:3: defenses\.madd: expected a defense: one of none, top-k, .*found 'madd' \(did you mean 'mad'\?\)$/,
    /^ {2}c\.yaml:9:18: defenses\.top-k\.k\[1\]: expected .*found 11 \(--k must be a whole number in 1\.\.10/,
    /^ {2}c\.yaml:10:17: defenses\.random-noise: expected a key 'noiseEps' .*found no such key$/,
    /^ {2}c\.yaml:11:10: budgets: expected a value or a non-empty list of values, found an empty list$/,
    /^ {2}c\.yaml:12:1: atacker: expected one of the keys victim, attacks, .*found unknown key 'atacker' \(did you mean 'attacker'\?\)$/,
  ];
  assert.equal(lines.length, expected.length, message);
  expected.forEach((re, i) => assert.match(lines[i]!, re));
});

test('unknown attack and defense parameters are errors, not ignored', () => {
  const { lines } = problems(VALID.replace('{name: jbda, seedSize: 10}', '{name: jbda, seedsize: 10, queryset: mnist}').replace('ydist: l1}', 'ydist: l1, beta: 1}'));
  assert.equal(lines.length, 3, lines.join('\n'));
  assert.match(lines[0]!, /attacks\[1\]\.seedsize: expected one of the keys name, labelMode, seedSize, .*found unknown key 'seedsize' \(did you mean 'seedSize'\?\)/);
  assert.match(lines[1]!, /attacks\[1\]\.queryset: expected .*found unknown key 'queryset'/);
  assert.match(lines[2]!, /defenses\.mad\.beta: expected one of the keys eps, ydist, jacobian, ablation, surrogate, found unknown key 'beta'/);
});

test('empty grids are refused wherever they appear', () => {
  const { lines } = problems(
    VALID.replace('budgets: [100, 200]', 'budgets: [100, 200]\nseeds: []').replace('beta: [0.1, 0.2]', 'beta: []').replace(/attacks:\n(  - .*\n)+/, 'attacks: []\n'),
  );
  assert.equal(lines.length, 3, lines.join('\n'));
  assert.match(lines[0]!, /attacks: expected at least one attack, found an empty list/);
  assert.match(lines[1]!, /defenses\.reverse-sigmoid\.beta: expected a value or a non-empty list of values, found an empty list/);
  assert.match(lines[2]!, /seeds: expected a value or a non-empty list of values, found an empty list/);
  assert.match(problems(VALID.replace(/defenses:\n(  .*\n)+/, 'defenses: {}\n')).message, /defenses: expected at least one defense, found an empty mapping/);
});

test('a value listed twice in one axis is refused (it would make two identical cells)', () => {
  assert.match(problems(VALID.replace('eps: [0, 0.5]', 'eps: [0.5, 0.5]')).message, /defenses\.mad\.eps\[1\]: expected each value once, found 0\.5 again/);
  assert.match(problems(VALID.replace("- {name: jbda, seedSize: 10}", "- {name: knockoff, queryset: emnist-letters, labelMode: probs}")).message, /attacks\[1\]: expected each attack once/);
});

test('the victim is a saved model directory or a train block, not both and not neither', () => {
  assert.match(problems(VALID.replace('  train:', '  dir: results/v\n  train:')).message, /victim: expected either dir or train, found both/);
  assert.match(problems(VALID.replace(/victim:\n.*\n/, 'victim: {}\n')).message, /victim: expected dir \(a saved model directory\) or train/);
  const missing = problems(VALID.replace(/victim:\n.*\n/, 'victim: {dir: nowhere}\n'), { victimDirInfo: () => ({ problem: "no params.json in 'nowhere'" }) });
  assert.match(missing.message, /c\.yaml:2:15: victim\.dir: expected a model directory written by `poison train`, found no params\.json in 'nowhere'/);
  const ok = parseSweepConfig(VALID.replace(/victim:\n.*\n/, 'victim: {dir: v}\n'), 'c.yaml', { victimDirInfo: () => ({ dataset: 'cifar10', arch: 'vgg16_bn' }) });
  assert.deepEqual(ok.victim, { kind: 'dir', dir: 'v' });
  // Attackers train as long as the paper's victims did: 100 epochs for VGG.
  assert.equal(cellAttacker(ok, 'knockoff', 'vgg16_bn').epochs, 100);
});

test('budgets are checked against what each attack can spend', () => {
  const { lines } = problems(VALID.replace('budgets: [100, 200]', 'budgets: [5, 200000]'));
  assert.equal(lines.length, 2, lines.join('\n'));
  assert.match(lines[0]!, /budgets\[0\]: expected at least 10 \(attacks\[1\] jbda queries its seed set of 10 first\), found 5/);
  assert.match(lines[1]!, /budgets\[1\]: expected at most 124800 \(attacks\[0\] draws distinct images from emnist-letters train\), found 200000/);
});

test('attack parameters take one value: comparing settings means listing entries', () => {
  assert.match(problems(VALID.replace('seedSize: 10', 'seedSize: [10, 20]')).message, /attacks\[1\]\.seedSize: expected a whole number ≥ 1 \(one value: list several attack entries/);
});

test('knockoff needs its query pool; jbtop k is bounded by the class count', () => {
  assert.match(problems(VALID.replace('{name: knockoff, queryset: emnist-letters}', '{name: knockoff}')).message, /attacks\[0\]: expected a key 'queryset'/);
  assert.match(problems(VALID.replace('{name: jbda, seedSize: 10}', '{name: jbtop, seedSize: 10, topK: 10}')).message, /attacks\[1\]\.topK: expected at most 9/);
});

test('top-level settings: backend, testLimit, cacheDir, data folders', () => {
  const c = parseSweepConfig(`${VALID}backend: wasm\ntestLimit: 500\ncacheDir: null\ndata: {emnist-letters: /data/emnist}\nout: elsewhere\n`, 'c.yaml');
  assert.equal(c.backend, 'wasm');
  assert.equal(c.testLimit, 500);
  assert.equal(c.cacheDir, null);
  assert.deepEqual(c.dataDirs, { 'emnist-letters': '/data/emnist' });
  assert.equal(c.out, 'elsewhere');
  const { lines } = problems(`${VALID}backend: gpu\ndata: {mnistt: /x}\n`);
  assert.equal(lines.length, 2, lines.join('\n'));
  assert.match(lines[0]!, /backend: expected one of tensorflow-gpu, webgpu, tensorflow, wasm, cpu, found 'gpu'/);
  assert.match(lines[1]!, /data\.mnistt: expected one of the keys mnist, .*found unknown key 'mnistt' \(did you mean 'mnist'\?\)/);
});

test('an attack entry may have its own budgets; top-level budgets cover the others', () => {
  const own = VALID.replace('{name: jbda, seedSize: 10}', '{name: jbda, seedSize: 10, budgets: [20, 40]}');
  const c = parseSweepConfig(own, 'c.yaml');
  assert.deepEqual(c.attacks.map((a) => a.budgets), [null, [20, 40]]);
  assert.deepEqual(c.budgets, [100, 200]);
  // With every entry carrying its own, the top-level list may go.
  const all = parseSweepConfig(
    own.replace('{name: knockoff, queryset: emnist-letters}', '{name: knockoff, queryset: emnist-letters, budgets: 5000}').replace('budgets: [100, 200]\n', ''),
    'c.yaml',
  );
  assert.deepEqual(all.attacks.map((a) => a.budgets), [[5000], [20, 40]]);
  assert.match(problems(own.replace('budgets: [100, 200]\n', '')).message, /expected a key 'budgets' \(a list of query budgets \(or budgets in every attack entry\)\)/);
  assert.match(problems(own.replace('budgets: [20, 40]', 'budgets: [5, 40]')).message, /attacks\[1\]\.budgets\[0\]: expected at least 10 \(attacks\[1\] jbda queries its seed set of 10 first\), found 5/);
});

test('a bad grad2 value is reported at its own line, in the current and the deprecated spelling', () => {
  // grad2's keys hold a digit (grad2-target): the key named in the library's message must still
  // be found, so the problem points at the value, not at the whole defense entry.
  const text = (target: string, layers: string): string =>
    VALID.replace('reverse-sigmoid: {beta: [0.1, 0.2]}', `grad2:\n    eps: 0.5\n    ${target}: [all-ones, sideways]\n    ${layers}: every`);
  for (const [target, layers] of [['grad2Target', 'grad2Layers'], ['grad2-target', 'grad2-layers']] as const) {
    // VALID opens with an empty line: 7 defenses:, 8 mad, 9 grad2:, 10 eps, 11 target, 12 layers;
    // the columns are those of 'sideways' and 'every' after the four-space indent and the key.
    const { lines } = problems(text(target, layers), { warn: () => {} });
    assert.equal(lines.length, 2, lines.join('\n'));
    assert.match(lines[0]!, new RegExp(`^ {2}c\\.yaml:11:${target.length + 18}: defenses\\.grad2\\.${target}\\[1\\]: expected .*found 'sideways' \\(text\\) \\(--grad2-target: unknown value 'sideways'`));
    assert.match(lines[1]!, new RegExp(`^ {2}c\\.yaml:12:${layers.length + 7}: defenses\\.grad2\\.${layers}: expected .*found 'every' \\(text\\) \\(--grad2-layers: unknown value 'every'`));
  }
});

test('every declared choice of every defense is blamed at its own line, in either spelling', () => {
  // Whatever a key looks like, a bad value of it must point at that value: the guard against a
  // key the error's flag lookup cannot see (as grad2's digits once were).
  const checked: string[] = [];
  for (const name of defenseNames()) {
    const params = defenseParams(name);
    for (const param of params.filter((p) => p.kind === 'choice')) {
      const required = params.filter((p) => p !== param && p.default === undefined).map((p) => `    ${yamlKey(p)}: 1`);
      for (const key of [yamlKey(param), oldYamlKey(param)]) {
        if (key === null) continue;
        const text = VALID.replace(/defenses:\n(  .*\n)+/, `defenses:\n  ${name}:\n${[...required, `    ${key}: nonsense`].join('\n')}\n`);
        const line = text.split('\n').indexOf(`    ${key}: nonsense`) + 1;
        const { lines } = problems(text, { warn: () => {} });
        assert.equal(lines.length, 1, lines.join('\n'));
        assert.equal(lines[0]!.split(': expected')[0], `  c.yaml:${line}:${key.length + 7}: defenses.${name}.${key}`, lines[0]);
        checked.push(`${name}.${key}`);
      }
    }
  }
  for (const key of ['grad2.grad2Target', 'grad2.grad2-target', 'grad2.grad2Layers', 'mad.ydist']) assert.ok(checked.includes(key), `${key} not checked`);
});

test('the shipped configs (and the benchmarks\' own) are valid and expand to the documented grids', () => {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
  const sizes: Record<string, number> = {};
  for (const folder of ['configs', 'bench']) {
    for (const name of readdirSync(path.join(root, folder)).filter((n) => n.endsWith('.yaml')).sort()) {
      const c = loadSweepConfig(path.join(root, folder, name));
      assert.equal(c.victim.kind, 'train', name);
      if (c.victim.kind !== 'train') continue;
      sizes[`${folder}/${name}`] = expandGrid(c, { dataset: c.victim.train.dataset, arch: c.victim.train.arch, train: c.victim.train }).length;
    }
  }
  // quick: 2 attacks × 2 budgets × 8 points; the paper grids: 2 attacks × 1 budget × 21 points;
  // defenses-compared: 3 attacks × 1 budget × 23 points; prepare-overlap: 1 × 1 × 8;
  // adaptive-attackers: 2 seeds × (2 naive × 9 points + smoothing 9 + restorer 3 + bayes 3 +
  // s4l 1 + bayes-oracle 1 + jbda-smoothing 6), each adapted entry against its `defenses:`.
  assert.deepEqual(sizes, {
    'bench/prepare-overlap.yaml': 8,
    'configs/adaptive-attackers.yaml': 82,
    'configs/cifar.yaml': 42,
    'configs/defenses-compared.yaml': 69,
    'configs/fashion.yaml': 42,
    'configs/mnist.yaml': 42,
    'configs/quick.yaml': 32,
  });
});
