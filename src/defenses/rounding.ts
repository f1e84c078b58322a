/**
 * Rounding: each entry rounded to `decimals` decimals (half to even, as numpy and torch round),
 * then the row renormalised to sum to 1. The reference code does not renormalise; `poison` does,
 * because every released row must be a probability vector (docs/spec.md) and rounded entries rarely sum
 * to exactly 1. When every entry of a row rounds to 0 (few decimals, many classes) nothing of the
 * row survives rounding, and the one-hot vector of its top-1 class is released instead.
 */
import * as tf from '@tensorflow/tfjs';
import { defineDefense } from './base.js';
import type { RoundingSpec } from './spec.js';
import type { Defense, DefenseContext } from './types.js';

export function createRounding(spec: RoundingSpec, ctx: DefenseContext): Defense {
  const K = ctx.numClasses;
  const scale = 10 ** spec.decimals;
  return defineDefense({
    spec,
    numClasses: K,
    transform: (y) => {
      const rounded = tf.div(tf.round(tf.mul(y, scale)), scale);
      const total = tf.sum(rounded, 1, true);
      const renormalised = tf.divNoNan(rounded, total);
      const fallback = tf.cast(tf.oneHot(tf.argMax(y, 1), K), 'float32');
      return tf.where(tf.greater(total, 0), renormalised, fallback) as tf.Tensor2D;
    },
  });
}
