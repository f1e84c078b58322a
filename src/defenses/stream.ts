/**
 * The seeded stream a random defense draws from: one per (seed, purpose, consumer), so two
 * consumers of one run (the test-set evaluation and the attacker) never share draws.
 */
import { namedStream } from '../util/rng.js';
import type { Rng } from '../util/rng.js';
import type { DefenseContext } from './types.js';

export function defenseRng(ctx: Pick<DefenseContext, 'seed' | 'stream'>, purpose: string): Rng {
  return ctx.stream === undefined ? namedStream(ctx.seed, purpose) : namedStream(ctx.seed, purpose, ctx.stream);
}
