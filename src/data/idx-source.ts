/**
 * A folder of official IDX files (MNIST, Fashion-MNIST, EMNIST-letters), raw or gzipped; for
 * EMNIST also the official gzip.zip, read member by member when the files were not extracted.
 */
import * as path from 'node:path';
import { RuntimeFailure } from '../errors.js';
import { fileSource, firstFile, isFile, type ByteSource } from './bytes.js';
import { EMNIST_LETTERS_LABEL_OFFSET, transposeSquareImagesInPlace } from './emnist.js';
import { peekIdxCount, readIdxPair, type IdxExpectation } from './idx.js';
import { loadTrainThenTest, type DataSource, type DecodedImages, type OfficialSplit } from './source.js';
import type { DatasetInfo, DatasetName, Split } from './types.js';
import { readZipMembers } from './zip.js';

interface SplitFiles {
  images: string;
  labels: string;
}

interface IdxLayout {
  /** Official base names without .gz. */
  files: Record<OfficialSplit, SplitFiles>;
  labelOffset: number;
  /** EMNIST stores images transposed. */
  transposed: boolean;
  /** EMNIST: the official archive and the folder its .gz members sit in. */
  zip?: { file: string; memberDir: string };
}

const MNIST_FILES: Record<OfficialSplit, SplitFiles> = {
  train: { images: 'train-images-idx3-ubyte', labels: 'train-labels-idx1-ubyte' },
  test: { images: 't10k-images-idx3-ubyte', labels: 't10k-labels-idx1-ubyte' },
};

export const IDX_LAYOUTS: Partial<Record<DatasetName, IdxLayout>> = {
  mnist: { files: MNIST_FILES, labelOffset: 0, transposed: false },
  'fashion-mnist': { files: MNIST_FILES, labelOffset: 0, transposed: false },
  'emnist-letters': {
    files: {
      train: { images: 'emnist-letters-train-images-idx3-ubyte', labels: 'emnist-letters-train-labels-idx1-ubyte' },
      test: { images: 'emnist-letters-test-images-idx3-ubyte', labels: 'emnist-letters-test-labels-idx1-ubyte' },
    },
    labelOffset: EMNIST_LETTERS_LABEL_OFFSET,
    transposed: true,
    zip: { file: 'gzip.zip', memberDir: 'gzip' },
  },
};

interface FoundSplit {
  images: ByteSource;
  labels: ByteSource;
  /** A plain file whose header gives the count cheaply, when there is one. */
  imagesFile?: string;
}

/** The source in `dir`, or null when it holds none of the dataset's files. */
export async function idxFolderSource(
  dir: string,
  info: DatasetInfo,
  layout: IdxLayout,
  description: string,
): Promise<DataSource | null> {
  const zipPath = layout.zip ? path.join(dir, layout.zip.file) : undefined;
  const hasZip = zipPath !== undefined && (await isFile(zipPath));
  const found: Partial<Record<OfficialSplit, FoundSplit>> = {};
  const missing: Record<OfficialSplit, string[]> = { train: [], test: [] };
  let anyFile = false;
  for (const split of ['train', 'test'] as const) {
    const names = layout.files[split];
    const images = await firstFile([path.join(dir, names.images), path.join(dir, names.images + '.gz')]);
    const labels = await firstFile([path.join(dir, names.labels), path.join(dir, names.labels + '.gz')]);
    anyFile ||= images !== undefined || labels !== undefined;
    if (images !== undefined && labels !== undefined) {
      found[split] = { images: fileSource(images), labels: fileSource(labels), imagesFile: images };
    } else if (hasZip && layout.zip) {
      found[split] = {
        images: zipMemberSource(zipPath, `${layout.zip.memberDir}/${names.images}.gz`),
        labels: zipMemberSource(zipPath, `${layout.zip.memberDir}/${names.labels}.gz`),
      };
    } else {
      if (images === undefined) missing[split].push(`${names.images}(.gz)`);
      if (labels === undefined) missing[split].push(`${names.labels}(.gz)`);
    }
  }
  if (!anyFile && !hasZip) return null;

  const splits: Split[] = [];
  if (found.train) splits.push('train');
  if (found.test) splits.push('test');
  if (found.train && found.test) splits.push('all');

  const expect: IdxExpectation = {
    height: info.height,
    width: info.width,
    numClasses: info.numClasses,
    labelOffset: layout.labelOffset,
  };
  const imageBytes = info.height * info.width * info.channels;

  const loadOfficial = async (split: OfficialSplit, limit?: number): Promise<DecodedImages> => {
    const f = found[split];
    if (!f) throw new RuntimeFailure(`${info.name}: ${description} ${whyNot(split)}`);
    const decoded = await readIdxPair(f.images, f.labels, expect, limit);
    if (layout.transposed) transposeSquareImagesInPlace(decoded.pixels, decoded.count, info.height);
    return decoded;
  };

  function whyNot(split: Split): string {
    const lacking = split === 'all' ? [...missing.train, ...missing.test] : missing[split];
    return `lacks ${lacking.join(', ')}`;
  }

  async function size(split: Split): Promise<number> {
    if (split === 'all') return (await size('train')) + (await size('test'));
    const f = found[split];
    if (!f) throw new RuntimeFailure(`${info.name}: ${description} ${whyNot(split)}`);
    // Inside the zip only inflating the member would tell: use the official count there.
    return f.imagesFile !== undefined ? peekIdxCount(f.imagesFile, 'images') : info.officialSizes[split];
  }

  return {
    description,
    splits,
    fixedSplits: false,
    whyNot,
    size,
    load(split, limit) {
      if (split === 'all') {
        if (!found.train || !found.test) return Promise.reject(new RuntimeFailure(`${info.name}: ${description} ${whyNot('all')}`));
        return loadTrainThenTest(loadOfficial, limit, imageBytes);
      }
      return loadOfficial(split, limit);
    },
  };
}

function zipMemberSource(zipPath: string, member: string): ByteSource {
  return {
    name: `${zipPath}:${member}`,
    read: async () => (await readZipMembers(zipPath, [member])).get(member)!,
  };
}
