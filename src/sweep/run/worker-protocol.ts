/**
 * Messages between the sweep process and its workers (child_process.fork, one task at a time
 * per worker). Errors cross as plain data and become the same kind of error on the other side,
 * so a UsageError in a cell still ends the sweep with exit code 2.
 */
import { PoisonError, RuntimeFailure, UsageError } from '../../errors.js';
import type { BackendName } from '../../engine/backend-names.js';
import type { Cell, CellSettings } from '../plan/cell.js';
import type { CellRecord } from './cell-record.js';
import type { VictimTrainSettings } from '../config/config-types.js';
import type { RunContext } from './runner.js';

export type WorkerRequest =
  | { type: 'init'; runnerModule: string | null; backend: BackendName | null; quiet: boolean }
  | { type: 'train-victim'; settings: VictimTrainSettings; dir: string; dataDirs: RunContext['dataDirs'] }
  | { type: 'prepare-defense'; settings: Pick<CellSettings, 'defense' | 'seed'>; victimDir: string }
  | { type: 'cell'; cell: Cell; context: RunContext };

interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  /** Set for PoisonErrors: the exit code they map to. */
  exitCode?: 1 | 2;
}

export type WorkerReply =
  | { type: 'ok'; record?: CellRecord }
  | { type: 'error'; error: SerializedError };

export function serializeError(err: unknown): SerializedError {
  if (err instanceof PoisonError) return { name: err.name, message: err.message, exitCode: err.exitCode };
  if (err instanceof Error) return { name: err.name, message: err.message, stack: err.stack };
  return { name: 'Error', message: String(err) };
}

export function deserializeError(e: SerializedError): Error {
  if (e.exitCode === 2) return new UsageError(e.message);
  if (e.exitCode === 1) return new RuntimeFailure(e.message);
  const err = new Error(e.message);
  err.name = e.name;
  if (e.stack) err.stack = e.stack;
  return err;
}
