/** The clipped logit shared by reverse sigmoid and random noise, and random noise's release through it. */
import * as tf from '@tensorflow/tfjs';

/** docs/spec.md's clip bound: y is clipped to [1e-9, 1 − 1e-9] before the logit. */
const LOGIT_CLIP = 1e-9;

/**
 * logit(y) = log(y / (1 − y)) with y clipped to [1e-9, 1 − 1e-9]. In float32, 1 − 1e-9 rounds
 * to 1, so the upper clip is applied as 1 − y ≥ 1e-9 instead: the same bound, and a one-hot
 * entry gives logit ≈ 20.7 instead of +Infinity.
 */
export function clippedLogit(y: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const low = tf.maximum(y, LOGIT_CLIP);
    const high = tf.maximum(tf.sub(1, y), LOGIT_CLIP);
    return tf.sub(tf.log(low), tf.log(high));
  });
}

/** ỹ = σ(logit(y) + δ), renormalised to sum to 1, for a given δ [B, K] (already inside its ball): random noise's release. */
export function withLogitNoise(y: tf.Tensor2D, delta: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const noisy = tf.sigmoid(tf.add(clippedLogit(y), delta));
    return tf.div(noisy, tf.sum(noisy, 1, true));
  });
}
