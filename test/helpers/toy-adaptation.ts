/**
 * A toy adaptation declared in one file outside src/ and registered through
 * POISON_EXTENSION_MODULES: it asks every image `repeats` times, unchanged, and answers the attack
 * the released answer with the largest top-1 (useless against a deterministic defense, the point
 * is the plumbing). Nothing in src/ names it.
 */
import { fileURLToPath } from 'node:url';
import type { AdaptationDefinition, AdaptationSettings } from '../../src/adaptations/types.js';
import type { QueryOracle } from '../../src/attacks/types.js';

/** This module's compiled path, for POISON_EXTENSION_MODULES. */
export const TOY_ADAPTATION_MODULE = fileURLToPath(import.meta.url);
export const TOY_ADAPTATION = 'toy-most-confident';

const repeatsOf = (settings: AdaptationSettings): number => settings.repeats as number;

const toy: AdaptationDefinition = {
  name: TOY_ADAPTATION,
  summary: 'asks each image several times and keeps the most confident answer',
  params: [{ key: 'repeats', flag: '--repeats <n>', help: 'queries per image', kind: 'number', range: { integer: true, min: 1 }, default: 2 }],
  attackerKnows: () => 'defense-type',
  queriesPerImage: repeatsOf,
  wrap(blackBox, ctx) {
    const repeats = repeatsOf(ctx.settings);
    let answered = 0;
    const oracle: QueryOracle = {
      numClasses: blackBox.numClasses,
      budget: Math.floor(blackBox.budget / repeats),
      get queriesUsed() {
        return answered;
      },
      async query(batch) {
        const n = batch.pixels.shape[0];
        const K = blackBox.numClasses;
        const best = await blackBox.query(batch);
        for (let r = 1; r < repeats; r++) {
          const next = await blackBox.query(batch);
          for (let i = 0; i < n; i++) {
            const row = (a: Float32Array): number => Math.max(...a.subarray(i * K, (i + 1) * K));
            if (row(next) > row(best)) best.set(next.subarray(i * K, (i + 1) * K), i * K);
          }
        }
        answered += n;
        return best;
      },
    };
    return Promise.resolve(oracle);
  },
};

export const adaptations = [toy];
