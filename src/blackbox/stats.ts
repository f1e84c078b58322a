/**
 * Streaming statistics of what a black box released, in constant memory: each batch is reduced
 * on the backend to a dozen numbers (count, mean and sum of squared deviations of each distance,
 * counts of top-1 changes and invariant violations), read back once, and merged in float64 with
 * Chan et al.'s pairwise update, so past queries are never revisited and a long run of
 * float32 batch sums does not drift.
 *
 * Distances between the clean posterior y and the released ỹ, per query:
 *   L1 = ‖y − ỹ‖₁, L2 = ‖y − ỹ‖₂,
 *   KL(y ‖ ỹ) = Σ_k y_k (log max(y_k, 1e-12) − log max(ỹ_k, 1e-12)), with 0·log 0 = 0.
 * The 1e-12 floor keeps KL finite when a defense zeroes entries y still has (one that keeps only
 * the largest entries, the top-1 alone, or rounds): those rows get a large finite KL (≈ 27.6 per unit of lost mass) instead of Infinity.
 * Standard deviations are population ones (numpy's default, as the reference reports them).
 *
 * Invariants, counted per query (not merely warned about):
 *   simplex: some entry < −1e-5, |Σ_k ỹ_k − 1| > 1e-5, or a NaN/Infinity in the row;
 *   ε-ball (defenses that promise one, MAD): ‖ỹ − y‖_p > ε + 1e-5.
 */
import * as tf from '@tensorflow/tfjs';
import type { Norm } from '../defenses/spec.js';

const INVARIANT_TOLERANCE = 1e-5;
export const KL_FLOOR = 1e-12;

interface Summary {
  mean: number;
  std: number;
}

export interface QueryStatsReport {
  queries: number;
  l1: Summary;
  l2: Summary;
  kl: Summary;
  /** Queries whose released top-1 class differs from the clean one (argmax ties: lowest index). */
  top1Changed: number;
  top1ChangeRate: number;
  simplexViolations: number;
  /** null when the defense promises no ε-ball. */
  epsBallViolations: number | null;
}

interface Moments {
  n: number;
  mean: number;
  m2: number;
}

const METRICS = ['l1', 'l2', 'kl'] as const;
/** Layout of one batch's reduction vector. */
const SLOTS = 1 + 2 * METRICS.length + 3;

/**
 * [count, mean_l1, m2_l1, mean_l2, m2_l2, mean_kl, m2_kl, top1Changed, simplexViolations,
 * ballViolations] for one batch; the caller disposes it.
 */
function reduceBatch(y: tf.Tensor2D, released: tf.Tensor2D, ball: { eps: number; norm: Norm } | null): tf.Tensor1D {
  return tf.tidy(() => {
    const n = y.shape[0];
    const diff = tf.sub(y, released);
    const l1 = tf.sum(tf.abs(diff), 1);
    const l2 = tf.sqrt(tf.sum(tf.square(diff), 1));
    // The same floor on both sides: ỹ = y gives exactly 0 (a 1e-30 floor on y alone made
    // undefended rows come out at −1e-15 for entries below 1e-12), and y_k = 0 still adds 0.
    const logY = tf.log(tf.maximum(y, KL_FLOOR));
    const logR = tf.log(tf.maximum(released, KL_FLOOR));
    const kl = tf.sum(tf.mul(y, tf.sub(logY, logR)), 1);
    const parts: tf.Tensor[] = [tf.scalar(n)];
    for (const d of [l1, l2, kl]) {
      const mean = tf.mean(d);
      parts.push(mean, tf.sum(tf.square(tf.sub(d, mean))));
    }
    const changed = tf.notEqual(tf.argMax(y, 1), tf.argMax(released, 1));
    const finite = tf.all(tf.isFinite(released), 1);
    const negative = tf.any(tf.less(released, -INVARIANT_TOLERANCE), 1);
    const offSum = tf.greater(tf.abs(tf.sub(tf.sum(released, 1), 1)), INVARIANT_TOLERANCE);
    const offSimplex = tf.logicalOr(tf.logicalNot(finite), tf.logicalOr(negative, offSum));
    const count = (b: tf.Tensor): tf.Tensor => tf.sum(tf.cast(b, 'float32'));
    parts.push(count(changed), count(offSimplex));
    if (ball) {
      const dist = ball.norm === 'l1' ? l1 : l2;
      // NaN distances fail `≤` and so count as violations.
      parts.push(count(tf.logicalNot(tf.lessEqual(dist, ball.eps + INVARIANT_TOLERANCE))));
    } else {
      parts.push(tf.scalar(0));
    }
    return tf.stack(parts.map((p) => tf.reshape(p, []))) as tf.Tensor1D;
  });
}

export class QueryStats {
  private readonly moments: Record<(typeof METRICS)[number], Moments> = {
    l1: { n: 0, mean: 0, m2: 0 },
    l2: { n: 0, mean: 0, m2: 0 },
    kl: { n: 0, mean: 0, m2: 0 },
  };
  private queries = 0;
  private top1Changed = 0;
  private simplexViolations = 0;
  private ballViolations = 0;

  constructor(private readonly ball: { eps: number; norm: Norm } | null) {}

  /** Reduces a batch on the backend and folds it in (one read-back of a few numbers). */
  async add(y: tf.Tensor2D, released: tf.Tensor2D): Promise<void> {
    if (y.shape[0] === 0) return;
    const reduced = reduceBatch(y, released, this.ball);
    try {
      this.addReduced(await reduced.data());
    } finally {
      reduced.dispose();
    }
  }

  /** Folds in one batch's reduction vector (see reduceBatch). */
  addReduced(v: ArrayLike<number>): void {
    if (v.length !== SLOTS) throw new Error(`a batch reduction has ${SLOTS} numbers, got ${v.length}`);
    const n = v[0]!;
    METRICS.forEach((metric, i) => merge(this.moments[metric], n, v[1 + 2 * i]!, v[2 + 2 * i]!));
    this.queries += n;
    this.top1Changed += v[7]!;
    this.simplexViolations += v[8]!;
    this.ballViolations += v[9]!;
  }

  report(): QueryStatsReport {
    const summary = (m: Moments): Summary => ({
      mean: m.n > 0 ? m.mean : 0,
      std: m.n > 0 ? Math.sqrt(Math.max(0, m.m2 / m.n)) : 0,
    });
    return {
      queries: this.queries,
      l1: summary(this.moments.l1),
      l2: summary(this.moments.l2),
      kl: summary(this.moments.kl),
      top1Changed: this.top1Changed,
      top1ChangeRate: this.queries > 0 ? this.top1Changed / this.queries : 0,
      simplexViolations: this.simplexViolations,
      epsBallViolations: this.ball ? this.ballViolations : null,
    };
  }
}

/** Chan et al.: merge a batch (n_b, mean_b, M2_b) into running moments. */
function merge(into: Moments, nb: number, meanB: number, m2B: number): void {
  if (nb === 0) return;
  const n = into.n + nb;
  const delta = meanB - into.mean;
  into.mean += (delta * nb) / n;
  into.m2 += m2B + (delta * delta * into.n * nb) / n;
  into.n = n;
}
