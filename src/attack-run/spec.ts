/**
 * The fully resolved request of one `poison attack` run (what a sweep runner builds), free of
 * TensorFlow.js so the command file can build it before loading anything heavy.
 */
import type { BackendName } from '../engine/backend-names.js';
import type { DatasetName, Split } from '../data/types.js';
import type { ArchName } from '../models/types.js';
import type { TrainSettings } from '../train/loop.js';
import type { TrainingPreset } from '../train/defaults.js';
import type { AttackName, AttackSettings, JacobianSettings, LabelMode } from '../attacks/names.js';
import type { DefenseSpec } from '../defenses/spec.js';
import type { AdaptationSpec } from '../adaptations/types.js';

export interface AttackSpec {
  /** A model directory written by `poison train` (model.json, weights.bin, params.json). */
  victim: string;
  attack: AttackName;
  /** How the attacker adapts to the defense (src/adaptations); absent or null: it does not. */
  adapt?: AdaptationSpec | null;
  /** Ascending, distinct. One fresh attacker per budget, trained on the first B queries. */
  budgets: number[];
  labelMode: LabelMode;
  defense: DefenseSpec;
  /** Attacks that draw from a query pool: the pool. */
  queryset?: DatasetName;
  querysetSplit: Split;
  querysetDir?: string;
  /** Attacks with Jacobian rounds (reference defaults for what an attack does not declare). */
  jacobian: JacobianSettings;
  /** The attack's own parameters (bag 'attack'), by key; absent or missing keys: its declared defaults. */
  settings?: AttackSettings;
  /** Default: the victim's architecture. */
  attackerArch?: ArchName;
  training: TrainSettings;
  /** Which defaults `training` was resolved from (recorded in result.json); absent: not said. */
  trainingPreset?: TrainingPreset;
  /** Images per black-box call. */
  queryBatchSize: number;
  seed: number;
  out: string;
  force: boolean;
  /** An undefended run's result.json (same attack, budgets, seed, label mode, victim). */
  baseline?: string;
  /** Cache non-adaptive transfer sets under this folder; null: never read or write a cache. */
  cacheDir: string | null;
  /**
   * The length of the transfer set that is kept for other runs (≥ the largest budget; default
   * that budget): a sweep sets it to the largest budget of the cells sharing the set, which then
   * serve their smaller budgets from its prefix. Used for a cached non-adaptive transfer set and
   * an adaptive attack's stored query phase (queryStore); otherwise the queries stop at the
   * largest budget.
   */
  queryBudget?: number;
  /**
   * Keep an adaptive attack's query phase (images, clean and released answers, queryBudget
   * rows) under this folder and replay it when it is there; null/absent: always query live.
   */
  queryStore?: string | null;
  /** The folder of the victim dataset's files (test split, seed set). */
  dataDir?: string;
  /** Score on the first N test images only (quick checks); default all. */
  testLimit?: number;
  backend?: BackendName;
  quiet?: boolean;
}
