/**
 * EMNIST's storage quirk: its IDX files hold every image transposed (rows and columns swapped)
 * relative to MNIST, so a letter read naively lies on its side, mirrored. Swapping back makes
 * EMNIST images upright like MNIST's, which cross-dataset queries rely on.
 * (Its letter labels 1..26 are shifted to 0..25 by the IDX reader's labelOffset.)
 */

/** Transpose each of `count` square side×side images in place. */
export function transposeSquareImagesInPlace(pixels: Uint8Array, count: number, side: number): void {
  const size = side * side;
  for (let i = 0; i < count; i++) {
    const base = i * size;
    for (let r = 0; r < side; r++) {
      for (let c = r + 1; c < side; c++) {
        const a = base + r * side + c;
        const b = base + c * side + r;
        const t = pixels[a]!;
        pixels[a] = pixels[b]!;
        pixels[b] = t;
      }
    }
  }
}

/** Offset between EMNIST-letters' stored labels (1 = 'a/A' … 26 = 'z/Z') and class indices. */
export const EMNIST_LETTERS_LABEL_OFFSET = 1;
