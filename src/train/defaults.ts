/**
 * The one place training defaults come from, for victims and attackers alike: `poison train`,
 * `poison attack`, the sweep config and the docs' tables all resolve their settings here, so a
 * setting cannot mean one thing on the command line and another in a sweep. Free of
 * TensorFlow.js (the CLI prints these in --help before loading anything heavy).
 *
 * Two presets:
 *   paper     — the docs/spec.md (the paper's appendix): SGD lr 0.1, momentum 0.5, batch 64, lr ×0.1
 *               every 50 epochs; 30 epochs for LeNet-sized nets, 100 for VGG16-BN.
 *   reference — what the authors' released scripts train the attacker with (docs/spec-reference-preset.md
 *               cites file and line for every value): pool attacks (the Knockoff Nets code's
 *               adversary/train.py as the prediction-poisoning README runs it) and the
 *               Jacobian family's final model (prediction-poisoning's defenses/adversary/jacobian.py).
 */
import type { AttackName } from '../attacks/names.js';
import { attackDefinition, attackNames, attacksByQuerySource } from '../attacks/registry.js';
import { querySourceOf } from '../attacks/query-sources.js';
import type { ArchName } from '../models/types.js';
import type { NumberRange } from '../util/parse.js';
import type { TrainSettings } from './loop.js';

export const TRAINING_PRESETS = ['paper', 'reference'] as const;
export type TrainingPreset = (typeof TRAINING_PRESETS)[number];

/** The docs/spec.md's length of training: the paper trains VGG16-BN 100 epochs, the MNIST-sized nets 30. */
function paperEpochs(arch: ArchName): number {
  return arch === 'vgg16_bn' ? 100 : 30;
}

/** docs/spec.md: victims train with SGD lr 0.1, momentum 0.5, batch 64, lr ×0.1 every 50 epochs, 30 / 100 epochs. */
export function victimTrainingDefaults(arch: ArchName): TrainSettings {
  return { epochs: paperEpochs(arch), lr: 0.1, momentum: 0.5, batchSize: 64, lrStep: 50, weightDecay: 0 };
}

/**
 * How the attacker trains F_A (architecture `arch`) on the transfer set of `attack` under a
 * preset. Attacks differ only under `reference`, where the authors' scripts train them
 * differently by where the queries come from: each query source declares its recipe.
 */
export function attackerTrainingDefaults(arch: ArchName, attack: AttackName, preset: TrainingPreset): TrainSettings {
  if (preset === 'paper') {
    return { epochs: paperEpochs(arch), lr: 0.1, momentum: 0.5, batchSize: 64, lrStep: 50, weightDecay: 0 };
  }
  return { ...querySourceOf(attackDefinition(attack)).referenceTraining };
}

/** The defaults, with whatever the user set explicitly (flags or YAML keys) on top. */
export function resolveTraining(defaults: TrainSettings, overrides: Partial<TrainSettings>): TrainSettings {
  const out: TrainSettings = { ...defaults };
  for (const key of TRAIN_SETTING_KEYS) {
    const v = overrides[key];
    if (v !== undefined) out[key] = v;
  }
  return out;
}

/** Valid values of each setting: the flags and the sweep's YAML keys check the same ranges. */
export const TRAIN_SETTING_RANGES: Record<keyof TrainSettings, NumberRange> = {
  epochs: { integer: true, min: 1 },
  lr: { gt: 0 },
  momentum: { min: 0, max: 0.999 },
  batchSize: { integer: true, min: 1 },
  lrStep: { integer: true, min: 1 },
  weightDecay: { min: 0 },
};

export const TRAIN_SETTING_KEYS = ['epochs', 'lr', 'momentum', 'batchSize', 'lrStep', 'weightDecay'] as const satisfies readonly (keyof TrainSettings)[];

/**
 * The defaults as a markdown table (docs/sweep-config.md and README.md hold this very text; a
 * test keeps them equal), one row per preset, attack family and architecture.
 */
export function trainingDefaultsTable(archs: readonly ArchName[]): string {
  const rows = ['| who | preset | attack | architecture | epochs | lr | momentum | batch | lr ×0.1 every | weight decay |', '|---|---|---|---|---|---|---|---|---|---|'];
  const row = (who: string, preset: string, attack: string, arch: string, s: TrainSettings): string =>
    `| ${who} | ${preset} | ${attack} | ${arch} | ${s.epochs} | ${s.lr} | ${s.momentum} | ${s.batchSize} | ${s.lrStep} | ${s.weightDecay} |`;
  for (const arch of archs) rows.push(row('victim', '—', '—', arch, victimTrainingDefaults(arch)));
  for (const arch of archs) rows.push(row('attacker', 'paper', 'every attack', arch, attackerTrainingDefaults(arch, attackNames()[0]!, 'paper')));
  for (const { names } of attacksByQuerySource()) {
    for (const arch of archs) rows.push(row('attacker', 'reference', names.join(', '), arch, attackerTrainingDefaults(arch, names[0]!, 'reference')));
  }
  return rows.join('\n');
}
