/**
 * Defense parameters from flag values: typed specs, defaults, and one UsageError per mistake that
 * names the parameter and what it takes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from './helpers/cli.js';
import { UsageError } from '../src/errors.js';
import { flagHelp, parseDefenseSpec } from '../src/defenses/params.js';
import { defenseDefinition, defenseFlags, defenseNames } from '../src/defenses/registry.js';
import { defaultGamma } from '../src/defenses/reverse-sigmoid.js';
import { defenseSlug, describeDefense } from '../src/defenses/spec.js';
import { yamlKey } from '../src/params/declaration.js';

test('each defense parses into its typed spec with documented defaults', () => {
  assert.deepEqual(parseDefenseSpec(undefined, {}), { name: 'none' });
  assert.deepEqual(parseDefenseSpec('argmax', {}), { name: 'argmax' });
  assert.deepEqual(parseDefenseSpec('top-k', { k: '3' }), { name: 'top-k', k: 3 });
  assert.deepEqual(parseDefenseSpec('rounding', { decimals: '2' }), { name: 'rounding', decimals: 2 });
  assert.deepEqual(parseDefenseSpec('reverse-sigmoid', { beta: '0.3', gamma: '0.5' }), { name: 'reverse-sigmoid', beta: 0.3, gamma: 0.5 });
  assert.deepEqual(parseDefenseSpec('random-noise', { 'noise-eps': '0.2' }), {
    name: 'random-noise',
    epsZ: 0.2,
    norm: 'l1',
    dist: 'uniform',
  });
  assert.deepEqual(parseDefenseSpec('random-noise', { 'noise-eps': 1, 'noise-norm': 'l2', 'noise-dist': 'gaussian' }), {
    name: 'random-noise',
    epsZ: 1,
    norm: 'l2',
    dist: 'gaussian',
  });
  assert.deepEqual(parseDefenseSpec('mad', { eps: '0.5' }), {
    name: 'mad',
    eps: 0.5,
    ydist: 'l1',
    jacobian: 'closed',
    ablation: 'none',
    surrogate: null,
  });
  assert.deepEqual(parseDefenseSpec('mad-argmax', { eps: '1', ydist: 'l2', jacobian: 'autodiff-all', surrogate: 'runs/s' }), {
    name: 'mad-argmax',
    eps: 1,
    ydist: 'l2',
    jacobian: 'autodiff-all',
    ablation: 'none',
    surrogate: 'runs/s',
  });
  assert.deepEqual(parseDefenseSpec('mad', { eps: '0.5', ablation: 'random-vertex' }).name, 'mad');
});

test("reverse sigmoid's default γ follows the victim's dataset (docs/spec.md)", () => {
  const gamma = (dataset?: string): number => {
    const s = parseDefenseSpec('reverse-sigmoid', { beta: '0.5' }, { dataset });
    assert.equal(s.name, 'reverse-sigmoid');
    return typeof s.gamma === 'number' ? s.gamma : NaN;
  };
  assert.equal(gamma('mnist'), 0.2);
  assert.equal(gamma('fashion-mnist'), 0.4);
  assert.equal(gamma('cifar10'), 0.1);
  assert.equal(gamma('cifar100'), 0.2);
  assert.equal(gamma(undefined), 0.2);
  assert.equal(defaultGamma('cifar10'), 0.1);
});

test("MAD's ε defaults to 0.5 (so a bare `poison attack --defense mad` runs); other parameters stay as given", () => {
  assert.deepEqual(parseDefenseSpec('mad', {}, {}), { name: 'mad', eps: 0.5, ydist: 'l1', jacobian: 'closed', ablation: 'none', surrogate: null });
  assert.equal(parseDefenseSpec('mad-argmax', {}, {}).eps, 0.5);
  assert.equal(parseDefenseSpec('mad', { eps: '1.5' }, {}).eps, 1.5);
});

test('bad parameters: a UsageError naming the parameter and its range', () => {
  const cases: { defense: string | undefined; flags: Record<string, string>; ctx?: { numClasses?: number }; mentions: RegExp }[] = [
    { defense: 'madd', flags: {}, mentions: /--defense.*'madd'.*mad-argmax/ },
    { defense: 'mad', flags: { eps: 'abc' }, mentions: /--eps must be a number, got 'abc'/ },
    { defense: 'mad', flags: { eps: '-0.1' }, mentions: /--eps must be ≥ 0, got -0.1/ },
    { defense: 'mad', flags: { eps: '0.5', ydist: 'l3' }, mentions: /--ydist.*'l3'.*l1, l2/ },
    { defense: 'mad', flags: { eps: '0.5', jacobian: 'numeric' }, mentions: /--jacobian.*closed, autodiff, autodiff-all/ },
    { defense: 'mad', flags: { eps: '0.5', ablation: 'g=i' }, mentions: /--ablation.*identity, random-vertex/ },
    { defense: 'mad', flags: { eps: '0.5', beta: '0.3' }, mentions: /--beta does not apply to defense 'mad' \(it takes --eps, --ydist/ },
    { defense: 'mad', flags: { eps: '0.5', ablation: 'identity', jacobian: 'autodiff' }, mentions: /--jacobian does not apply with --ablation identity/ },
    { defense: 'mad', flags: { eps: '0.5', ablation: 'random-vertex', surrogate: 'x' }, mentions: /--surrogate does not apply with --ablation random-vertex/ },
    { defense: 'none', flags: { eps: '0.5' }, mentions: /--eps does not apply to defense 'none' \(it takes no parameters\)/ },
    { defense: 'argmax', flags: { k: '2' }, mentions: /--k does not apply to defense 'argmax'/ },
    { defense: 'top-k', flags: {}, mentions: /defense 'top-k' needs --k/ },
    { defense: 'top-k', flags: { k: '0' }, mentions: /--k must be ≥ 1, got 0/ },
    { defense: 'top-k', flags: { k: '2.5' }, mentions: /--k must be a whole number/ },
    { defense: 'top-k', flags: { k: '11' }, ctx: { numClasses: 10 }, mentions: /--k must be a whole number in 1\.\.10 .*got 11/ },
    { defense: 'rounding', flags: { decimals: '-1' }, mentions: /--decimals must be ≥ 0/ },
    { defense: 'rounding', flags: { decimals: '1.5' }, mentions: /--decimals must be a whole number/ },
    { defense: 'rounding', flags: { decimals: '21' }, mentions: /--decimals must be ≤ 20/ },
    { defense: 'reverse-sigmoid', flags: {}, mentions: /needs --beta/ },
    { defense: 'reverse-sigmoid', flags: { beta: '-1' }, mentions: /--beta must be ≥ 0/ },
    { defense: 'reverse-sigmoid', flags: { beta: '1.5' }, mentions: /--beta must be ≤ 1/ },
    { defense: 'reverse-sigmoid', flags: { beta: '0.5', gamma: '0' }, mentions: /--gamma must be > 0, got 0/ },
    { defense: 'reverse-sigmoid', flags: { beta: '0.5', gamma: 'x' }, mentions: /--gamma must be a number/ },
    { defense: 'random-noise', flags: {}, mentions: /needs --noise-eps/ },
    { defense: 'random-noise', flags: { 'noise-eps': '-1' }, mentions: /--noise-eps must be ≥ 0/ },
    { defense: 'random-noise', flags: { 'noise-eps': '1', 'noise-dist': 'laplace' }, mentions: /--noise-dist.*uniform, gaussian/ },
    { defense: 'random-noise', flags: { 'noise-eps': '1', eps: '1' }, mentions: /--eps does not apply to defense 'random-noise'/ },
    { defense: 'mad', flags: { eps: '0.5', epz: '1' }, mentions: /unknown defense parameter 'epz'/ },
  ];
  for (const c of cases) {
    assert.throws(
      () => parseDefenseSpec(c.defense, c.flags, c.ctx),
      (err: unknown) => err instanceof UsageError && c.mentions.test(err.message),
      `${c.defense} ${JSON.stringify(c.flags)}`,
    );
  }
});

test('every defense parameter belongs to at least one defense, and every defense is described', () => {
  // Each flag lists exactly the defenses declaring its key, in registry order, with their own declarations.
  const flags = defenseFlags();
  for (const f of flags) {
    assert.ok(f.flag.startsWith(`--${f.key} `), f.key);
    const declaring = defenseNames().flatMap((name) => defenseDefinition(name).params.filter((p) => p.key === f.key).map((param) => ({ defense: name, param })));
    assert.deepEqual(f.declarations, declaring, f.key);
  }
  const declaredKeys = new Set(defenseNames().flatMap((name) => defenseDefinition(name).params.map((p) => p.key)));
  assert.deepEqual(flags.map((f) => f.key).sort(), [...declaredKeys].sort(), 'one flag per declared key');
  assert.deepEqual(defenseDefinition('none').params, []);
  assert.deepEqual(
    defenseDefinition('mad').params.map((f) => f.key),
    ['eps', 'ydist', 'jacobian', 'ablation', 'surrogate'],
  );
  for (const name of defenseNames()) {
    const flags: Record<string, string> = {};
    for (const f of defenseDefinition(name).params) {
      if (['eps', 'noise-eps', 'beta', 'am-tau'].includes(f.key)) flags[f.key] = '0.5';
      if (f.key === 'k' || f.key === 'decimals') flags[f.key] = '2';
    }
    const spec = parseDefenseSpec(name, flags);
    assert.ok(describeDefense(spec).startsWith(name));
    assert.match(defenseSlug(spec), /^[a-z0-9.-]+$/);
  }
});

test('descriptions, slugs and flag help derived from the declarations read as they always have', () => {
  const cases: [string, Record<string, string>, string, string][] = [
    ['none', {}, 'none', 'none'],
    ['argmax', {}, 'argmax', 'argmax'],
    ['top-k', { k: '3' }, 'top-k(k=3)', 'top-k-k3'],
    ['rounding', { decimals: '2' }, 'rounding(decimals=2)', 'rounding-d2'],
    ['reverse-sigmoid', { beta: '0.3', gamma: '0.5' }, 'reverse-sigmoid(beta=0.3, gamma=0.5)', 'reverse-sigmoid-b0.3-g0.5'],
    ['random-noise', { 'noise-eps': '0.2', 'noise-dist': 'gaussian' }, 'random-noise(eps_z=0.2, l1, gaussian)', 'random-noise-z0.2-l1-gaussian'],
    ['mad', { eps: '0.5' }, 'mad(eps=0.5, ydist=l1, jacobian=closed, surrogate=random-init)', 'mad-eps0.5-l1'],
    ['mad-argmax', { eps: '1', ydist: 'l2', jacobian: 'autodiff', surrogate: 'runs/sur/' }, 'mad-argmax(eps=1, ydist=l2, jacobian=autodiff, surrogate=runs/sur/)', 'mad-argmax-eps1-l2-autodiff-sur-sur'],
    ['mad', { eps: '2', ablation: 'random-vertex' }, 'mad(eps=2, ydist=l1, ablation=random-vertex)', 'mad-eps2-l1-random-vertex'],
    ['modelguard-w', {}, 'modelguard-w(eps=1)', 'modelguard-w-eps1'],
    ['modelguard-s', { eps: '0.25' }, 'modelguard-s(eps=0.25)', 'modelguard-s-eps0.25'],
  ];
  for (const [name, flags, description, slug] of cases) {
    const spec = parseDefenseSpec(name, flags);
    assert.equal(describeDefense(spec), description);
    assert.equal(defenseSlug(spec), slug);
  }
  const help = new Map(defenseFlags().map((f) => [f.key, flagHelp(f)]));
  assert.deepEqual([...help.keys()], ['k', 'decimals', 'beta', 'gamma', 'noise-eps', 'noise-norm', 'noise-dist', 'eps', 'ydist', 'jacobian', 'ablation', 'surrogate',
    'am-tau', 'am-nu', 'misinformation', 'grad2-target', 'grad2-layers', 'grad2-surrogate']);
  assert.equal(help.get('eps'), 'mad, mad-argmax: budget ε ≥ 0 on ‖ỹ − y‖ (default 0.5); grad2: L1 budget ε in [0, 2] on ‖ỹ − y‖₁; ε = 0 releases y (default 0.5); ' +
    'modelguard-w, modelguard-s: L1 budget ε in [0, 2] on ‖ỹ − y‖₁; ε = 0 releases y (default 1)');
  assert.equal(help.get('k'), 'top-k: entries kept, a whole number in 1..K, then renormalised to sum to 1 (required)');
  assert.equal(help.get('gamma'), 'reverse-sigmoid: γ > 0 (default per dataset: mnist 0.2, fashion-mnist 0.4, cifar10 0.1, others 0.2)');
  assert.equal(help.get('noise-norm'), 'random-noise: ball of the noise, l1 | l2 (default l1)');
  assert.equal(help.get('surrogate'), "mad, mad-argmax: saved model used as surrogate (default: the victim's architecture, randomly initialised from --seed)");
});

test("docs/sweep-config.md's defense table lists every defense with its declared keys, their defaults and its operating point", () => {
  const docs = readFileSync(path.join(REPO_ROOT, 'docs', 'sweep-config.md'), 'utf8');
  for (const name of defenseNames()) {
    const definition = defenseDefinition(name);
    const row = docs.split('\n').find((l) => l.startsWith(`| \`${name}\` |`));
    assert.ok(row, `a row for ${name}`);
    const [, keys = '', axis = ''] = row.split(' | ');
    // The file's spelling: camelCase (`noiseEps` for --noise-eps).
    for (const p of definition.params) {
      const key = yamlKey(p);
      const shown = p.kind === 'choice' ? `\`${key}\` (\`${p.default}\`)` : typeof p.default === 'number' ? `\`${key}\` (${p.default})` : p.default === undefined ? `\`${key}\` (required` : `\`${key}\` (`;
      assert.ok(keys.includes(shown), `${name}: ${shown} in ${keys}`);
    }
    assert.equal(keys.match(/`[a-zA-Z0-9-]+` \(/g)?.length ?? 0, definition.params.length, `${name}: no key it does not declare`);
    assert.ok(axis.startsWith(definition.operatingAxis === null ? '—' : `\`${yamlKey({ key: definition.operatingAxis })}\``), `${name}'s operating point: ${axis}`);
  }
});
