/**
 * Random noise in logit space (docs/spec.md): z = logit(y) (clipped as for reverse sigmoid),
 * δ drawn per entry and projected onto the ε_z ball of the chosen norm (Duchi projection for
 * L1), ỹ = σ(z + δ) renormalised to sum to 1.
 * The reference draws only non-negative uniform noise; `poison` draws symmetric noise:
 * uniform: δ_k ~ U(−ε_z, ε_z); gaussian: δ_k ~ N(0, ε_z²); then the projection.
 * Draws come from the run's seed and the consumer's stream (defenseRng(ctx, 'random-noise')), one
 * block per apply() call, so the same seed, consumer and batch order give the same outputs. ε_z = 0 releases y unchanged, bit for bit.
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../util/rng.js';
import { defineDefense } from './base.js';
import { clippedLogit } from './logit.js';
import { projectBall } from './projection.js';
import { defenseRng } from './stream.js';
import type { RandomNoiseSpec } from './spec.js';
import type { Defense, DefenseContext } from './types.js';

/**
 * Raw noise for `rows` posteriors, row-major, before the projection: uniform draws
 * (2u − 1)·ε_z or gaussian draws n·ε_z, in the order the seeded stream produces them.
 */
export function drawLogitNoise(rng: Rng, rows: number, K: number, spec: RandomNoiseSpec): Float32Array {
  const out = new Float32Array(rows * K);
  for (let i = 0; i < out.length; i++) {
    out[i] = spec.dist === 'uniform' ? (2 * rng.next() - 1) * spec.epsZ : rng.normal() * spec.epsZ;
  }
  return out;
}

/** ỹ = σ(logit(y) + δ), renormalised to sum to 1, for a given δ [B, K] (already inside its ball). */
export function withLogitNoise(y: tf.Tensor2D, delta: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const noisy = tf.sigmoid(tf.add(clippedLogit(y), delta));
    return tf.div(noisy, tf.sum(noisy, 1, true));
  });
}

export function createRandomNoise(spec: RandomNoiseSpec, ctx: DefenseContext): Defense {
  const K = ctx.numClasses;
  const rng = defenseRng(ctx, 'random-noise');
  return defineDefense({
    spec,
    numClasses: K,
    transform: (y) => {
      if (spec.epsZ === 0) return tf.clone(y);
      const rows = y.shape[0];
      const delta = projectBall(tf.tensor2d(drawLogitNoise(rng, rows, K, spec), [rows, K]), spec.epsZ, spec.norm);
      return withLogitNoise(y, delta);
    },
  });
}
