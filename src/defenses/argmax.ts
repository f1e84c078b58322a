/** Argmax: release only the top-1 class, as a one-hot vector (ties go to the lowest index). */
import type { Tensor2D } from '@tensorflow/tfjs';
import type { DefenseDefinition } from './definition.js';

export const argmax: DefenseDefinition = {
  name: 'argmax',
  summary: 'top-1 as a one-hot',
  params: [],
  operatingAxis: null,
  drawsRandomness: () => false,
  sideInfoIdentity: () => null,
  async create(spec, ctx) {
    const tf = await import('@tensorflow/tfjs');
    const { defineDefense } = await import('./base.js');
    const K = ctx.numClasses;
    return defineDefense({
      spec,
      numClasses: K,
      transform: (y) => tf.cast(tf.oneHot(tf.argMax(y, 1), K), 'float32') as Tensor2D,
    });
  },
};
