/**
 * Pixel space vs model space. The Jacobian attacks clip to [0, 1] in PIXEL space, so they keep
 * their images as pixels and normalise only when feeding a model or the black box.
 */
import * as tf from '@tensorflow/tfjs';
import type { InputSpec } from '../data/types.js';

/** The same input shape with the identity normalisation: toModelInput then yields pixels/255. */
export function pixelSpec(input: InputSpec): InputSpec {
  return {
    height: input.height,
    width: input.width,
    channels: input.channels,
    mean: new Array<number>(input.channels).fill(0),
    std: new Array<number>(input.channels).fill(1),
  };
}

export function imageSize(input: InputSpec): number {
  return input.height * input.width * input.channels;
}

/** (x − mean) / std per channel, channels last; differentiable (the attacks take ∇ through it). */
export function normalise(pixels: tf.Tensor4D, input: InputSpec): tf.Tensor4D {
  return tf.tidy(() => {
    const mean = tf.tensor1d(input.mean);
    const std = tf.tensor1d(input.std);
    return tf.div(tf.sub(pixels, mean), std);
  });
}

/** A growable row store of float32 vectors (images or posteriors), appended in order. */
export class RowStore {
  private data: Float32Array;
  private rows = 0;

  constructor(readonly rowLength: number, initialRows = 64) {
    this.data = new Float32Array(rowLength * Math.max(1, initialRows));
  }

  get count(): number {
    return this.rows;
  }

  append(values: Float32Array): void {
    if (values.length % this.rowLength !== 0) {
      throw new Error(`RowStore: ${values.length} values are not whole rows of ${this.rowLength}`);
    }
    const needed = (this.rows * this.rowLength) + values.length;
    if (needed > this.data.length) {
      const grown = new Float32Array(Math.max(needed, this.data.length * 2));
      grown.set(this.data.subarray(0, this.rows * this.rowLength));
      this.data = grown;
    }
    this.data.set(values, this.rows * this.rowLength);
    this.rows += values.length / this.rowLength;
  }

  row(i: number): Float32Array {
    return this.data.subarray(i * this.rowLength, (i + 1) * this.rowLength);
  }

  /** The rows at `indices`, packed in that order (a fresh array). */
  gather(indices: ArrayLike<number>): Float32Array {
    const out = new Float32Array(indices.length * this.rowLength);
    for (let j = 0; j < indices.length; j++) out.set(this.row(indices[j]!), j * this.rowLength);
    return out;
  }

  /** The first `count` rows as one exact-length array (a copy). */
  toArray(count = this.rows): Float32Array {
    return this.data.slice(0, count * this.rowLength);
  }
}
