/**
 * Defender utility of a defense on a labelled image set: every image is sent through the
 * defended black box once, and from what it released we get the undefended and defended
 * accuracy (argmax y and argmax ỹ against the labels) plus the black box's own statistics
 * (distortion, top-1 changes, invariant violations) and its speed.
 */
import * as tf from '@tensorflow/tfjs';
import { victimBlackBox } from '../blackbox/victim.js';
import type { QueryStatsReport } from '../blackbox/stats.js';
import { toModelInput } from '../data/convert.js';
import type { ImageSet, InputSpec } from '../data/types.js';
import type { Defense } from '../defenses/types.js';

export interface DefenderUtility extends QueryStatsReport {
  accuracyUndefended: number;
  accuracyDefended: number;
  /** Black-box queries answered per second (time inside query(), input conversion excluded). */
  queriesPerSecond: number;
  /** Seconds spent inside the black box. */
  blackBoxSeconds: number;
}

interface UtilityOptions {
  batchSize: number;
  /** Called after each batch with the number of images done. */
  onProgress?: (done: number, queriesPerSecond: number) => void;
}

export async function measureDefenderUtility(
  victim: tf.LayersModel,
  defense: Defense,
  set: ImageSet,
  input: InputSpec,
  opts: UtilityOptions,
): Promise<DefenderUtility> {
  if (set.count === 0) throw new Error('measureDefenderUtility needs at least one image');
  let labels: tf.Tensor1D | null = null;
  let correctClean = 0;
  let correctDefended = 0;
  const box = victimBlackBox(victim, defense, {
    budget: set.count,
    observe: async (clean, released) => {
      const counts = tf.tidy(() => {
        const right = (p: tf.Tensor2D): tf.Tensor => tf.sum(tf.cast(tf.equal(tf.argMax(p, 1), labels!), 'float32'));
        return tf.stack([right(clean), right(released)]);
      });
      const [c, d] = await counts.data();
      counts.dispose();
      correctClean += c!;
      correctDefended += d!;
    },
  });

  let seconds = 0;
  for (let start = 0; start < set.count; start += opts.batchSize) {
    const end = Math.min(set.count, start + opts.batchSize);
    const x = toModelInput(set, { start, end }, input);
    labels = tf.tensor1d(set.labels.subarray(start, end), 'int32');
    try {
      const t0 = performance.now();
      const released = await box.query(x);
      seconds += (performance.now() - t0) / 1000;
      released.dispose();
    } finally {
      x.dispose();
      labels.dispose();
      labels = null;
    }
    opts.onProgress?.(end, end / seconds);
  }
  return {
    ...box.stats(),
    accuracyUndefended: correctClean / set.count,
    accuracyDefended: correctDefended / set.count,
    queriesPerSecond: set.count / seconds,
    blackBoxSeconds: seconds,
  };
}
