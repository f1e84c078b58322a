/**
 * A black box that answers from a QueryCache instead of the victim: queries are served in the
 * recorded order (from `start`), each is checked against the recorded image fingerprint, counted
 * against the budget, and run through the defense and the statistics exactly as live queries are.
 */
import * as tf from '@tensorflow/tfjs';
import type { Defense } from '../defenses/types.js';
import { imageFingerprints, type QueryCache } from './cache.js';
import { DefendedBlackBox } from './defended.js';
import type { BlackBoxOptions } from './types.js';

export interface ReplayOptions extends BlackBoxOptions {
  /** First cached query to serve (default 0). */
  start?: number;
  /** Compare each image with the recorded one (default true). */
  verifyInputs?: boolean;
}

/** Relative tolerance of the fingerprint comparison: the same image gives the same sums. */
const FINGERPRINT_TOLERANCE = 1e-5;

export function replayBlackBox(cache: QueryCache, defense: Defense, opts: ReplayOptions = {}): DefendedBlackBox {
  const K = cache.numClasses;
  if (defense.numClasses !== K) throw new Error(`the cache holds ${K}-class posteriors, the defense was made for ${defense.numClasses}`);
  const key = defense.sideInfoKey;
  const side = key === null ? null : cache.side.get(key);
  if (side === undefined) {
    throw new Error(`defense ${defense.spec.name} needs side information '${key}', which the cache does not hold: record with that defense`);
  }
  const start = opts.start ?? 0;
  if (!Number.isInteger(start) || start < 0 || start > cache.count) throw new Error(`replay start ${start} is outside the cache (0..${cache.count})`);
  const verify = opts.verifyInputs ?? true;
  const sideRow = side ? side.rowShape.reduce((a, b) => a * b, 1) : 0;

  return new DefendedBlackBox(
    defense,
    cache.inputShape,
    async (x, firstQuery) => {
      const n = x.shape[0];
      const from = start + firstQuery;
      if (from + n > cache.count) {
        throw new Error(`replay asked for queries ${from}..${from + n - 1}, the cache holds ${cache.count}`);
      }
      if (verify && n > 0) {
        const prints = imageFingerprints(x);
        const got = await prints.data();
        prints.dispose();
        const want = cache.fingerprints.subarray(2 * from, 2 * (from + n));
        for (let i = 0; i < got.length; i++) {
          if (Math.abs(got[i]! - want[i]!) > FINGERPRINT_TOLERANCE * (1 + Math.abs(want[i]!))) {
            throw new Error(`replayed query ${from + Math.floor(i / 2)} is not the image that was recorded: replays must send the recorded queries in order`);
          }
        }
      }
      const clean = tf.tensor2d(cache.clean.subarray(from * K, (from + n) * K), [n, K]);
      const sideInfo = side ? tf.tensor(side.values.subarray(from * sideRow, (from + n) * sideRow), [n, ...side.rowShape]) : null;
      return { clean, side: sideInfo };
    },
    opts,
  );
}
