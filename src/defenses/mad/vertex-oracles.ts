/**
 * The two vertex sets MAD searches y* in (MadOracle, mad-defense.ts):
 * - oneHotOracle: the K one-hot vertices e_k (MAD; the top-1 class may flip with a large ε);
 * - subsetOracle: the uniform distributions over subsets S that contain k₀ = argmax y, with 1e-5
 *   added to entry k₀ before normalising (as the reference does):
 *     v_S = (1_S + 1e-5·e_k₀) / (|S| + 1e-5),
 *   so v_S has its strict maximum at k₀ and argmax ỹ = argmax y for every α (MAD-argmax).
 *   Search: all 2^(K−1) subsets for K ≤ 10, scored for the whole batch at once (enumerated in the
 *   reference's order, so ties resolve the same way); for larger K a greedy search grows S one
 *   class at a time by best H and keeps the best vertex seen, within 1024 evaluations per query.
 */
import * as tf from '@tensorflow/tfjs';
import type { MadOracle } from './mad-defense.js';
import type { VertexScorer, VertexSet } from './mad-objective.js';
import { bestVertex } from './mad-step.js';

export function oneHotOracle(K: number): MadOracle {
  const vertices = tf.tidy(() => tf.reshape(tf.eye(K), [1, K, K]) as tf.Tensor3D);
  const squaredNorms = tf.ones([1, K]) as tf.Tensor2D;
  return {
    search: (scorer) => bestVertex(vertices, scorer({ vertices, squaredNorms })),
    random: (y, rng) => {
      const classes = Int32Array.from({ length: y.shape[0] }, () => rng.int(K));
      return tf.cast(tf.oneHot(tf.tensor1d(classes, 'int32'), K), 'float32') as tf.Tensor2D;
    },
    dispose: () => tf.dispose([vertices, squaredNorms]),
  };
}
const EXHAUSTIVE_MAX_CLASSES = 10;
const GREEDY_MAX_EVALUATIONS = 1024;
const ARGMAX_TIE_BREAK = 1e-5;

/**
 * [K, 2^(K−1), K]: for each k₀, the vertices v_S of every subset S ∋ k₀, in the order of
 * itertools.product([0, 1], repeat=K) (class 0 is the most significant bit).
 */
export function subsetVertexTable(K: number): Float32Array {
  const count = 2 ** (K - 1);
  const table = new Float32Array(K * count * K);
  for (let k0 = 0; k0 < K; k0++) {
    let c = 0;
    for (let r = 0; r < 2 ** K; r++) {
      if (((r >> (K - 1 - k0)) & 1) === 0) continue;
      let size = 0;
      for (let j = 0; j < K; j++) size += (r >> (K - 1 - j)) & 1;
      const base = (k0 * count + c) * K;
      for (let j = 0; j < K; j++) {
        const member = (r >> (K - 1 - j)) & 1;
        table[base + j] = (member + (j === k0 ? ARGMAX_TIE_BREAK : 0)) / (size + ARGMAX_TIE_BREAK);
      }
      c++;
    }
  }
  return table;
}

/** ‖v_S‖² for each entry of subsetVertexTable: [K, 2^(K−1)]. */
function squaredNormTable(table: Float32Array, K: number): Float32Array {
  const norms = new Float32Array(table.length / K);
  for (let i = 0; i < norms.length; i++) {
    let s = 0;
    for (let j = 0; j < K; j++) s += table[i * K + j]! ** 2;
    norms[i] = s;
  }
  return norms;
}

/** v_S for 0/1 membership rows [B, C, K] (each containing k₀), given e_k₀ [B, K]. */
function subsetVertices(members: tf.Tensor3D, topOneHot: tf.Tensor2D): VertexSet {
  const [B, , K] = members.shape;
  const raised = tf.add(members, tf.mul(ARGMAX_TIE_BREAK, tf.reshape(topOneHot, [B, 1, K])));
  const vertices = tf.div<tf.Tensor3D>(raised, tf.sum(raised, 2, true));
  return { vertices, squaredNorms: tf.sum<tf.Tensor2D>(tf.square(vertices), 2) };
}

