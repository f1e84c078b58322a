import type { Augmentation } from './augmentation.js';

/** Dataset names the CLI accepts. */
export const DATASET_NAMES = ['mnist', 'fashion-mnist', 'cifar10', 'cifar100', 'emnist-letters'] as const;
export type DatasetName = (typeof DATASET_NAMES)[number];

export type Split = 'train' | 'test' | 'all';

/**
 * A split held as raw bytes, the way the official files store it: N images of H×W×C
 * (channels last), uint8 pixels, one label each. Converting to floats happens per batch,
 * so 60k MNIST images cost 47 MB, not 188 MB.
 */
export interface ImageSet {
  dataset: DatasetName;
  split: Split;
  /** N·H·W·C bytes, image-major, channels last. */
  pixels: Uint8Array;
  labels: Int32Array;
  count: number;
  height: number;
  width: number;
  channels: number;
  numClasses: number;
  /** Where it was read from (a folder, a package, a file): goes into provenance. */
  source: string;
}

/** What a model expects: its input size and the normalisation of its family (docs/spec.md). */
export interface InputSpec {
  height: number;
  width: number;
  channels: number;
  mean: number[];
  std: number[];
}

/** Every split name, in the order listings show them. */
export const SPLITS = ['train', 'test', 'all'] as const satisfies readonly Split[];

/** Input normalisation families of the docs/spec.md: MNIST-like grayscale, or CIFAR RGB. */
export type NormalisationFamily = 'mnist' | 'cifar';

/** Per-channel mean and std applied after scaling pixels to [0, 1]. */
export interface Normalisation {
  mean: number[];
  std: number[];
}

/** Static facts about a dataset: no files are read to answer them. */
export interface DatasetInfo {
  name: DatasetName;
  numClasses: number;
  height: number;
  width: number;
  channels: number;
  family: NormalisationFamily;
  /** The family's normalisation (docs/spec.md), what a model trained on this dataset expects. */
  normalisation: Normalisation;
  /** How a victim trains on it (the reference's 'train' transform of its family); null = none. */
  trainingAugmentation: Augmentation | null;
  /** Official image counts of the train and test splits. */
  officialSizes: { train: number; test: number };
}
