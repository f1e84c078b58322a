/**
 * Reverse sigmoid (Lee et al. 2019), docs/spec.md formula exactly:
 *   r(y) = β·(σ(γ·logit(y)) − ½),  logit(y) = log(y/(1−y)) with y clipped to [1e-9, 1 − 1e-9],
 *   ỹ = (y − r(y)) / Σ_j (y − r(y))_j.
 * β is limited to [0, 1]: that is exactly where y − r(y) > 0 for every y and γ, so ỹ is a
 * probability vector (see params.ts). β = 0 releases y unchanged, bit for bit.
 *
 * Top-1 is NOT always kept: f(y) = y − r(y) has f'(y) = 1 − βγ·σ'(γt)/σ'(t) (t = logit y).
 * For γ ≥ 1 the ratio is ≤ 1, so βγ < 1 makes f strictly increasing and the ranking (hence
 * argmax) survives; for γ < 1 (the paper's γ = 0.1–0.4) the ratio grows without bound towards
 * y → 0, tiny entries are pushed up by up to β/2, and a flat enough posterior can flip
 * (tested in test/defenses-properties.test.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { defineDefense } from './base.js';
import { clippedLogit } from './logit.js';
import type { ReverseSigmoidSpec } from './spec.js';
import type { Defense, DefenseContext } from './types.js';

export function createReverseSigmoid(spec: ReverseSigmoidSpec, ctx: DefenseContext): Defense {
  const { beta, gamma } = spec;
  return defineDefense({
    spec,
    numClasses: ctx.numClasses,
    transform: (y) => {
      if (beta === 0) return tf.clone(y);
      const r = tf.mul(beta, tf.sub(tf.sigmoid(tf.mul(gamma, clippedLogit(y))), 0.5));
      const f = tf.sub(y, r);
      return tf.div(f, tf.sum(f, 1, true));
    },
  });
}
