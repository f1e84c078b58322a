/** Euclidean projections of each row of a batch onto an L1 or L2 ball around 0. */
import * as tf from '@tensorflow/tfjs';
import type { Norm } from './norm.js';

/**
 * Projection onto {w : ‖w‖₁ ≤ ε} (Duchi et al. 2008, Fig. 1), vectorised over rows: with u the
 * sorted |v| (descending) and c its cumulative sum, ρ = max{j : u_j − (c_j − ε)/j > 0},
 * θ = (c_ρ − ε)/ρ, w = sign(v)·max(|v| − θ, 0). Rows already inside the ball are returned as
 * they are; ε = 0 gives the zero vector.
 */
export function projectL1Ball(v: tf.Tensor2D, eps: number): tf.Tensor2D {
  return tf.tidy(() => {
    const K = v.shape[1];
    const a = tf.abs(v);
    const norm = tf.sum(a, 1, true);
    const u = tf.topk(a, K).values;
    const c = tf.cumsum(u, 1);
    const j = tf.range(1, K + 1, 1, 'float32').reshape([1, K]);
    const positive = tf.cast(tf.greater(tf.sub(u, tf.div(tf.sub(c, eps), j)), 0), 'float32');
    const rho = tf.sum(positive, 1, true); // ≥ 1 whenever ‖v‖₁ > ε > 0
    const at = tf.cast(tf.maximum(tf.sub(rho, 1), 0), 'int32').reshape([-1]);
    const cRho = tf.sum(tf.mul(c, tf.oneHot(at, K)), 1, true);
    const theta = tf.div(tf.sub(cRho, eps), tf.maximum(rho, 1));
    const shrink = tf.where(tf.greater(norm, eps), theta, tf.zerosLike(theta));
    return tf.mul(tf.sign(v), tf.relu(tf.sub(a, shrink)));
  });
}

/** Projection onto {w : ‖w‖₂ ≤ ε}: rows outside are scaled onto the sphere. */
export function projectL2Ball(v: tf.Tensor2D, eps: number): tf.Tensor2D {
  return tf.tidy(() => {
    const norm = tf.sqrt(tf.sum(tf.square(v), 1, true));
    const scale = tf.minimum(1, tf.divNoNan(tf.scalar(eps), norm));
    return tf.mul(v, tf.where(tf.greater(norm, eps), scale, tf.onesLike(scale)));
  });
}

export function projectBall(v: tf.Tensor2D, eps: number, norm: Norm): tf.Tensor2D {
  return norm === 'l1' ? projectL1Ball(v, eps) : projectL2Ball(v, eps);
}
