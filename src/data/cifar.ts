/**
 * The CIFAR binary format: fixed-size records of label byte(s) followed by a 32×32 RGB image
 * stored channel-planar (1024 red, 1024 green, 1024 blue bytes, each row-major). CIFAR-10 has
 * one label byte; CIFAR-100 has a coarse (20 superclasses) then a fine (100 classes) byte,
 * and we use the fine one.
 */
import { RuntimeFailure } from '../errors.js';

export interface CifarLayout {
  /** Label bytes before each image. */
  labelBytes: number;
  /** Which of them is the class label. */
  labelIndex: number;
  numClasses: number;
  /** Upper bounds (exclusive) for every label byte, to catch misaligned or foreign files. */
  labelLimits: number[];
}

export const CIFAR10_LAYOUT: CifarLayout = { labelBytes: 1, labelIndex: 0, numClasses: 10, labelLimits: [10] };
export const CIFAR100_LAYOUT: CifarLayout = { labelBytes: 2, labelIndex: 1, numClasses: 100, labelLimits: [20, 100] };

const CIFAR_SIDE = 32;
const PLANE = CIFAR_SIDE * CIFAR_SIDE;
const IMAGE_BYTES = 3 * PLANE;

export function cifarRecordBytes(layout: CifarLayout): number {
  return layout.labelBytes + IMAGE_BYTES;
}

/** One batch file's bytes and the name to blame if they are wrong. */
export interface CifarPart {
  name: string;
  data: Uint8Array;
}

interface DecodedCifar {
  /** count·32·32·3 bytes, channels last. */
  pixels: Uint8Array;
  labels: Int32Array;
  count: number;
}

/** Check every part's length, then decode the first `limit` records of the parts in order. */
export function decodeCifar(parts: readonly CifarPart[], layout: CifarLayout, limit?: number): DecodedCifar {
  const recordBytes = cifarRecordBytes(layout);
  let total = 0;
  for (const part of parts) {
    if (part.data.length === 0 || part.data.length % recordBytes !== 0) {
      throw new RuntimeFailure(
        `${part.name}: wrong length: ${part.data.length} bytes is not a whole number of ${recordBytes}-byte CIFAR records` +
          ` (truncated, or not a ${layout.numClasses === 100 ? 'CIFAR-100' : 'CIFAR-10'} binary file)`,
      );
    }
    total += part.data.length / recordBytes;
  }
  const count = limit === undefined ? total : Math.min(total, limit);
  const pixels = new Uint8Array(count * IMAGE_BYTES);
  const labels = new Int32Array(count);
  let done = 0;
  for (const part of parts) {
    if (done === count) break;
    const take = Math.min(part.data.length / recordBytes, count - done);
    decodePart(part, layout, take, pixels, labels, done);
    done += take;
  }
  return { pixels, labels, count };
}

function decodePart(
  part: CifarPart,
  layout: CifarLayout,
  take: number,
  pixels: Uint8Array,
  labels: Int32Array,
  firstOut: number,
): void {
  const src = part.data;
  const recordBytes = cifarRecordBytes(layout);
  for (let r = 0; r < take; r++) {
    const rec = r * recordBytes;
    for (let b = 0; b < layout.labelBytes; b++) {
      const v = src[rec + b]!;
      if (v >= layout.labelLimits[b]!) {
        throw new RuntimeFailure(
          `${part.name}: record ${r} has label byte ${v}, outside 0..${layout.labelLimits[b]! - 1}: the file is corrupt or not in this format`,
        );
      }
    }
    labels[firstOut + r] = src[rec + layout.labelIndex]!;
    // CHW → HWC: pixel p of plane c goes to channel c of pixel p.
    const img = rec + layout.labelBytes;
    const out = (firstOut + r) * IMAGE_BYTES;
    for (let p = 0; p < PLANE; p++) {
      const o = out + 3 * p;
      pixels[o] = src[img + p]!;
      pixels[o + 1] = src[img + PLANE + p]!;
      pixels[o + 2] = src[img + 2 * PLANE + p]!;
    }
  }
}
