/** Argmax: release only the top-1 class, as a one-hot vector (top-1 as one-hot; ties go to the lowest index). */
import * as tf from '@tensorflow/tfjs';
import { defineDefense } from './base.js';
import type { ArgmaxSpec } from './spec.js';
import type { Defense, DefenseContext } from './types.js';

export function createArgmax(spec: ArgmaxSpec, ctx: DefenseContext): Defense {
  const K = ctx.numClasses;
  return defineDefense({
    spec,
    numClasses: K,
    transform: (y) => tf.cast(tf.oneHot(tf.argMax(y, 1), K), 'float32') as tf.Tensor2D,
  });
}
