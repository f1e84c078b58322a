/**
 * Fetching a missing dataset when a command needs it, as torchvision's `download=True` does:
 * the official files, verified against their pinned SHA-256 (fetch.ts), into the dataset's
 * folder. `--offline` or POISON_OFFLINE=1 forbids it. A failed fetch takes back everything it
 * added (files and folders), so the next attempt starts clean and nothing half-done remains.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { isPoisonError, RuntimeFailure } from '../errors.js';
import { makeDirs, removeEmptyDirs } from '../util/safe-fs.js';
import { fetchDataset, type FetchEvent, type FetchOptions } from './fetch.js';
import { fetchProgressPrinter } from './fetch-progress.js';
import type { DatasetName } from './types.js';

/** Set to 1 (or any value but 0) to forbid downloads; the CLI's --offline sets it. */
export const OFFLINE_ENV = 'POISON_OFFLINE';

export function downloadsAllowed(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env[OFFLINE_ENV];
  return v === undefined || v === '' || v === '0';
}

/** What a test (or a mirror) may change about an on-demand fetch. */
export type OnDemandFetchOptions = Pick<FetchOptions, 'urlBase' | 'manifest' | 'idleTimeoutMs'> & {
  onEvent?: (e: FetchEvent) => void;
};

export async function fetchOnDemand(name: DatasetName, dir: string, opts: OnDemandFetchOptions = {}): Promise<void> {
  const target = path.resolve(dir);
  const created = await makeDirs(target, `${name} folder`);
  const before = new Set(await fs.readdir(target));
  const onEvent = opts.onEvent ?? fetchProgressPrinter(name);
  process.stderr.write(`${name}: not on this machine; fetching the official files into ${target} (--offline to forbid)\n`);
  try {
    await fetchDataset(name, { ...opts, dir: target, onEvent });
  } catch (err) {
    for (const entry of await fs.readdir(target).catch(() => [] as string[])) {
      if (!before.has(entry)) await fs.rm(path.join(target, entry), { recursive: true, force: true });
    }
    await removeEmptyDirs(created);
    const why = isPoisonError(err) ? err.message : err instanceof Error ? err.message : String(err);
    throw new RuntimeFailure(`${name} is not on this machine and fetching it failed (${why}); nothing was kept: run \`poison data fetch ${name}\` where the network allows, or put its official files in ${target}`);
  }
}
