/**
 * Top-k: keep the k largest entries, zero the rest, and renormalise the kept ones to sum to 1.
 * The reference code does not renormalise; `poison` does so every released row stays a
 * probability vector (docs/spec.md). The top-1 class is always kept, so argmax ỹ = argmax y.
 */
import { UsageError } from '../errors.js';
import type { DefenseDefinition, DefenseSpec } from './definition.js';

interface TopKSpec extends DefenseSpec {
  readonly k: number;
}

export const topK: DefenseDefinition = {
  name: 'top-k',
  summary: 'keeps the k largest entries and renormalises them (the reference does not)',
  params: [
    { key: 'k', field: 'k', flag: '--k <n>', kind: 'number', range: { integer: true, min: 1 }, help: 'entries kept, a whole number in 1..K, then renormalised to sum to 1' },
  ],
  operatingAxis: 'k',
  check(spec: TopKSpec, ctx) {
    if (ctx.numClasses !== undefined && spec.k > ctx.numClasses) {
      throw new UsageError(`--k must be a whole number in 1..${ctx.numClasses} (the victim's class count), got ${spec.k}`);
    }
  },
  drawsRandomness: () => false,
  sideInfoIdentity: () => null,
  async create(spec: TopKSpec, ctx) {
    const tf = await import('@tensorflow/tfjs');
    const { defineDefense } = await import('./base.js');
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
  },
};
