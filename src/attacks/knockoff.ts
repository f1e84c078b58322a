/**
 * Knockoff Nets, random strategy (Orekondy et al. 2019): B distinct images drawn without
 * replacement (seeded) from a query pool of another distribution, converted to the victim's
 * input shape, sent in batches.
 */
import { UsageError } from '../errors.js';
import type { Rng } from '../util/rng.js';
import { POOL_PARAMS } from './names.js';
import type { AttackDefinition } from './types.js';
import type { TransferSet } from './transfer-set.js';

/**
 * The pool indices of the first `budget` queries. A partial Fisher–Yates: the first B of a
 * larger draw are exactly the draw for B, so one transfer set serves every smaller budget.
 */
function knockoffQueryIndices(poolCount: number, budget: number, rng: Rng): Int32Array {
  if (budget > poolCount) {
    throw new UsageError(`--budget ${budget} is larger than the query pool (${poolCount} images): knockoff draws distinct images`);
  }
  return rng.fork('knockoff-draw').sampleWithoutReplacement(poolCount, budget);
}

export const knockoff: AttackDefinition = {
  name: 'knockoff',
  queries: 'pool',
  adaptive: false,
  params: POOL_PARAMS,
  async run(ctx, sources) {
    // Loaded here, not at the top: the command line reads this declaration without TensorFlow.js.
    const { toModelInput } = await import('../data/convert.js');
    const { pixelSpec, RowStore } = await import('./pixels.js');
    const pool = sources.pool;
    if (!pool) throw new UsageError('knockoff needs a query pool (--queryset)');
    const indices = knockoffQueryIndices(pool.count, ctx.budget, ctx.rng);
    const released = new RowStore(ctx.numClasses, ctx.budget);
    const asPixels = pixelSpec(ctx.input);
    for (let start = 0; start < ctx.budget; start += ctx.queryBatchSize) {
      const batchIndices = indices.subarray(start, Math.min(ctx.budget, start + ctx.queryBatchSize));
      const pixels = toModelInput(pool, batchIndices, asPixels);
      try {
        released.append(await ctx.oracle.query({ pixels, poolIndices: batchIndices }));
      } finally {
        pixels.dispose();
      }
      ctx.reporter?.queried?.(released.count, ctx.budget);
    }
    const set: TransferSet = {
      attack: 'knockoff',
      count: ctx.budget,
      numClasses: ctx.numClasses,
      input: ctx.input,
      images: { kind: 'pool', pool, indices },
      released: released.toArray(),
    };
    return set;
  },
};
