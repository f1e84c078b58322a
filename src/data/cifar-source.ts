/**
 * A folder holding CIFAR-10 or CIFAR-100 in the official binary format: the .bin files loose in
 * the folder, in the archive's own sub-folder (cifar-10-batches-bin/, cifar-100-binary/), or
 * still inside the official .tar.gz, read directly without unpacking it to disk.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { RuntimeFailure } from '../errors.js';
import { firstFile, isFile, readWholeFile } from './bytes.js';
import { CIFAR10_LAYOUT, CIFAR100_LAYOUT, cifarRecordBytes, decodeCifar, type CifarLayout, type CifarPart } from './cifar.js';
import type { DataSource, OfficialSplit } from './source.js';
import { readTarMembers } from './tar.js';
import type { DatasetInfo, DatasetName, Split } from './types.js';

interface CifarFolderLayout {
  format: CifarLayout;
  /** The official archive's file name. */
  archive: string;
  /** The folder inside the archive (and, once unpacked, beside it). */
  innerDir: string;
  files: Record<OfficialSplit, string[]>;
}

export const CIFAR_LAYOUTS: Partial<Record<DatasetName, CifarFolderLayout>> = {
  cifar10: {
    format: CIFAR10_LAYOUT,
    archive: 'cifar-10-binary.tar.gz',
    innerDir: 'cifar-10-batches-bin',
    files: {
      train: ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'],
      test: ['test_batch.bin'],
    },
  },
  cifar100: {
    format: CIFAR100_LAYOUT,
    archive: 'cifar-100-binary.tar.gz',
    innerDir: 'cifar-100-binary',
    files: { train: ['train.bin'], test: ['test.bin'] },
  },
};

/** The split's .bin files found loose (in the folder or its inner folder), or undefined if any is missing. */
async function looseFiles(dir: string, layout: CifarFolderLayout, split: OfficialSplit): Promise<string[] | undefined> {
  const out: string[] = [];
  for (const name of layout.files[split]) {
    const f = await firstFile([path.join(dir, name), path.join(dir, layout.innerDir, name)]);
    if (f === undefined) return undefined;
    out.push(f);
  }
  return out;
}

export async function cifarFolderSource(
  dir: string,
  info: DatasetInfo,
  layout: CifarFolderLayout,
  description: string,
): Promise<DataSource | null> {
  const archivePath = path.join(dir, layout.archive);
  const hasArchive = await isFile(archivePath);
  const loose: Partial<Record<OfficialSplit, string[]>> = {
    train: await looseFiles(dir, layout, 'train'),
    test: await looseFiles(dir, layout, 'test'),
  };
  if (!hasArchive && !loose.train && !loose.test) {
    // A lone batch file still counts as "found", so the user hears which others are missing.
    const anyBin = await firstFile(
      [...layout.files.train, ...layout.files.test].flatMap((n) => [path.join(dir, n), path.join(dir, layout.innerDir, n)]),
    );
    if (anyBin === undefined) return null;
  }
  const has = (split: OfficialSplit): boolean => hasArchive || loose[split] !== undefined;
  const splits: Split[] = [];
  if (has('train')) splits.push('train');
  if (has('test')) splits.push('test');
  if (has('train') && has('test')) splits.push('all');

  const officialOf = (split: Split): OfficialSplit[] => (split === 'all' ? ['train', 'test'] : [split]);

  /**
   * The batch bytes of a split in official order: one pass over the archive for all it must
   * supply; loose files are read only until `limit` records are covered.
   */
  async function parts(split: Split, limit: number | undefined): Promise<CifarPart[]> {
    const recordBytes = cifarRecordBytes(layout.format);
    let records = 0;
    const enough = (): boolean => limit !== undefined && records >= limit;
    const fromArchive = officialOf(split).filter((s) => loose[s] === undefined);
    const members = fromArchive.flatMap((s) => layout.files[s].map((n) => `${layout.innerDir}/${n}`));
    const extracted = members.length > 0 ? await readTarMembers(archivePath, members) : new Map<string, Buffer>();
    const out: CifarPart[] = [];
    for (const s of officialOf(split)) {
      const files = loose[s];
      const named = files
        ? files.map((f) => ({ name: f, read: () => readWholeFile(f) }))
        : layout.files[s].map((n) => {
            const member = `${layout.innerDir}/${n}`;
            return { name: `${archivePath}:${member}`, read: () => Promise.resolve(extracted.get(member)!) };
          });
      for (const part of named) {
        if (enough()) return out;
        const data = await part.read();
        out.push({ name: part.name, data });
        records += data.length / recordBytes;
      }
    }
    return out;
  }

  function whyNot(split: Split): string {
    const lacking = officialOf(split)
      .filter((s) => !has(s))
      .flatMap((s) => layout.files[s]);
    return `lacks ${lacking.join(', ')} (and has no ${layout.archive})`;
  }

  async function size(split: Split): Promise<number> {
    if (split === 'all') return (await size('train')) + (await size('test'));
    const files = loose[split];
    if (files) {
      let bytes = 0;
      for (const f of files) bytes += (await fs.stat(f)).size;
      return Math.floor(bytes / cifarRecordBytes(layout.format));
    }
    if (!hasArchive) throw new RuntimeFailure(`${info.name}: ${description} ${whyNot(split)}`);
    // Counting inside the archive means inflating it: use the official count.
    return info.officialSizes[split];
  }

  return {
    description,
    splits,
    fixedSplits: false,
    whyNot,
    size,
    async load(split, limit) {
      if (!splits.includes(split)) throw new RuntimeFailure(`${info.name}: ${description} ${whyNot(split)}`);
      return decodeCifar(await parts(split, limit), layout.format, limit);
    },
  };
}
