/**
 * Every defense, one line each: its factory from a validated spec and the victim's context.
 * Parsing flags into specs lives in params.ts (free of TensorFlow.js).
 */
import { createArgmax } from './argmax.js';
import { createMad } from './mad/mad.js';
import { createMadArgmax } from './mad/mad-argmax.js';
import { createNone } from './none.js';
import { checkDefenseForClasses } from './params.js';
import { createRandomNoise } from './random-noise.js';
import { createReverseSigmoid } from './reverse-sigmoid.js';
import { createRounding } from './rounding.js';
import { createTopK } from './top-k.js';
import type { DefenseName, DefenseSpec, SpecOf } from './spec.js';
import type { Defense, DefenseContext } from './types.js';

type Factory<N extends DefenseName> = (spec: SpecOf<N>, ctx: DefenseContext) => Defense | Promise<Defense>;

const FACTORIES: { [N in DefenseName]: Factory<N> } = {
  none: createNone,
  'top-k': createTopK,
  argmax: createArgmax,
  rounding: createRounding,
  'reverse-sigmoid': createReverseSigmoid,
  'random-noise': createRandomNoise,
  mad: createMad,
  'mad-argmax': createMadArgmax,
};

/**
 * A ready defense for a victim. MAD loads or builds its surrogate here (a saved surrogate whose
 * input shape or class count differs from the victim's is a UsageError). The caller disposes it.
 */
export async function createDefense(spec: DefenseSpec, ctx: DefenseContext): Promise<Defense> {
  checkDefenseForClasses(spec, ctx.numClasses);
  const factory = FACTORIES[spec.name] as Factory<typeof spec.name>;
  return factory(spec as never, ctx);
}
