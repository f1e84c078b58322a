/**
 * MAD's objective: the angular deviation of the attacker's gradient,
 *   H(ỹ) = ‖ Gᵀỹ/‖Gᵀỹ‖ − Gᵀy/‖Gᵀy‖ ‖²,
 * evaluated for many candidate vertices ỹ = v at once: V [B or 1, C, K] → scores [B, C].
 * Three ways to know G:
 *   - closed form (docs/spec.md): with p the surrogate posterior and h the last dense layer's input,
 *     Gᵀv = ±vec((p − v)hᵀ) for Σv = 1, so H(v) = ‖(p − v)/‖p − v‖ − (p − y)/‖p − y‖‖²;
 *   - Gram matrices M = GGᵀ from autodiff: ⟨Gᵀa, Gᵀb⟩ = aᵀMb, so
 *     H(v) = 2 − 2·vᵀMy/(√(vᵀMv)·√(yᵀMy)), the same number without forming Gᵀv in D dimensions
 *     (D is K·500 for LeNet's last layer and ~0.4 M for all its parameters; MAD-argmax scores
 *     512 vertices per query);
 *   - G = I (ablation): H(v) = ‖v/‖v‖ − y/‖y‖‖², the angular deviation of ỹ from y itself.
 *
 * Degenerate cases never produce NaN: a zero vector normalises to zero (so a vertex with
 * Gᵀv = 0, i.e. v = p, scores ‖Gᵀy/‖Gᵀy‖‖² = 1). When Gᵀy = 0 (p = y: e.g. the victim used as
 * its own surrogate, whose expected gradient vanishes) every vertex deviates by the same
 * undefined angle; such rows take the vertex farthest from y (in L2) instead, which makes the
 * most of the budget.
 */
import * as tf from '@tensorflow/tfjs';

/** Candidate vertices: [B or 1, C, K] (1 = the same C candidates for every row) and their ‖v‖². */
export interface VertexSet {
  vertices: tf.Tensor3D;
  /** ‖v‖² [B or 1, C], known in closed form for the oracles' vertices. */
  squaredNorms: tf.Tensor2D;
}

/** Higher is better; [B, C]. */
export type VertexScorer = (candidates: VertexSet) => tf.Tensor2D;

/** Below this a norm counts as zero. */
const ZERO_NORM = 1e-12;
/** ‖p − y‖ (or ‖Gᵀy‖ relative to the largest ‖Gᵀe_k‖) below this: the gradient direction is noise. */
const DEGENERATE = 1e-6;

function batched(V: tf.Tensor3D, B: number): tf.Tensor3D {
  return V.shape[0] === B ? V : tf.tile(V, [B, 1, 1]);
}

/** ⟨v_c, w_b⟩ [B, C] for every candidate and row. */
function dotEach(V: tf.Tensor3D, w: tf.Tensor2D): tf.Tensor2D {
  const [B, K] = w.shape;
  if (V.shape[0] === 1) return tf.matMul(w, tf.reshape(V, [V.shape[1], K]), false, true);
  return tf.reshape(tf.matMul(V, tf.reshape(w, [B, K, 1])), [B, V.shape[1]]);
}

/** ‖y − v‖² = ‖y‖² − 2⟨y, v⟩ + ‖v‖² for every candidate: [B, C]. */
function squaredDistance(y: tf.Tensor2D, c: VertexSet): tf.Tensor2D {
  return tf.add(tf.sub(c.squaredNorms, tf.mul(2, dotEach(c.vertices, y))), tf.sum(tf.square(y), 1, true));
}

/**
 * Scores H, except in degenerate rows (a 0/1 float [B, 1]) where the distance from y decides:
 * H + d·(distance − H), plain broadcasting arithmetic (tf.where would tile the mask first).
 */
function withFallback(H: tf.Tensor2D, degenerate: tf.Tensor, distance: tf.Tensor2D): tf.Tensor2D {
  return tf.add(H, tf.mul(degenerate, tf.sub(distance, H)));
}