function greedySearch(scorer: VertexScorer, y: tf.Tensor2D, K: number): tf.Tensor2D {
  const B = y.shape[0];
  const top = tf.cast(tf.oneHot(tf.argMax(y, 1), K), 'float32') as tf.Tensor2D;
  const eye = tf.reshape(tf.eye(K), [1, K, K]);
  let members = top; // S = {k₀}
  const first = subsetVertices(tf.reshape(top, [B, 1, K]) as tf.Tensor3D, top);
  let best = first.vertices;
  let bestScore = scorer(first);
  let evaluations = 1;
  for (let size = 1; size < K && evaluations + (K - size) <= GREEDY_MAX_EVALUATIONS; size++) {
    const next = tf.tidy(() => {
      // Candidate c = S ∪ {c}; classes already in S are not candidates.
      const grown = tf.minimum<tf.Tensor3D>(tf.add(tf.reshape(members, [B, 1, K]), eye), 1);
      const candidates = subsetVertices(grown, top);
      const scores = tf.where<tf.Tensor2D>(tf.greater(members, 0), tf.fill([B, K], -Infinity), scorer(candidates));
      const stepBest = tf.max(scores, 1, true);
      const chosen = tf.reshape(bestVertex(candidates.vertices, scores), [B, 1, K]);
      const better = tf.greater(stepBest, bestScore);
      return {
        members: tf.add<tf.Tensor2D>(members, tf.cast(tf.oneHot(tf.argMax(scores, 1), K), 'float32')),
        best: tf.where(tf.reshape(better, [B, 1, 1]), chosen, best) as tf.Tensor3D,
        bestScore: tf.where(better, stepBest, bestScore) as tf.Tensor2D,
      };
    });
    if (members !== top) members.dispose();
    best.dispose();
    bestScore.dispose();
    ({ members, best, bestScore } = next);
    evaluations += K - size;
  }
  return tf.reshape(best, [B, K]);
}

export function subsetOracle(K: number): MadOracle {
  const C = 2 ** (K - 1);
  let tables: { vertices: tf.Tensor2D; norms: tf.Tensor2D } | null = null;
  if (K <= EXHAUSTIVE_MAX_CLASSES) {
    const table = subsetVertexTable(K);
    tables = { vertices: tf.tensor2d(table, [K, C * K]), norms: tf.tensor2d(squaredNormTable(table, K), [K, C]) };
  }
  return {
    search: (scorer, y) => {
      if (!tables) return greedySearch(scorer, y, K);
      const B = y.shape[0];
      // Row k₀ of the tables through a one-hot matMul: an exact copy, and far faster than tf.gather on wasm.
      const top = tf.cast(tf.oneHot(tf.argMax(y, 1), K), 'float32') as tf.Tensor2D;
      const vertices = tf.reshape(tf.matMul(top, tables.vertices), [B, C, K]) as tf.Tensor3D;
      return bestVertex(vertices, scorer({ vertices, squaredNorms: tf.matMul(top, tables.norms) }));
    },
    random: (y, rng) => {
      // Uniform over the 2^(K−1) subsets containing k₀: every other class joins with probability ½.
      const B = y.shape[0];
      const coins = Float32Array.from({ length: B * K }, () => (rng.next() < 0.5 ? 1 : 0));
      const top = tf.cast(tf.oneHot(tf.argMax(y, 1), K), 'float32') as tf.Tensor2D;
      const members = tf.maximum(tf.tensor2d(coins, [B, K]), top);
      return tf.reshape(subsetVertices(tf.reshape(members, [B, 1, K]) as tf.Tensor3D, top).vertices, [B, K]);
    },
    dispose: () => tf.dispose(tables ? [tables.vertices, tables.norms] : []),
  };
}
