/**
 * One source of training defaults: `poison attack` / `poison train` flags and a sweep config
 * resolve the same settings for every architecture, attack and preset; the documented table is
 * the one the code produces; the presets hold the values the docs/spec.md and the authors' scripts use.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { attackNames } from '../src/attacks/registry.js';
import { ARCH_NAMES } from '../src/models/types.js';
import { attackerTrainingFromFlags, victimTrainingFromFlags } from '../src/cli/training-flags.js';
import { parseSweepConfig } from '../src/sweep/config/parse-config.js';
import { cellAttacker } from '../src/sweep/plan/grid.js';
import { attackerTrainingDefaults, trainingDefaultsTable, TRAINING_PRESETS } from '../src/train/defaults.js';
import { UsageError } from '../src/errors.js';
import type { VictimTrainSettings } from '../src/sweep/config/config-types.js';
import type { TrainSettings } from '../src/train/loop.js';
import { REPO_ROOT } from './helpers/cli.js';

function sweepYaml(arch: string, attacker: string, victimTrain = ''): string {
  return `
victim:
  train: {dataset: ${arch === 'lenet' ? 'mnist' : 'cifar10'}, arch: ${arch}${victimTrain}}
attacks:
  - {name: knockoff, queryset: ${arch === 'lenet' ? 'emnist-letters' : 'cifar100'}}
  - {name: jbda}
  - {name: jbself}
  - {name: jbtop}
defenses: {none: {}}
budgets: [1000]
${attacker}
`;
}

test('poison attack and a sweep resolve the same attacker training for every architecture, attack and preset', () => {
  for (const arch of ARCH_NAMES) {
    for (const preset of TRAINING_PRESETS) {
      for (const [flags, yamlKeys] of [
        [{}, ''],
        [{ epochs: '7', lr: '0.05' }, ', epochs: 7, lr: 0.05'],
      ] as const) {
        const config = parseSweepConfig(sweepYaml(arch, `attacker: {arch: ${arch}, preset: ${preset}${yamlKeys}}`), 'c.yaml');
        for (const attack of attackNames()) {
          const cli = attackerTrainingFromFlags({ preset, ...flags }, arch, attack);
          const { arch: cellArch, preset: cellPreset, ...sweep } = cellAttacker(config, attack, arch);
          assert.equal(cellArch, arch);
          assert.equal(cellPreset ?? 'paper', preset);
          assert.deepEqual(sweep, cli.training, `${arch} ${attack} ${preset} ${JSON.stringify(flags)}`);
        }
      }
    }
  }
  // No preset at all: the paper's, on both paths, and the cell names no preset (ids unchanged).
  const config = parseSweepConfig(sweepYaml('vgg16_bn', ''), 'c.yaml');
  assert.deepEqual(cellAttacker(config, 'knockoff', 'vgg16_bn'), { arch: 'vgg16_bn', ...attackerTrainingFromFlags({}, 'vgg16_bn', 'knockoff').training });
});

/** The training settings of a sweep's victim block (without dataset, arch, limit and seed). */
function trainingOf(t: VictimTrainSettings): TrainSettings {
  return { epochs: t.epochs, lr: t.lr, momentum: t.momentum, batchSize: t.batchSize, lrStep: t.lrStep, weightDecay: t.weightDecay };
}

test('poison train and a sweep victim block resolve the same victim training for every architecture', () => {
  for (const arch of ARCH_NAMES) {
    const config = parseSweepConfig(sweepYaml(arch, ''), 'c.yaml');
    assert.equal(config.victim.kind, 'train');
    if (config.victim.kind !== 'train') continue;
    assert.deepEqual(trainingOf(config.victim.train), victimTrainingFromFlags({}, arch), arch);
    const withFlags = parseSweepConfig(sweepYaml(arch, '', ', epochs: 3, lrStep: 2'), 'c.yaml');
    if (withFlags.victim.kind !== 'train') assert.fail('a train block');
    assert.deepEqual(trainingOf(withFlags.victim.train), victimTrainingFromFlags({ epochs: '3', lrStep: '2' }, arch), arch);
  }
});

test('the presets: the paper (docs/spec.md) and the authors’ scripts', () => {
  assert.deepEqual(attackerTrainingDefaults('lenet', 'knockoff', 'paper'), { epochs: 30, lr: 0.1, momentum: 0.5, batchSize: 64, lrStep: 50, weightDecay: 0 });
  assert.equal(attackerTrainingDefaults('vgg16_bn', 'jbtop', 'paper').epochs, 100);
  assert.equal(victimTrainingFromFlags({}, 'vgg16_bn').epochs, 100);
  assert.equal(victimTrainingFromFlags({}, 'lenet').epochs, 30);
  assert.deepEqual(attackerTrainingDefaults('lenet', 'knockoff', 'reference'), { epochs: 50, lr: 0.01, momentum: 0.5, batchSize: 64, lrStep: 60, weightDecay: 0 });
  assert.deepEqual(attackerTrainingDefaults('vgg16_bn', 'jbda', 'reference'), { epochs: 100, lr: 0.01, momentum: 0.9, batchSize: 64, lrStep: 30, weightDecay: 5e-4 });
  assert.throws(() => attackerTrainingFromFlags({ preset: 'authors' }, 'lenet', 'knockoff'), (e: unknown) => e instanceof UsageError && /--preset: unknown value 'authors' \(choose one of: paper, reference\)/.test(e.message));
  assert.throws(() => parseSweepConfig(sweepYaml('lenet', 'attacker: {preset: authors}'), 'c.yaml'), (e: unknown) => e instanceof UsageError && /attacker\.preset/.test(e.message));
});

test('docs/sweep-config.md shows the defaults table the code resolves', () => {
  const doc = readFileSync(path.join(REPO_ROOT, 'docs', 'sweep-config.md'), 'utf8');
  assert.ok(doc.includes(trainingDefaultsTable(ARCH_NAMES)), 'regenerate the table in docs/sweep-config.md from trainingDefaultsTable(ARCH_NAMES)');
});
