import type { Rng } from '../util/rng.js';

export const ARCH_NAMES = ['lenet', 'cnn-small', 'vgg16_bn'] as const;
export type ArchName = (typeof ARCH_NAMES)[number];

/** Every model's last layer is a dense layer with this name, producing logits (MAD's G uses it). */
export const LOGITS_LAYER = 'logits';

export interface ModelBuildSpec {
  inputShape: [number, number, number];
  numClasses: number;
  /** Seeds every initialiser; the same rng state gives the same weights. */
  rng: Rng;
}
