/** No defense: ỹ = y, bit for bit. The undefended reference of every sweep and `--defense`'s default. */
import type { DefenseDefinition } from './definition.js';

export const none: DefenseDefinition = {
  name: 'none',
  summary: 'ỹ = y (the undefended reference)',
  params: [],
  operatingAxis: null,
  drawsRandomness: () => false,
  sideInfoIdentity: () => null,
  async create(spec, ctx) {
    const tf = await import('@tensorflow/tfjs');
    const { defineDefense } = await import('./base.js');
    return defineDefense({ spec, numClasses: ctx.numClasses, transform: (y) => tf.clone(y) });
  },
};
