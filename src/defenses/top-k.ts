/**
 * Top-k: keep the k largest entries, zero the rest, and renormalise the kept ones to sum to 1.
 * The reference code does not renormalise; `poison` does so every released row stays a
 * probability vector (docs/spec.md). The top-1 class is always kept, so argmax ỹ = argmax y.
 */
import * as tf from '@tensorflow/tfjs';
import { checkDefenseForClasses } from './params.js';
import { defineDefense } from './base.js';
import type { TopKSpec } from './spec.js';
import type { Defense, DefenseContext } from './types.js';

export function createTopK(spec: TopKSpec, ctx: DefenseContext): Defense {
  checkDefenseForClasses(spec, ctx.numClasses);
  const K = ctx.numClasses;
  return defineDefense({
    spec,
    numClasses: K,
    transform: (y) => {
      const { indices } = tf.topk(y, spec.k);
      // [B, k] class indices → [B, K] 0/1 mask of the kept classes.
      const mask = tf.cast(tf.sum(tf.oneHot(indices, K), 1), 'float32');
      const kept = tf.mul(y, mask);
      return tf.divNoNan(kept, tf.sum(kept, 1, true));
    },
  });
}
