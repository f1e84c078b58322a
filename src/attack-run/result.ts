/**
 * What `poison attack` writes. Layout of --out:
 *   result.json               the whole docs/spec.md row(s): one entry of `runs` per budget
 *   policy.svg                an adaptive pool attack's policy over time and queries per class
 *   budget-<B>/model.json, weights.bin, params.json (kind 'attacker'), train-log.csv
 */
import type { Provenance } from '../util/provenance.js';
import type { DefenseSpec } from '../defenses/spec.js';
import type { AttackName, LabelMode } from '../attacks/names.js';
import type { QuerySourceRecord } from '../attacks/query-sources.js';
import type { AdaptationSpec, AttackerKnows } from '../adaptations/types.js';
import type { DefenderUtility } from './defender-utility.js';
import type { QueryStatsReport } from '../blackbox/stats.js';
import type { AttackerScore } from './train-attacker.js';

export const RESULT_FILE = 'result.json';
export const ATTACKER_LOG_FILE = 'train-log.csv';
export const RESULT_FORMAT = 1;
export const POLICY_PLOT_FILE = 'policy.svg';

export function budgetDirName(budget: number): string {
  return `budget-${budget}`;
}

export interface AttackRun {
  budget: number;
  /** Queries the black box answered for this budget's transfer set (= budget, or less when an adaptation spends several per image). */
  queries: number;
  /** Images the attacker trains on: queries / the adaptation's queries per image (= queries without one). */
  images: number;
  /** Folder of this budget's attacker model and per-epoch log, relative to result.json. */
  modelDir: string;
  attacker: AttackerScore;
  /** ‖y − ỹ‖ etc. over the first `budget` queries the attacker sent. */
  queryDistortion: QueryStatsReport;
  /** (1 − acc_A here) / (1 − acc_A undefended), from --baseline; null without one. */
  errorAmplification: number | null;
  baselineAccuracy: number | null;
}

export interface AttackResult {
  kind: 'attack-result';
  format: number;
  attack: AttackName;
  /** How the attacker adapts to the defense (src/adaptations), with its settings; null: the naive attacker. */
  adaptation: AdaptationSpec | null;
  /** What the adapting attacker knows of the defense (SPEC-ADAPTIVE.md); null: no adaptation. */
  attackerKnows: AttackerKnows | null;
  /** What the adaptation decided in its query phase (e.g. the restorer's detector), when it reports. */
  adaptationReport?: Record<string, unknown>;
  labelMode: LabelMode;
  seed: number;
  victim: { dir: string; arch: string; dataset: string; numClasses: number; weightsSha256: string };
  attackerArch: string;
  /** The defense's resolved spec and its one-line description. */
  defense: DefenseSpec & { description: string };
  /** Its kind ('pool', 'seed-set', or an attack's own) and the images: the attack's query source's record. */
  querySource: QuerySourceRecord;
  transferSet: {
    /** hit: read from the cache (or a sweep's stored query phase); miss: computed and stored; off: neither used. */
    cache: 'hit' | 'miss' | 'off';
    cacheEntry: string | null;
    /** Times the victim model ran on attacker queries in this run (0 on a cache hit). */
    victimQueryBatches: number;
  };
  /** Defender utility on the victim's test set for the same defense settings. */
  defender: DefenderUtility;
  runs: AttackRun[];
  /** What an attack that picks pool classes by a policy picked (null, or absent, for the others). */
  queryPolicy?: QueryPolicyReport | null;
  timings: { querySeconds: number; evalSeconds: number; trainSeconds: number; totalSeconds: number };
  config: Record<string, unknown>;
  provenance: Provenance;
}

export interface QueryPolicyReport {
  /** The pool label of each class, in the order of every list below. */
  labels: number[];
  /** Queries per class among the first B, for each budget B (the run at the largest budget holds each smaller one as its prefix). */
  counts: { budget: number; perClass: number[] }[];
  /**
   * π over the classes after `queries` queries: at the start, after each refit of the attacker, and
   * at the end of the query phase (those up to the largest budget only).
   */
  policy: { queries: number; pi: number[] }[];
  /** The figure of both, beside result.json. */
  plot: string;
}
