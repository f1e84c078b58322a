/**
 * MAD (Orekondy et al. 2020), docs/spec.md's closed-form solver: score the K one-hot vertices e_k by the
 * angular deviation H (mad-objective.ts), take the best as y*, then ỹ = (1 − α)y + αy* with
 * α = min(1, ε/‖y − y*‖_p). With a large ε the top-1 class may flip (expected, docs/spec.md).
 */
import * as tf from '@tensorflow/tfjs';
import { createMadDefense, type MadOracle } from './mad-defense.js';
import { bestVertex } from './mad-step.js';
import type { MadSpec } from '../spec.js';
import type { Defense, DefenseContext } from '../types.js';

export function createMad(spec: MadSpec, ctx: DefenseContext): Promise<Defense> {
  const K = ctx.numClasses;
  const vertices = tf.tidy(() => tf.reshape(tf.eye(K), [1, K, K]) as tf.Tensor3D);
  const squaredNorms = tf.ones([1, K]) as tf.Tensor2D;
  const oracle: MadOracle = {
    search: (scorer) => bestVertex(vertices, scorer({ vertices, squaredNorms })),
    random: (y, rng) => {
      const classes = Int32Array.from({ length: y.shape[0] }, () => rng.int(K));
      return tf.cast(tf.oneHot(tf.tensor1d(classes, 'int32'), K), 'float32') as tf.Tensor2D;
    },
    dispose: () => tf.dispose([vertices, squaredNorms]),
  };
  return createMadDefense(spec, ctx, oracle);
}
