/**
 * The transfer set: every query the attacker sent, in order, with the answer ỹ it got. Its
 * first B rows are exactly what an attack with budget B would have collected (all randomness is
 * drawn independently of the budget), so one set serves several budgets.
 */
import * as tf from '@tensorflow/tfjs';
import { toModelInput } from '../data/convert.js';
import type { ImageSet, InputSpec } from '../data/types.js';
import type { BatchSource } from '../train/loop.js';
import type { AttackName, LabelMode } from './names.js';
import { normalise } from './pixels.js';

type TransferImages =
  /** Query-pool images by index (pool attacks): nothing is copied. */
  | { kind: 'pool'; pool: ImageSet; indices: Int32Array }
  /** Synthesised images in pixel space [0, 1], count × H·W·C, channels last. */
  | { kind: 'pixels'; pixels: Float32Array };

export interface TransferSet {
  attack: AttackName;
  count: number;
  numClasses: number;
  /** The victim's input: shape of the images, and how to normalise them for a model. */
  input: InputSpec;
  images: TransferImages;
  /** ỹ exactly as released by the black box, count × numClasses. */
  released: Float32Array;
  /** Set by an attack that picks pool classes by a policy: what it picked and how the policy moved. */
  policy?: PolicyTrace;
}

/**
 * An adaptive pool attack's choices (result.json's queryPolicy and policy.svg): the pool class
 * of every query and the policy π over classes as it evolved.
 */
export interface PolicyTrace {
  /** The pool label each action stands for, in action order. */
  labels: number[];
  /** The action of every query, in query order: any budget's counts are those of a prefix. */
  actions: Int32Array;
  /** π over the actions after `queries` queries: at the start, after each refit of the attacker, and at the end. */
  snapshots: { queries: number; policy: number[] }[];
}

/** Soft targets for training: ỹ itself, or its top-1 as one-hot (ties: the lowest class). */
function trainingTargets(released: Float32Array, numClasses: number, labelMode: LabelMode): Float32Array {
  if (labelMode === 'probs') return released;
  const out = new Float32Array(released.length);
  const rows = released.length / numClasses;
  for (let i = 0; i < rows; i++) out[i * numClasses + argmaxRow(released, i, numClasses)] = 1;
  return out;
}

export function argmaxRow(values: Float32Array, row: number, numClasses: number): number {
  let best = 0;
  let bestValue = -Infinity;
  for (let k = 0; k < numClasses; k++) {
    const v = values[row * numClasses + k]!;
    if (v > bestValue) {
      bestValue = v;
      best = k;
    }
  }
  return best;
}

/** Normalised model inputs of transfer-set rows `indices` (in that order). Caller disposes. */
function transferInputs(set: TransferSet, indices: Int32Array): tf.Tensor4D {
  const images = set.images;
  if (images.kind === 'pool') {
    const poolIndices = new Int32Array(indices.length);
    for (let j = 0; j < indices.length; j++) poolIndices[j] = images.indices[indices[j]!]!;
    return toModelInput(images.pool, poolIndices, set.input);
  }
  const size = set.input.height * set.input.width * set.input.channels;
  const buf = new Float32Array(indices.length * size);
  for (let j = 0; j < indices.length; j++) {
    const i = indices[j]!;
    buf.set(images.pixels.subarray(i * size, (i + 1) * size), j * size);
  }
  return tf.tidy(() =>
    normalise(tf.tensor4d(buf, [indices.length, set.input.height, set.input.width, set.input.channels]), set.input),
  );
}

/** Training batches over the first `count` rows, with targets per the label mode. */
export function transferBatchSource(set: TransferSet, count: number, labelMode: LabelMode): BatchSource {
  if (count > set.count) throw new Error(`transfer set has ${set.count} rows, ${count} asked`);
  const targets = trainingTargets(set.released.subarray(0, count * set.numClasses), set.numClasses, labelMode);
  const K = set.numClasses;
  return {
    count,
    batch(indices) {
      const y = new Float32Array(indices.length * K);
      for (let j = 0; j < indices.length; j++) {
        const i = indices[j]!;
        y.set(targets.subarray(i * K, (i + 1) * K), j * K);
      }
      return { x: transferInputs(set, indices), y: tf.tensor2d(y, [indices.length, K]) };
    },
  };
}
