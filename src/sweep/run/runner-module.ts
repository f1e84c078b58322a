/**
 * Which module provides a sweep worker's CellRunner (runner.ts): the attack library's
 * (attack-runner.ts), or — so the sweep machinery itself (resume after SIGKILL, shards, merge, plots) can be tested
 * in seconds without training — a stand-in module whose path is in POISON_SWEEP_RUNNER_MODULE.
 * Nothing in src/ knows any stand-in; each names itself in its rows' provenance.
 */
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { UsageError } from '../../errors.js';
import type { CellRunner } from './runner.js';

/** Holds the path of a module (compiled JS) that replaces the attack library's runner. */
export const RUNNER_MODULE_ENV = 'POISON_SWEEP_RUNNER_MODULE';

/** What a runner module exports. */
interface RunnerModule {
  /** Whether its runner reads the sweep's datasets: if so the sweep checks (or fetches) them before it starts. */
  readonly readsData: boolean;
  createRunner(): CellRunner;
}

/** The absolute path of the runner module named by the environment, or null for the attack library's. */
export function runnerModuleFromEnv(env: NodeJS.ProcessEnv = process.env): string | null {
  const value = env[RUNNER_MODULE_ENV];
  return value ? path.resolve(value) : null;
}

/** The attack library's runner module (null), or the one at `modulePath`, checked for its shape. */
export async function loadRunnerModule(modulePath: string | null): Promise<RunnerModule> {
  if (modulePath === null) return import('./attack-runner.js');
  let loaded: unknown;
  try {
    loaded = await import(pathToFileURL(modulePath).href);
  } catch (err) {
    throw new UsageError(`${RUNNER_MODULE_ENV}=${modulePath}: cannot load it (${err instanceof Error ? err.message : String(err)})`);
  }
  if (!isRunnerModule(loaded)) throw new UsageError(`${RUNNER_MODULE_ENV}=${modulePath} does not export readsData (a boolean) and createRunner()`);
  return loaded;
}

function isRunnerModule(value: unknown): value is RunnerModule {
  if (typeof value !== 'object' || value === null) return false;
  const m = value as Partial<Record<keyof RunnerModule, unknown>>;
  return typeof m.readsData === 'boolean' && typeof m.createRunner === 'function';
}
