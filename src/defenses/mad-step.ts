/** MAD's last two steps: pick y* among scored vertices, then move towards it within the budget. */
import * as tf from '@tensorflow/tfjs';
import type { Norm } from './spec.js';

/** The best-scoring candidate per row (ties: the first): V [B or 1, C, K], scores [B, C] → [B, K]. */
export function bestVertex(V: tf.Tensor3D, scores: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const [B, C] = scores.shape;
    const K = V.shape[2];
    // A one-hot selection through matMul copies the chosen row exactly (1·v + 0·others).
    const pick = tf.cast(tf.oneHot(tf.argMax(scores, 1), C), 'float32') as tf.Tensor2D;
    if (V.shape[0] === 1) return tf.matMul(pick, tf.reshape(V, [C, K]));
    return tf.reshape(tf.matMul(tf.reshape(pick, [B, 1, C]), V), [B, K]);
  });
}

export function rowNorm(d: tf.Tensor2D, norm: Norm): tf.Tensor2D {
  return (norm === 'l1' ? tf.sum(tf.abs(d), 1, true) : tf.sqrt(tf.sum(tf.square(d), 1, true))) as tf.Tensor2D;
}

/**
 * ỹ = (1 − α)·y + α·y* with α = min(1, ε/‖y − y*‖_p): the whole budget ε is used unless y* is
 * closer than ε, then ỹ = y*. y = y* gives α = 1 and ỹ = y (no division by zero).
 */
export function stepTowards(y: tf.Tensor2D, target: tf.Tensor2D, eps: number, norm: Norm): tf.Tensor2D {
  return tf.tidy(() => {
    const distance = rowNorm(tf.sub(y, target), norm);
    const alpha = tf.minimum(1, tf.div(eps, tf.maximum(distance, 1e-12)));
    return tf.add(tf.mul(tf.sub(1, alpha), y), tf.mul(alpha, target)) as tf.Tensor2D;
  });
}
