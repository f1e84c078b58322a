/**
 * The training flags of `poison train` and `poison attack` (--epochs, --lr, …). They carry no
 * commander defaults: an unset flag is resolved by src/train/defaults.ts once the architecture
 * (and, for attackers, the attack and preset) is known, the same way a sweep resolves its keys.
 */
import type { Command } from 'commander';
import type { AttackName } from '../attacks/names.js';
import { attackNames, attacksByQuerySource } from '../attacks/registry.js';
import { ARCH_NAMES, type ArchName } from '../models/types.js';
import {
  attackerTrainingDefaults,
  resolveTraining,
  TRAIN_SETTING_KEYS,
  TRAIN_SETTING_RANGES,
  TRAINING_PRESETS,
  victimTrainingDefaults,
  type TrainingPreset,
} from '../train/defaults.js';
import type { TrainSettings } from '../train/loop.js';
import { parseChoice, parseNumber } from '../util/parse.js';

const FLAG_OF: Record<keyof TrainSettings, string> = {
  epochs: '--epochs',
  lr: '--lr',
  momentum: '--momentum',
  batchSize: '--batch-size',
  lrStep: '--lr-step',
  weightDecay: '--weight-decay',
};

const WHAT: Record<keyof TrainSettings, string> = {
  epochs: 'epochs',
  lr: 'SGD learning rate',
  momentum: 'SGD momentum',
  batchSize: 'batch size',
  lrStep: 'multiply the learning rate by 0.1 every N epochs',
  weightDecay: 'L2 weight decay (as PyTorch SGD weight_decay)',
};

const SYNTAX: Record<keyof TrainSettings, string> = {
  epochs: '--epochs <n>',
  lr: '--lr <x>',
  momentum: '--momentum <x>',
  batchSize: '--batch-size <n>',
  lrStep: '--lr-step <n>',
  weightDecay: '--weight-decay <x>',
};

/** "30 (lenet, cnn-small) / 100 (vgg16_bn)", or one value when every architecture agrees. */
function perArch(value: (arch: (typeof ARCH_NAMES)[number]) => number): string {
  const groups = new Map<number, string[]>();
  for (const arch of ARCH_NAMES) groups.set(value(arch), [...(groups.get(value(arch)) ?? []), arch]);
  if (groups.size === 1) return String([...groups.keys()][0]);
  return [...groups].map(([v, archs]) => `${v} (${archs.join(', ')})`).join(' / ');
}

export function addVictimTrainingFlags(cmd: Command): void {
  for (const key of TRAIN_SETTING_KEYS) {
    cmd.option(SYNTAX[key], `${WHAT[key]} (default, docs/spec.md: ${perArch((a) => victimTrainingDefaults(a)[key])})`);
  }
}

export function addAttackerTrainingFlags(cmd: Command): void {
  for (const key of TRAIN_SETTING_KEYS) {
    const paper = perArch((a) => attackerTrainingDefaults(a, attackNames()[0]!, 'paper')[key]);
    const reference = attacksByQuerySource()
      .map(({ names }) => `${names.join('/')} ${perArch((a) => attackerTrainingDefaults(a, names[0]!, 'reference')[key])}`)
      .join(', ');
    const what = key === 'lrStep' ? 'multiply the attacker learning rate by 0.1 every N epochs' : key === 'batchSize' ? 'attacker (and Jacobian substitute) batch size' : `attacker ${WHAT[key]}`;
    cmd.option(SYNTAX[key], `${what} (default: ${paper}; --preset reference: ${reference})`);
  }
}

/** The training flags the user set, validated; unset ones are absent. */
function trainingOverrides(flags: Partial<Record<keyof TrainSettings, string | boolean>>): Partial<TrainSettings> {
  const out: Partial<TrainSettings> = {};
  for (const key of TRAIN_SETTING_KEYS) {
    const value = flags[key];
    const raw = typeof value === 'string' ? value : undefined;
    if (raw !== undefined) out[key] = parseNumber(FLAG_OF[key], raw, TRAIN_SETTING_RANGES[key]);
  }
  return out;
}


/** `poison train`: the victim's training from its flags, unset ones at docs/spec.md's defaults for `arch`. */
export function victimTrainingFromFlags(flags: Partial<Record<keyof TrainSettings, string | boolean>>, arch: ArchName): TrainSettings {
  return resolveTraining(victimTrainingDefaults(arch), trainingOverrides(flags));
}

/** `poison train --misinformation`: the misinformation model's recipe (`defaults`) with the training flags the user set on top. */
export function trainingFromFlagsOver(flags: Partial<Record<keyof TrainSettings, string | boolean>>, defaults: TrainSettings): TrainSettings {
  return resolveTraining(defaults, trainingOverrides(flags));
}

/** `poison attack`: the attacker's training from --preset and the training flags, for F_A of `arch`. */
export function attackerTrainingFromFlags(
  flags: Partial<Record<keyof TrainSettings | 'preset', string | boolean>>,
  arch: ArchName,
  attack: AttackName,
): { preset: TrainingPreset; training: TrainSettings } {
  const raw = flags.preset;
  const preset = parseChoice('--preset', typeof raw === 'string' ? raw : 'paper', TRAINING_PRESETS);
  return { preset, training: resolveTraining(attackerTrainingDefaults(arch, attack, preset), trainingOverrides(flags)) };
}
