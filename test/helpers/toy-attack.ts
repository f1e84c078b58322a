/**
 * A toy attack declared in one file outside src/ and registered through
 * POISON_EXTENSION_MODULES, as an experiment of one's own would be: it sends the first B images of
 * its query pool, in order, in one batch. It takes the query pool's parameters (POOL_PARAMS; the
 * registry refuses a differing declaration of a shared key).
 */
import { fileURLToPath } from 'node:url';
import { POOL_PARAMS } from '../../src/attacks/names.js';
import type { AttackDefinition } from '../../src/attacks/types.js';

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

export const attacks = [toy];
