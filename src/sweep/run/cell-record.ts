/**
 * What a finished cell writes to `cells/<id>.json`: its settings, every metric, the seconds each
 * stage took and where the numbers came from. The merge builds sweep.csv from these files only.
 */
import type { CellSettings } from '../plan/cell.js';

/** /2: defender.accuracy became defender.accuracyDefended (one name per metric across result files). */
export const CELL_FORMAT = 'poison-sweep-cell/2';

interface MeanStd {
  mean: number;
  std: number;
}

/** ‖y − ỹ‖ and friends over a set of inputs (docs/spec.md "Metrics"). */
export interface Distortion {
  count: number;
  l1: MeanStd;
  l2: MeanStd;
  kl: MeanStd;
  /** Share of rows whose argmax changed. */
  top1ChangeRate: number;
  /** Rows of ỹ that break an invariant: off the simplex, or outside the ε-ball a defense promises. */
  invariantViolations: number;
  /** The two kinds apart (null: the defense promises no ε-ball). */
  simplexViolations: number;
  epsBallViolations: number | null;
}

export interface CellMetrics {
  defender: {
    /** Accuracy of argmax ỹ on the victim's test set. */
    accuracyDefended: number;
    /** The victim's own test accuracy (argmax y). */
    accuracyUndefended: number;
    /** Distortion over the victim's test set (what benign users get). */
    test: Distortion;
    /** Distortion over the attacker's queries; null when the runner could not measure it. */
    queries: Distortion | null;
  };
  attacker: {
    /** Test accuracy after the last epoch: THE attacker accuracy. */
    accuracy: number;
    /** Best per-epoch test accuracy (an upper bound a real attacker cannot pick) and its epoch. */
    bestEpochAccuracy: number;
    bestEpoch: number;
    /** Agreement of argmax F_A with argmax of the undefended victim on the test set. */
    fidelity: number;
  };
  /** Images sent to the black box. */
  queries: number;
}

/** Wall-clock seconds per stage of the cell. */
export interface StageSeconds {
  /** Building the transfer set: querying the black box (0 when it came from the cache). */
  transfer: number;
  /** Training the attacker. */
  train: number;
  /** Scoring the defense on the test set. */
  evaluate: number;
  total: number;
}

interface CellProvenance {
  /** CellRunner.kind: 'real' for the attack library's runner, else a stand-in's name. */
  runner: string;
  backend: string;
  backendVersion: string | null;
  tfjsVersion: string | null;
  poisonVersion: string;
  packages: Record<string, string | null>;
  gitCommit: string | null;
  node: string;
  host: string;
  startedAt: string;
  finishedAt: string;
  /** The sweep process that ran it (host, pid, Slurm job), for `--status`; not in sweep.csv. */
  task?: string;
}

export interface CellRecord {
  format: typeof CELL_FORMAT;
  id: string;
  settings: CellSettings;
  metrics: CellMetrics;
  seconds: StageSeconds;
  provenance: CellProvenance;
}
