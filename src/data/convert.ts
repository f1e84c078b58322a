/**
 * Turning stored uint8 images into a model's float input, also across datasets (MNIST-like
 * 28×28×1 queries to a CIFAR 32×32×3 model and back): scale to [0, 1], convert channels,
 * resize, normalise per channel. One tensor is created per batch, everything else is tidied.
 */
import * as tf from '@tensorflow/tfjs';
import { UsageError } from '../errors.js';
import type { ImageSet, InputSpec } from './types.js';


/** ITU-R BT.601 luma weights, the usual RGB→grayscale conversion. */
const LUMA = [0.299, 0.587, 0.114];

/** The sizes between which resizing is allowed: docs/spec.md's 28 (MNIST-like) and 32 (CIFAR). */
const RESIZABLE = new Set([28, 32]);

type ImageShape = Pick<ImageSet, 'height' | 'width' | 'channels'> & { dataset?: string };

/**
 * Throws a UsageError unless images of `from` can be turned into `spec`'s input: channels equal
 * or 1↔3, and sizes equal or square 28↔32.
 */
export function canConvert(from: ImageShape, spec: InputSpec): void {
  const what = from.dataset ?? 'the images';
  const fromShape = `${from.height}×${from.width}×${from.channels}`;
  const toShape = `${spec.height}×${spec.width}×${spec.channels}`;
  const channelsOk = from.channels === spec.channels || (from.channels === 1 && spec.channels === 3) || (from.channels === 3 && spec.channels === 1);
  if (!channelsOk) {
    throw new UsageError(
      `cannot feed ${what} (${fromShape}) to a model taking ${toShape}: only 1→3 (replicate) and 3→1 (luma) channel conversions exist`,
    );
  }
  const sameSize = from.height === spec.height && from.width === spec.width;
  const squares = from.height === from.width && spec.height === spec.width;
  if (!sameSize && !(squares && RESIZABLE.has(from.height) && RESIZABLE.has(spec.height))) {
    throw new UsageError(
      `cannot feed ${what} (${fromShape}) to a model taking ${toShape}: only equal sizes or 28×28↔32×32 resizing are supported`,
    );
  }
  for (const [label, values] of [['mean', spec.mean], ['std', spec.std]] as const) {
    if (values.length !== spec.channels) {
      throw new UsageError(`the model input's ${label} has ${values.length} values for ${spec.channels} channel(s)`);
    }
  }
  if (spec.std.some((s) => !(s > 0))) throw new UsageError(`the model input's std must be positive, got [${spec.std.join(', ')}]`);
}

export type BatchIndices = Int32Array | number[] | { start: number; end: number };

/** The images at `indices` as one float32 NHWC batch in `spec`'s shape and normalisation. */
export function toModelInput(set: ImageSet, indices: BatchIndices, spec: InputSpec): tf.Tensor4D {
  canConvert(set, spec);
  const { bytes, count } = gatherBytes(set, indices);
  return tf.tidy(() => {
    let x: tf.Tensor4D = tf.tensor4d(bytes, [count, set.height, set.width, set.channels], 'float32').div(255);
    // Reduce channels before resizing and expand after: both are linear, so the order only changes the cost.
    if (set.channels === 3 && spec.channels === 1) x = tf.sum(x.mul(tf.tensor1d(LUMA)), -1, true);
    if (set.height !== spec.height || set.width !== spec.width) {
      // Half-pixel centres: the alignCorners=false resampling of PIL/PyTorch, no half-pixel shift.
      x = tf.image.resizeBilinear(x, [spec.height, spec.width], false, true);
    }
    if (set.channels === 1 && spec.channels === 3) x = tf.tile(x, [1, 1, 1, 3]);
    return x.sub(tf.tensor1d(spec.mean)).div(tf.tensor1d(spec.std));
  });
}

/** The selected images' bytes, copied as whole images (or one contiguous range). */
function gatherBytes(set: ImageSet, indices: BatchIndices): { bytes: Uint8Array; count: number } {
  const size = set.height * set.width * set.channels;
  if (!Array.isArray(indices) && !(indices instanceof Int32Array)) {
    const { start, end } = indices;
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > set.count || start >= end) {
      throw new RangeError(`batch range ${start}..${end} is not within 0..${set.count} of ${set.dataset}/${set.split}`);
    }
    return { bytes: set.pixels.subarray(start * size, end * size), count: end - start };
  }
  const count = indices.length;
  if (count === 0) throw new RangeError('an empty batch was requested');
  const bytes = new Uint8Array(count * size);
  for (let k = 0; k < count; k++) {
    const i = indices[k]!;
    if (!Number.isInteger(i) || i < 0 || i >= set.count) {
      throw new RangeError(`image index ${i} is not within 0..${set.count - 1} of ${set.dataset}/${set.split}`);
    }
    bytes.set(set.pixels.subarray(i * size, (i + 1) * size), k * size);
  }
  return { bytes, count };
}
