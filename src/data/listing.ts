/**
 * What `poison data list` shows: for every dataset, each split with its size and the source it
 * would be loaded from, or how to get it. Damaged files are reported, not thrown.
 */
import { datasetInfo, howToGet } from './catalog.js';
import { defaultLocations, type DataLocations } from './locations.js';
import { discoverSources } from './sources.js';
import { DATASET_NAMES, SPLITS, type DatasetName, type Split } from './types.js';

interface SplitListing {
  split: Split;
  /** Image count, or null when the split is not available. */
  size: number | null;
  /** Where it would be loaded from, or null when not available. */
  source: string | null;
  /** Why it is unavailable or unreadable, when it is. */
  problem: string | null;
}

export interface DatasetListing {
  name: DatasetName;
  numClasses: number;
  height: number;
  width: number;
  channels: number;
  /** True when at least one split can be loaded. */
  available: boolean;
  splits: SplitListing[];
  /** Commands or packages that bring the dataset (its official files). */
  howToGet: string[];
}

interface ListOptions {
  locations?: DataLocations;
}

export async function listDatasets(opts: ListOptions = {}): Promise<DatasetListing[]> {
  const locations = opts.locations ?? defaultLocations();
  const out: DatasetListing[] = [];
  for (const name of DATASET_NAMES) out.push(await listOne(name, locations));
  return out;
}

async function listOne(name: DatasetName, locations: DataLocations): Promise<DatasetListing> {
  const info = datasetInfo(name);
  const { sources } = await discoverSources(name, locations);
  const splits: SplitListing[] = [];
  for (const split of SPLITS) {
    const source = sources.find((s) => s.splits.includes(split));
    if (!source) {
      const why = sources.map((s) => `${s.description} ${s.whyNot(split)}`).join('; ');
      splits.push({ split, size: null, source: null, problem: why || 'not found' });
      continue;
    }
    try {
      const size = await source.size(split);
      splits.push({ split, size, source: source.description, problem: null });
    } catch (err) {
      splits.push({ split, size: null, source: source.description, problem: (err as Error).message });
    }
  }
  return {
    name,
    numClasses: info.numClasses,
    height: info.height,
    width: info.width,
    channels: info.channels,
    available: splits.some((s) => s.size !== null),
    splits,
    howToGet: howToGet(name),
  };
}
