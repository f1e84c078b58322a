/** No defense: ỹ = y, bit for bit. */
import * as tf from '@tensorflow/tfjs';
import { defineDefense } from './base.js';
import type { NoneSpec } from './spec.js';
import type { Defense, DefenseContext } from './types.js';

export function createNone(spec: NoneSpec, ctx: DefenseContext): Defense {
  return defineDefense({ spec, numClasses: ctx.numClasses, transform: (y) => tf.clone(y) });
}
