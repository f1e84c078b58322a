/**
 * The official archives `poison data fetch` downloads, pinned by size and SHA-256.
 *
 * Source of every URL, size and SHA-256: tensorflow/datasets, tensorflow_datasets/url_checksums/
 * {mnist,fashion_mnist,cifar10,cifar100,emnist}.txt. MNIST comes from the CVDF mirror, as TFDS
 * pins it. One deliberate difference: EMNIST's gzip.zip is fetched from biometrics.nist.gov,
 * where NIST serves it now; TFDS pins it under www.itl.nist.gov/iaui/vip/cs_links/EMNIST/gzip.zip.
 * It is the same file: torchvision moved its EMNIST URL from the one to the other keeping the
 * same MD5 (58c8d27c78d21e728a6bc7b3cc06412e), and the SHA-256 check would catch any change.
 * Fashion-MNIST cross-check: Debian's dataset-fashion-mnist ships the same four .gz files with a
 * rewritten 10-byte gzip header (no original file name, another mtime), so their own SHA-256
 * differ. Putting the original header back (FLG=FNAME, the file name, mtime 2017-08-31 10:50:06
 * UTC for train-*, 10:50:27 UTC for t10k-*, XFL=0, OS=3) in front of Debian's compressed data
 * reproduces all four SHA-256 pinned here byte for byte (test/data-fetch.test.ts checks it).
 */
import type { DatasetName } from './types.js';

interface ZipExtraction {
  /** Path of the member inside the archive. */
  member: string;
  /** File name to write it to, beside the archive. */
  to: string;
}

export interface ManifestFile {
  /** Local file name: the official one, also used under --url-base. */
  name: string;
  url: string;
  size: number;
  sha256: string;
  /** Members to take out of this (zip) archive once it is verified. */
  extract?: ZipExtraction[];
}

export interface DatasetManifest {
  dataset: DatasetName;
  files: ManifestFile[];
}

const MNIST_BASE = 'https://storage.googleapis.com/cvdf-datasets/mnist/';
const FASHION_BASE = 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/';

const EMNIST_LETTERS_MEMBERS = [
  'emnist-letters-train-images-idx3-ubyte.gz',
  'emnist-letters-train-labels-idx1-ubyte.gz',
  'emnist-letters-test-images-idx3-ubyte.gz',
  'emnist-letters-test-labels-idx1-ubyte.gz',
];

const MANIFESTS: Record<DatasetName, DatasetManifest> = {
  mnist: {
    dataset: 'mnist',
    files: [
      file(MNIST_BASE, 'train-images-idx3-ubyte.gz', 9912422, '440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609'),
      file(MNIST_BASE, 'train-labels-idx1-ubyte.gz', 28881, '3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c'),
      file(MNIST_BASE, 't10k-images-idx3-ubyte.gz', 1648877, '8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6'),
      file(MNIST_BASE, 't10k-labels-idx1-ubyte.gz', 4542, 'f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6'),
    ],
  },
  'fashion-mnist': {
    dataset: 'fashion-mnist',
    files: [
      file(FASHION_BASE, 'train-images-idx3-ubyte.gz', 26421880, '3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84'),
      file(FASHION_BASE, 'train-labels-idx1-ubyte.gz', 29515, 'a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845'),
      file(FASHION_BASE, 't10k-images-idx3-ubyte.gz', 4422102, '346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073'),
      file(FASHION_BASE, 't10k-labels-idx1-ubyte.gz', 5148, '67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5'),
    ],
  },
  cifar10: {
    dataset: 'cifar10',
    files: [
      file('https://www.cs.toronto.edu/~kriz/', 'cifar-10-binary.tar.gz', 170052171, 'c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd'),
    ],
  },
  cifar100: {
    dataset: 'cifar100',
    files: [
      file('https://www.cs.toronto.edu/~kriz/', 'cifar-100-binary.tar.gz', 168513733, '58a81ae192c23a4be8b1804d68e518ed807d710a4eb253b1f2a199162a40d8ec'),
    ],
  },
  'emnist-letters': {
    dataset: 'emnist-letters',
    files: [
      {
        ...file('https://biometrics.nist.gov/cs_links/EMNIST/', 'gzip.zip', 561753746, 'fb9bb67e33772a9cc0b895e4ecf36d2cf35be8b709693c3564cea2a019fcda8e'),
        extract: EMNIST_LETTERS_MEMBERS.map((m) => ({ member: `gzip/${m}`, to: m })),
      },
    ],
  },
};

function file(base: string, name: string, size: number, sha256: string): ManifestFile {
  return { name, url: base + name, size, sha256 };
}

/** The pinned official manifest of a dataset (a copy: callers may adjust it freely). */
export function officialManifest(name: DatasetName): DatasetManifest {
  const m = MANIFESTS[name];
  return { dataset: m.dataset, files: m.files.map((f) => ({ ...f, extract: f.extract?.map((e) => ({ ...e })) })) };
}
