/**
 * Training-time augmentation per dataset family, as the reference trains its victims (the Knockoff Nets code's
 * datasets/__init__.py, the 'train' transforms): CIFAR-like images get a random 32×32
 * crop of the image zero-padded by 4 on every side, then a horizontal flip with probability ½;
 * MNIST-like images get nothing. Attackers are never augmented: the reference trains them on the
 * 'test' transform (docs/spec-reference-preset.md).
 *
 * It works on the stored uint8 bytes, before the batch becomes a tensor, so it never reads a
 * tensor back, and every draw comes from the caller's seeded Rng (the same seed gives the same
 * crops and flips). Kept free of TensorFlow.js, like the normalisation table.
 */
import type { Rng } from '../util/rng.js';
import type { NormalisationFamily } from './types.js';

export interface Augmentation {
  /** torchvision RandomCrop(size, padding): pad with zeros (black), crop size×size at a uniform offset. */
  randomCrop: { size: number; padding: number } | null;
  /** torchvision RandomHorizontalFlip(): mirror left–right with probability ½. */
  horizontalFlip: boolean;
}

const AUGMENTATIONS: Record<NormalisationFamily, Augmentation | null> = {
  // The reference's MNIST-family 'train' transform is ToTensor + Normalize only.
  mnist: null,
  // The reference's CIFAR-family 'train' transform: RandomCrop(32, padding=4), RandomHorizontalFlip().
  cifar: { randomCrop: { size: 32, padding: 4 }, horizontalFlip: true },
};

/** A fresh copy of the family's training augmentation, or null for none. */
export function augmentationFor(family: NormalisationFamily): Augmentation | null {
  const a = AUGMENTATIONS[family];
  return a === null ? null : { randomCrop: a.randomCrop ? { ...a.randomCrop } : null, horizontalFlip: a.horizontalFlip };
}

/** One line for logs: "random crop 32 (padding 4) + horizontal flip", or "none". */
export function describeAugmentation(a: Augmentation | null): string {
  if (a === null) return 'none';
  const parts: string[] = [];
  if (a.randomCrop) parts.push(`random crop ${a.randomCrop.size} (padding ${a.randomCrop.padding})`);
  if (a.horizontalFlip) parts.push('horizontal flip');
  return parts.length === 0 ? 'none' : parts.join(' + ');
}

/**
 * Augments `count` images of height×width×channels (HWC, image-major) in place, drawing per
 * image: the crop's top, then its left, then the flip. The crop must keep the image size (the
 * reference crops CIFAR's 32×32 back to 32×32).
 */
export function augmentImages(
  pixels: Uint8Array | Float32Array,
  count: number,
  height: number,
  width: number,
  channels: number,
  augmentation: Augmentation,
  rng: Rng,
): void {
  const crop = augmentation.randomCrop;
  if (crop && (crop.size !== height || crop.size !== width)) {
    throw new Error(`random crop ${crop.size} on ${height}×${width} images: the crop must keep the image size`);
  }
  const size = height * width * channels;
  const row = width * channels;
  // Float pixels too: the smoothing attacker augments queries that are no longer stored bytes.
  const scratch = pixels instanceof Float32Array ? new Float32Array(size) : new Uint8Array(size);
  for (let i = 0; i < count; i++) {
    const image = pixels.subarray(i * size, (i + 1) * size);
    if (crop) {
      // Offsets into the padded image, uniform over 0 … 2·padding as torch.randint(0, h + 2p − size + 1).
      const top = rng.int(height + 2 * crop.padding - crop.size + 1) - crop.padding;
      const left = rng.int(width + 2 * crop.padding - crop.size + 1) - crop.padding;
      scratch.fill(0);
      for (let y = 0; y < height; y++) {
        const sy = y + top;
        if (sy < 0 || sy >= height) continue;
        const x0 = Math.max(0, -left);
        const x1 = Math.min(width, width - left);
        if (x1 <= x0) continue;
        scratch.set(image.subarray(sy * row + (x0 + left) * channels, sy * row + (x1 + left) * channels), y * row + x0 * channels);
      }
      image.set(scratch);
    }
    if (augmentation.horizontalFlip && rng.next() < 0.5) {
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width >> 1; x++) {
          const a = y * row + x * channels;
          const b = y * row + (width - 1 - x) * channels;
          for (let c = 0; c < channels; c++) {
            const t = image[a + c]!;
            image[a + c] = image[b + c]!;
            image[b + c] = t;
          }
        }
      }
    }
  }
}
