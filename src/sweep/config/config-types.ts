/**
 * A sweep config after validation: every default filled in, every grid axis a non-empty list.
 * Nothing here has been run or read from disk beyond the YAML file itself.
 */
import type { Node } from 'yaml';
import type { DatasetName } from '../../data/types.js';
import type { ArchName } from '../../models/types.js';
import type { BackendName } from '../../engine/backend-names.js';
import type { DefenseSpec } from '../../defenses/spec.js';
import type { TrainingPreset } from '../../train/defaults.js';
import type { TrainSettings } from '../../train/loop.js';

/** The fields `poison train` accepts, as a victim trained once per sweep into `<out>/victim/`. */
export interface VictimTrainSettings extends TrainSettings {
  dataset: DatasetName;
  arch: ArchName;
  /** Train on the first N training images only; null = all. */
  limit: number | null;
  seed: number;
}

export type VictimSource = { kind: 'dir'; dir: string } | { kind: 'train'; train: VictimTrainSettings };

/**
 * How the attacker trains F_A on its transfer set: a preset and the keys the file sets. The
 * rest is resolved per attack and architecture by src/train/defaults.ts (resolveAttackerTraining),
 * exactly as `poison attack` resolves its flags.
 */
export interface AttackerTrainConfig {
  /** Architecture of F_A; null = the victim's (the paper's setting). */
  arch: ArchName | null;
  preset: TrainingPreset;
  /** The training keys written in the file; absent ones come from the preset. */
  overrides: Partial<TrainSettings>;
}

/** A scalar defense parameter value. */
export type ParamValue = number | string;

/** One attack entry: its name and every parameter resolved (defaults filled in). */
export interface AttackEntry {
  name: string;
  params: Record<string, ParamValue | null>;
  /** Position in the config's list, for messages. */
  index: number;
  /** This attack's own budgets (overriding the top-level list), or null. */
  budgets: number[] | null;
  /** Where they are in the file, for cross-check messages. */
  budgetsNode: Node | null;
  /**
   * The defenses of the config this entry runs against (`defenses:` in the entry), or null for all
   * of them: an adaptation that cannot simulate some defenses, or a costly one, runs where it says.
   */
  defenses: { name: string; node: Node | null }[] | null;
}

/** One defense with its grid: each parameter a non-empty list of values (a scalar is a list of one). */
export interface DefenseEntry {
  name: string;
  /** Config key → values, as written (keys of the defense library: eps, ydist, beta, noise-eps, …). */
  grid: Record<string, ParamValue[]>;
  /** Every combination of the grid, resolved and validated by the defense library (defaults filled in). */
  points: DefenseSpec[];
}

export interface SweepConfig {
  /** The config file as given on the command line. */
  file: string;
  /** The config file's stem: names the sweep and its default output directory. */
  name: string;
  victim: VictimSource;
  attacks: AttackEntry[];
  /** In config order; `none` is always present (added when the file omits it). */
  defenses: DefenseEntry[];
  /** Budgets of the attack entries without their own (may be empty when every entry has its own). */
  budgets: number[];
  seeds: number[];
  attacker: AttackerTrainConfig;
  /** Score defenses and attackers on the first N test images only (quick sweeps); null = all. */
  testLimit: number | null;
  /** Images per black-box call. */
  queryBatchSize: number;
  backend: BackendName | null;
  out: string;
  /** Where the clean posteriors of transfer and test sets are cached (shared across sweeps); null = no cache. */
  cacheDir: string | null;
  /** Folders holding a dataset's files, when not in datasets/<name>/ or a system package. */
  dataDirs: Partial<Record<DatasetName, string>>;
}
