/**
 * What runs inside a sweep worker: a CellRunner trains the victim (once, before any cell) and
 * runs cells. The real runner calls the attack library; the fake runner (POISON_SWEEP_FAKE_RUNNER=1)
 * computes deterministic numbers from the settings in plain JS, so the sweep machinery itself
 * (resume after SIGKILL, shards, merge, plots) can be tested in seconds. Its rows say
 * backend 'fake'; it is a test double and never a source of results.
 */
import type { BackendName } from '../engine/backend-names.js';
import type { DatasetName } from '../data/types.js';
import type { Cell } from './cell.js';
import type { CellMetrics, StageSeconds } from './cell-record.js';
import type { VictimTrainSettings } from './config-types.js';

export type RunnerKind = 'real' | 'fake';

export const FAKE_RUNNER_ENV = 'POISON_SWEEP_FAKE_RUNNER';
/** Milliseconds the fake runner sleeps per cell, so tests can kill a sweep mid-run. */
export const FAKE_DELAY_ENV = 'POISON_SWEEP_FAKE_DELAY_MS';

export function runnerKindFromEnv(env: NodeJS.ProcessEnv = process.env): RunnerKind {
  return env[FAKE_RUNNER_ENV] === '1' ? 'fake' : 'real';
}

/** Sweep-wide settings every cell of a run shares and none of them is identified by. */
export interface RunContext {
  /** The victim's model directory. */
  victimDir: string;
  /** `<out>/runs`: each cell's full attack output goes to `<runsDir>/<cell id>/`. */
  runsDir: string;
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
  readonly kind: RunnerKind;
  /** Once per worker process, before its first task. */
  init(backend: BackendName | null): Promise<RunnerEnvironment>;
  /** Train the sweep's victim into `dir` (an atomic directory write: complete or absent). */
  trainVictim(settings: VictimTrainSettings, dir: string, dataDirs: RunContext['dataDirs'], quiet: boolean): Promise<void>;
  runCell(cell: Cell, context: RunContext): Promise<CellOutcome>;
}

export async function loadRunner(kind: RunnerKind): Promise<CellRunner> {
  if (kind === 'fake') return (await import('./fake-runner.js')).createFakeRunner();
  return (await import('./attack-runner.js')).createAttackRunner();
}
