/** MAD's last two steps: pick y* among scored vertices, then move towards it within the budget. */
import * as tf from '@tensorflow/tfjs';
import type { Norm } from '../spec.js';

/** The best-scoring candidate per row (ties: the first): V [B or 1, C, K], scores [B, C] → [B, K]. */
export function bestVertex(V: tf.Tensor3D, scores: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const [B, C] = scores.shape;
    const K = V.shape[2];
    const best = tf.argMax(scores, 1);
    if (V.shape[0] === 1) return tf.gather(tf.reshape(V, [C, K]), best);
    // Row b·C + best_b of the flattened candidates: B small row copies.
    const flat = tf.add(best, tf.range(0, B * C, C, 'int32'));
    return tf.gather(tf.reshape(V, [B * C, K]), flat);
  });
}

function rowNorm(d: tf.Tensor2D, norm: Norm): tf.Tensor2D {
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
    return tf.add(tf.mul(tf.sub(1, alpha), y), tf.mul(alpha, target));
  });
}
