/**
 * What every place that can hold a dataset (a folder of official files, a Debian folder, an npm
 * package) offers: which splits it has, their sizes, and loading one as raw bytes.
 */
import type { Split } from './types.js';

export type OfficialSplit = 'train' | 'test';

export interface DecodedImages {
  /** count·H·W·C bytes, channels last. */
  pixels: Uint8Array;
  labels: Int32Array;
  count: number;
}

export interface DataSource {
  /** Where it is, for people and provenance, e.g. "folder /x/datasets/cifar10". */
  description: string;
  /** The splits it can serve as found on disk. */
  splits: readonly Split[];
  /**
   * True when the source by its nature never has the other splits (a package that dropped the
   * official train/test split): asking it for one is a usage error, not missing data.
   */
  fixedSplits: boolean;
  /** Why `split` is not served, e.g. "lacks t10k-images-idx3-ubyte(.gz)". */
  whyNot(split: Split): string;
  /** Image count of a split it serves, as cheaply as the format allows (headers, file sizes, official counts). */
  size(split: Split): Promise<number>;
  load(split: Split, limit?: number): Promise<DecodedImages>;
}

/** The `all` split of a source with official splits: train then test, cut at `limit`. */
export async function loadTrainThenTest(
  load: (split: OfficialSplit, limit?: number) => Promise<DecodedImages>,
  limit: number | undefined,
  bytesPerImage: number,
): Promise<DecodedImages> {
  const train = await load('train', limit);
  if (limit !== undefined && train.count >= limit) return train;
  const test = await load('test', limit === undefined ? undefined : limit - train.count);
  const count = train.count + test.count;
  const pixels = new Uint8Array(count * bytesPerImage);
  pixels.set(train.pixels, 0);
  pixels.set(test.pixels, train.count * bytesPerImage);
  const labels = new Int32Array(count);
  labels.set(train.labels, 0);
  labels.set(test.labels, train.count);
  return { pixels, labels, count };
}
