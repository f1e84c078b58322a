/**
 * A black box over fixed clean posterior rows, for adaptation tests that need no victim: the i-th
 * query's clean answer is row i, released through `defend`; and the helpers that ask it and score
 * answers against the clean rows.
 */
import * as tf from '@tensorflow/tfjs';
import type { QueryOracle } from '../../src/attacks/types.js';

/** A black box of K classes whose i-th query's clean answer is clean row i, released through `defend`. */
export function syntheticBlackBox(clean: Float32Array, K: number, defend: (rows: Float32Array) => Float32Array): QueryOracle {
  let used = 0;
  const budget = clean.length / K;
  return {
    numClasses: K,
    budget,
    get queriesUsed() {
      return used;
    },
    query(batch) {
      const n = batch.pixels.shape[0];
      if (used + n > budget) return Promise.reject(new Error('over budget'));
      const answers = defend(clean.slice(used * K, (used + n) * K));
      used += n;
      return Promise.resolve(answers);
    },
  };
}

/** Ask `oracle` batches of the given sizes (blank 28×28 images); every answer, concatenated. */
export async function askAll(oracle: QueryOracle, batches: number[]): Promise<Float32Array> {
  const parts: Float32Array[] = [];
  for (const n of batches) {
    const x = tf.zeros([n, 28, 28, 1]) as tf.Tensor4D;
    try {
      parts.push(await oracle.query({ pixels: x }));
    } finally {
      x.dispose();
    }
  }
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The mean per-row L1 distance between two row-major sets of K-class rows. */
export function meanL1(a: Float32Array, b: Float32Array, K: number): number {
  let total = 0;
  for (let j = 0; j < a.length; j++) total += Math.abs(a[j]! - b[j]!);
  return total / (a.length / K);
}
