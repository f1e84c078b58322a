/**
 * Rounding: each entry rounded to `decimals` decimals (half to even, as numpy and torch round),
 * then the row renormalised to sum to 1. The reference code does not renormalise; `poison` does,
 * because every released row must be a probability vector (docs/spec.md) and rounded entries rarely sum
 * to exactly 1. When every entry of a row rounds to 0 (few decimals, many classes) nothing of the
 * row survives rounding, and the one-hot vector of its top-1 class is released instead.
 */
import type { Tensor2D } from '@tensorflow/tfjs';
import type { DefenseDefinition, DefenseSpec } from './definition.js';

interface RoundingSpec extends DefenseSpec {
  readonly decimals: number;
}

export const rounding: DefenseDefinition = {
  name: 'rounding',
  summary: 'rounds, then renormalises (the reference does not); a row that rounds to 0 releases its top-1 one-hot',
  params: [
    {
      key: 'decimals', field: 'decimals', flag: '--decimals <n>', kind: 'number', range: { integer: true, min: 0, max: 20 },
      help: 'decimals kept, a whole number in 0..20, then renormalised to sum to 1',
    },
  ],
  operatingAxis: 'decimals',
  drawsRandomness: () => false,
  sideInfoIdentity: () => null,
  // `rounding-d2`, as result directories have always been named.
  slug: (spec: RoundingSpec) => `${spec.name}-d${spec.decimals}`,
  async create(spec: RoundingSpec, ctx) {
    const tf = await import('@tensorflow/tfjs');
    const { defineDefense } = await import('./base.js');
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
        return tf.where(tf.greater(total, 0), renormalised, fallback) as Tensor2D;
      },
    });
  },
};
