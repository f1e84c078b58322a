/**
 * One cell of a sweep: a single (attack, defense operating point, budget, seed) run against the
 * sweep's victim, named by a hash of its resolved settings.
 */
import type { DatasetName } from '../../data/types.js';
import type { ArchName } from '../../models/types.js';
import type { DefenseSpec } from '../../defenses/spec.js';
import type { TrainingPreset } from '../../train/defaults.js';
import type { ParamValue, VictimTrainSettings } from '../config/config-types.js';

/**
 * What the victim is, as far as results depend on it: the settings it is trained with, or the
 * sha256 of a saved model's weights. Paths are not part of it: moving a model changes nothing.
 */
export interface VictimIdentity {
  dataset: DatasetName;
  arch: ArchName;
  train?: VictimTrainSettings;
  weights?: string;
}

export interface CellSettings {
  victim: VictimIdentity;
  attack: { name: string } & Record<string, ParamValue | null>;
  /** Resolved training of F_A; `preset` is present only when not the paper's (cell ids stay stable). */
  attacker: { arch: ArchName; epochs: number; lr: number; momentum: number; batchSize: number; lrStep: number; weightDecay: number; preset?: TrainingPreset };
  /** As resolved by the defense library (every default filled in). */
  defense: DefenseSpec;
  budget: number;
  seed: number;
  /** Test images scored: the first N, or null for all. */
  testLimit: number | null;
}

export interface Cell {
  /** shortHash(settings): independent of YAML key order and of the rest of the grid. */
  id: string;
  settings: CellSettings;
  /**
   * Keys of work shared with other cells that this cell computes if nobody has yet (a transfer
   * set and its clean posteriors, a surrogate's side information), in the order they are built.
   */
  shared: string[];
  /**
   * How many queries the cell's query phase runs to: the largest budget of the cells sharing it
   * (its own budget when it shares none). The cell trains on the first `settings.budget` of
   * them; not part of the id, since the first B queries do not depend on it.
   */
  queryBudget: number;
  /**
   * The key of an adaptive attack's query phase that the cells differing only in budget share:
   * kept in `<out>/queries/<key>/` until all of them are finished. Null for other attacks.
   */
  queryStore: string | null;
  /** The attack as plots and the summary name it: its name, plus what tells apart two entries of one name. */
  attackLabel: string;
}
