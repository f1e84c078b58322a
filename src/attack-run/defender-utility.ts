/**
 * The defender's side of a result row, on the victim's test set: accuracy of argmax ỹ (defended)
 * and of argmax y (undefended), and the black box's release statistics (src/blackbox/stats.ts,
 * the same definitions `poison eval` reports) computed from rows, so cached clean posteriors
 * serve every defense.
 */
import * as tf from '@tensorflow/tfjs';
import { QueryStats, type QueryStatsReport } from '../blackbox/stats.js';
import type { Defense } from '../defenses/types.js';
import { argmaxRow } from '../attacks/transfer-set.js';

export interface DefenderUtility {
  testCount: number;
  accuracyUndefended: number;
  accuracyDefended: number;
  test: QueryStatsReport;
}

export function argmaxRows(values: Float32Array, numClasses: number): Int32Array {
  const count = values.length / numClasses;
  const out = new Int32Array(count);
  for (let i = 0; i < count; i++) out[i] = argmaxRow(values, i, numClasses);
  return out;
}

/** Release statistics of the first `count` rows (clean y vs released ỹ). */
export async function releaseStats(
  clean: Float32Array,
  released: Float32Array,
  numClasses: number,
  count: number,
  ball: Defense['ball'],
  batchRows = 1024,
): Promise<QueryStatsReport> {
  const stats = new QueryStats(ball);
  for (let at = 0; at < count; at += batchRows) {
    const end = Math.min(count, at + batchRows);
    const y = tf.tensor2d(clean.subarray(at * numClasses, end * numClasses), [end - at, numClasses]);
    const yt = tf.tensor2d(released.subarray(at * numClasses, end * numClasses), [end - at, numClasses]);
    try {
      await stats.add(y, yt);
    } finally {
      y.dispose();
      yt.dispose();
    }
  }
  return stats.report();
}

export async function defenderUtility(
  clean: Float32Array,
  released: Float32Array,
  labels: Int32Array,
  numClasses: number,
  ball: Defense['ball'],
): Promise<DefenderUtility> {
  const count = clean.length / numClasses;
  const undefended = argmaxRows(clean, numClasses);
  const defended = argmaxRows(released, numClasses);
  let undefendedCorrect = 0;
  let defendedCorrect = 0;
  for (let i = 0; i < count; i++) {
    if (undefended[i] === labels[i]) undefendedCorrect++;
    if (defended[i] === labels[i]) defendedCorrect++;
  }
  return {
    testCount: count,
    accuracyUndefended: undefendedCorrect / count,
    accuracyDefended: defendedCorrect / count,
    test: await releaseStats(clean, released, numClasses, count, ball),
  };
}
