/**
 * A defense's side information read back to JS, one row per input (MAD closed form: p, K values;
 * MAD autodiff: a K×K Gram matrix), so it can be cached and fed back to Defense.apply later.
 */
import * as tf from '@tensorflow/tfjs';

export interface SideRows {
  /** Shape of one row, e.g. [K] or [K, K]. */
  rowShape: number[];
  /** count × prod(rowShape) values. */
  data: Float32Array;
}

export function rowLength(rowShape: number[]): number {
  return rowShape.reduce((a, b) => a * b, 1);
}

/** Rows [start, end) as a tensor [end − start, ...rowShape]. Caller disposes. */
export function sideTensor(side: SideRows, start: number, end: number): tf.Tensor {
  const w = rowLength(side.rowShape);
  return tf.tensor(side.data.slice(start * w, end * w), [end - start, ...side.rowShape]);
}
