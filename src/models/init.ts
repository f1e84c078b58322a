import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../util/rng.js';

/**
 * PyTorch's default initialisation (kaiming-uniform with a = √5 for weights, and
 * U(−1/√fan_in, 1/√fan_in) for biases): the paper's models were trained from it, and SGD with
 * lr 0.1 is tuned for it. Every initialiser takes its own seed from the run's random source.
 */
export function weightInit(rng: Rng): ReturnType<typeof tf.initializers.zeros> {
  return tf.initializers.varianceScaling({ scale: 1 / 3, mode: 'fanIn', distribution: 'uniform', seed: rng.seed() });
}

export function biasInit(rng: Rng, fanIn: number): ReturnType<typeof tf.initializers.zeros> {
  const bound = 1 / Math.sqrt(fanIn);
  return tf.initializers.randomUniform({ minval: -bound, maxval: bound, seed: rng.seed() });
}
