/**
 * What runs inside a sweep worker: a CellRunner trains the victim (once, before any cell) and
 * runs cells. The contract only: runner-module.ts finds the module that provides one, so a
 * runner (attack-runner.ts, or a test's stand-in) imports these types without importing its loader.
 */
import type { BackendName } from '../../engine/backend-names.js';
import type { DatasetName } from '../../data/types.js';
import type { Cell } from '../plan/cell.js';
import type { CellMetrics, StageSeconds } from './cell-record.js';
import type { VictimTrainSettings } from '../config/config-types.js';

/** Sweep-wide settings every cell of a run shares and none of them is identified by. */
export interface RunContext {
  /** The victim's model directory. */
  victimDir: string;
  /** `<out>/runs`: each cell's full attack output goes to `<runsDir>/<cell id>/`. */
  runsDir: string;
  /** `<out>/queries`: an adaptive attack's query phase shared by cells goes to `<queriesDir>/<key>/`. */
  queriesDir: string;
  cacheDir: string | null;
  dataDirs: Partial<Record<DatasetName, string>>;
  queryBatchSize: number;
}

export interface CellOutcome {
  metrics: CellMetrics;
  seconds: StageSeconds;
}

/** Where a worker's numbers come from, for each cell's provenance. */
export interface RunnerEnvironment {
  backend: string;
  backendVersion: string | null;
  tfjsVersion: string | null;
}

export interface CellRunner {
  /**
   * The runner's name in each cell's provenance: 'real' for the attack library's. A stand-in
   * gives its own, so its rows are never taken for measurements.
   */
  readonly kind: string;
  /** Once per worker process, before its first task. */
  init(backend: BackendName | null): Promise<RunnerEnvironment>;
  /** Train the sweep's victim into `dir` (an atomic directory write: complete or absent). */
  trainVictim(settings: VictimTrainSettings, dir: string, dataDirs: RunContext['dataDirs'], quiet: boolean): Promise<void>;
  runCell(cell: Cell, context: RunContext): Promise<CellOutcome>;
}

