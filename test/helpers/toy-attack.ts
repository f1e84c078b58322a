/**
 * Toy attacks declared in one file outside src/ and registered through
 * POISON_EXTENSION_MODULES, as an experiment of one's own would be: the first sends the first B
 * images of its query pool, in order, in one batch, and takes the query pool's parameters
 * (POOL_PARAMS; the registry refuses a differing declaration of a shared key). The second does the
 * same with images from a query source of its own (the victim's test split), declared here: what
 * it loads, which split a sweep fetches, its budget limit and its reference training.
 */
import { fileURLToPath } from 'node:url';
import { POOL_PARAMS } from '../../src/attacks/names.js';
import type { AttackDefinition } from '../../src/attacks/types.js';
import type { QuerySourceDefinition } from '../../src/attacks/query-sources.js';

/** This module's compiled path, for POISON_EXTENSION_MODULES. */
export const TOY_ATTACK_MODULE = fileURLToPath(import.meta.url);
export const TOY_ATTACK = 'toy-first-images';

const toy: AttackDefinition = {
  name: TOY_ATTACK,
  queries: 'pool',
  adaptive: false,
  params: POOL_PARAMS,
  async run(ctx, sources) {
    const { toModelInput } = await import('../../src/data/convert.js');
    const { pixelSpec } = await import('../../src/attacks/pixels.js');
    const pool = sources.pool;
    if (!pool) throw new Error(`${TOY_ATTACK} ran without its pool`);
    const indices = Int32Array.from({ length: ctx.budget }, (_, i) => i);
    const pixels = toModelInput(pool, indices, pixelSpec(ctx.input));
    const released = await ctx.oracle.query({ pixels, poolIndices: indices }).finally(() => pixels.dispose());
    ctx.reporter?.queried?.(ctx.budget, ctx.budget);
    return { attack: TOY_ATTACK, count: ctx.budget, numClasses: ctx.numClasses, input: ctx.input, images: { kind: 'pool', pool, indices }, released };
  },
};

export const TOY_SOURCE_ATTACK = 'toy-victim-test';
/** Its attacker's training under --preset reference: recognisable in tests. */
export const TOY_SOURCE_TRAINING = { epochs: 7, lr: 0.02, momentum: 0.3, batchSize: 16, lrStep: 5, weightDecay: 0 };
const TEST_SPLIT_LIMIT = 10000;

/** The victim dataset's own test split as the query pool (an attacker holding test data). */
const victimTestSplit: QuerySourceDefinition = {
  kind: 'victim-test',
  description: "the victim's test split",
  unlabelledPool: true,
  referenceTraining: TOY_SOURCE_TRAINING,
  splits: (victimDataset) => [{ name: victimDataset, split: 'test' }],
  poolFromVictim: (victimDataset) => ({ dataset: victimDataset, split: 'test' }),
  shortfall: () => null,
  budgetProblem: (budget) => (budget > TEST_SPLIT_LIMIT ? { expected: `at most ${TEST_SPLIT_LIMIT}`, why: "asks the victim's test split" } : null),
  poolConfig: () => null,
  async load(request) {
    const { loadImageSet } = await import('../../src/data/index.js');
    const { dataInput } = await import('../../src/cache/key.js');
    const pool = await loadImageSet(request.victim.dataset, 'test', { dataDir: request.dataDir });
    return {
      sources: { pool },
      record: { kind: 'victim-test', dataset: pool.dataset, split: pool.split, count: pool.count, source: pool.source },
      input: dataInput('victim test split', pool, { dataDir: request.dataDir }),
    };
  },
};

const toyOwnSource: AttackDefinition = { ...toy, name: TOY_SOURCE_ATTACK, queries: victimTestSplit, params: [] };

export const attacks = [toy, toyOwnSource];
