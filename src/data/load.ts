/**
 * Loading one split of one dataset as an ImageSet: find the first source that has the split,
 * decode it, and explain precisely what is missing when nothing has it.
 */
import * as path from 'node:path';
import { RuntimeFailure, UsageError } from '../errors.js';
import { datasetInfo, howToGet } from './catalog.js';
import { defaultDatasetDir, defaultLocations, type DataLocations } from './locations.js';
import { downloadsAllowed, fetchOnDemand, OFFLINE_ENV, type OnDemandFetchOptions } from './on-demand.js';
import type { DataSource } from './source.js';
import { discoverSources, expectedFilesText } from './sources.js';
import { SPLITS, type DatasetName, type ImageSet, type Split } from './types.js';

interface LoadOptions {
  /** The folder holding this dataset's files (the CLI's --data-dir); when given, the only place looked at. */
  dataDir?: string;
  /** Keep only the first `limit` images of the split. */
  limit?: number;
  /** Where to look instead of the machine's usual places (tests, packagers). */
  locations?: DataLocations;
  /**
   * Fetch the official files when no source has the split (default: unless POISON_OFFLINE is
   * set, which the CLI's --offline does).
   */
  download?: boolean;
  /** Mirror, manifest and progress of that fetch (tests). */
  fetch?: OnDemandFetchOptions;
}

export function parseSplit(raw: string): Split {
  if ((SPLITS as readonly string[]).includes(raw)) return raw as Split;
  throw new UsageError(`unknown split '${raw}' (choose one of: ${SPLITS.join(', ')})`);
}

export async function loadImageSet(name: DatasetName, split: Split, opts: LoadOptions = {}): Promise<ImageSet> {
  const info = datasetInfo(name);
  parseSplit(split);
  const limit = opts.limit;
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
    throw new UsageError(`limit must be a whole number ≥ 1, got ${String(limit)}`);
  }
  const source = await chooseSource(name, split, opts);
  const decoded = await source.load(split, limit);
  return {
    dataset: name,
    split,
    pixels: decoded.pixels,
    labels: decoded.labels,
    count: decoded.count,
    height: info.height,
    width: info.width,
    channels: info.channels,
    numClasses: info.numClasses,
    source: source.description,
  };
}

/**
 * Makes sure a split can be loaded, fetching the official files if no source has it (and
 * downloads are allowed); returns where it will be loaded from. Reads no images: a sweep calls
 * it for every dataset it needs before anything trains.
 */
export async function ensureSplit(name: DatasetName, split: Split, opts: LoadOptions = {}): Promise<string> {
  parseSplit(split);
  return (await chooseSource(name, split, opts)).description;
}

async function chooseSource(name: DatasetName, split: Split, opts: LoadOptions): Promise<DataSource> {
  const locations = opts.locations ?? defaultLocations();
  let { sources, searched } = await discoverSources(name, locations, opts.dataDir);
  let chosen = sources.find((s) => s.splits.includes(split));
  if (chosen) return chosen;

  const download = opts.download ?? downloadsAllowed();
  if (download) {
    await fetchOnDemand(name, opts.dataDir ?? defaultDatasetDir(name, locations), opts.fetch);
    ({ sources, searched } = await discoverSources(name, locations, opts.dataDir));
    chosen = sources.find((s) => s.splits.includes(split));
    if (chosen) return chosen;
  }

  const offline = download ? '' : `downloads are off (--offline or ${OFFLINE_ENV}); `;
  const ways = howToGet(name, opts.dataDir).map((c) => `\`${c}\``).join(' or ');
  if (sources.length === 0) {
    if (opts.dataDir !== undefined) {
      throw new RuntimeFailure(
        `${name} not found in ${path.resolve(opts.dataDir)}: it holds none of ${expectedFilesText(name)}; ${offline}get them with ${ways}`,
      );
    }
    throw new RuntimeFailure(`${name} not found (looked in: ${searched.join('; ')}); ${offline}get it with ${ways}`);
  }
  const reasons = sources.map((s) => `${s.description} ${s.whyNot(split)}`).join('; ');
  if (sources.some((s) => s.fixedSplits)) {
    // What exists cannot ever serve this split: the request itself is wrong for this machine.
    throw new UsageError(
      `${name}: split '${split}' is not available (${reasons}); use split 'all' as a query pool only, or get the official files with ${ways}`,
    );
  }
  throw new RuntimeFailure(`${name}: split '${split}' not found (${reasons}); ${offline}get the missing files with ${ways}`);
}