/** ‖â − b̂‖² = ‖â‖² + ‖b̂‖² − 2⟨a, b̂⟩/‖a‖, with ‖â‖ ∈ {0, 1} (a zero vector normalises to zero). */
function angularDeviation(normA: tf.Tensor, dotAB: tf.Tensor, bNonZero: tf.Tensor): tf.Tensor2D {
  const aNonZero = tf.cast(tf.greater(normA, ZERO_NORM), 'float32');
  const cosine = tf.clipByValue(tf.div(dotAB, tf.maximum(normA, ZERO_NORM)), -1, 1);
  return tf.sub(tf.add(aNonZero, bNonZero), tf.mul(2, tf.mul(cosine, aNonZero)));
}

/**
 * docs/spec.md's closed form from the surrogate posterior p [B, K]: a = p − v is formed exactly for
 * every candidate (no ‖p‖² − 2⟨p, v⟩ + ‖v‖² expansion, which loses the direction of p − v
 * when p is close to a vertex, as a trained surrogate's posterior is).
 */
export function closedFormScorer(p: tf.Tensor2D, y: tf.Tensor2D): VertexScorer {
  const [B, K] = y.shape;
  const p3 = tf.reshape(p, [B, 1, K]);
  const diff = tf.sub(p, y);
  const normB = tf.sqrt(tf.sum(tf.square(diff), 1, true));
  const bHat = tf.div(diff, tf.maximum(normB, ZERO_NORM));
  const bNonZero = tf.cast(tf.greater(normB, ZERO_NORM), 'float32');
  const degenerate = tf.cast(tf.lessEqual(normB, DEGENERATE), 'float32');
  return (c) => {
    const a = tf.sub<tf.Tensor3D>(p3, c.vertices); // [B, C, K]
    const squaredNormA = tf.sum<tf.Tensor2D>(tf.square(a), 2);
    const dotAB = tf.reshape(tf.matMul(a, tf.reshape(bHat, [B, K, 1])), [B, a.shape[1]]);
    // Degenerate rows have p = y (to 1e-6), so ‖p − v‖² is their distance from y.
    return withFallback(angularDeviation(tf.sqrt(squaredNormA), dotAB, bNonZero), degenerate, squaredNormA);
  };
}

/** From autodiff Gram matrices M [B, K, K] of the surrogate's per-class gradients. */
export function gramScorer(M: tf.Tensor3D, y: tf.Tensor2D): VertexScorer {
  const [B, K] = y.shape;
  const My = tf.matMul(M, tf.reshape(y, [B, K, 1])); // [B, K, 1] = G Gᵀy
  const normY = tf.sqrt(tf.relu(tf.reshape(tf.matMul(tf.reshape(y, [B, 1, K]), My), [B, 1]))); // ‖Gᵀy‖ (clamped ≥ 0 against rounding)
  const largest = tf.sqrt(tf.relu(tf.max(tf.sum(tf.mul(M, tf.reshape(tf.eye(K), [1, K, K])), 2), 1, true))); // max_k ‖Gᵀe_k‖
  const degenerate = tf.cast(tf.lessEqual(normY, tf.mul(largest, DEGENERATE)), 'float32');
  const yNonZero = tf.cast(tf.greater(normY, ZERO_NORM), 'float32');
  return (c) => {
    const V = batched(c.vertices, B);
    const C = V.shape[1];
    const normV = tf.sqrt(tf.relu(tf.sum(tf.mul(tf.matMul(V, M), V), 2))); // ‖Gᵀv‖ [B, C]
    const vMy = tf.reshape(tf.matMul(V, My), [B, C]); // ⟨Gᵀv, Gᵀy⟩
    const dotAB = tf.div(vMy, tf.maximum(normY, ZERO_NORM)); // ⟨Gᵀv, Gᵀy/‖Gᵀy‖⟩
    return withFallback(angularDeviation(normV, dotAB, yNonZero), degenerate, squaredDistance(y, c));
  };
}

/** Ablation G = I: the angle between v and y themselves (both nonzero on the simplex). */
export function identityScorer(y: tf.Tensor2D): VertexScorer {
  const normY = tf.sqrt(tf.sum(tf.square(y), 1, true));
  return (c) => {
    const cosine = tf.div(dotEach(c.vertices, y), tf.mul(tf.sqrt(c.squaredNorms), normY));
    return tf.sub(2, tf.mul(2, tf.clipByValue(cosine, -1, 1)));
  };
}
