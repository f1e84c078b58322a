/**
 * The defense behind the attack's black box, built by the project's defense registry from its
 * parsed spec and what the victim's params.json says about the victim.
 */
import type { ModelParams } from '../models/io.js';
import { createDefense } from '../defenses/registry.js';
import type { DefenseSpec } from '../defenses/spec.js';
import type { Defense, DefenseContext } from '../defenses/types.js';

export function defenseContext(params: ModelParams, seed: number): DefenseContext {
  return {
    numClasses: params.numClasses,
    inputShape: [params.input.height, params.input.width, params.input.channels],
    arch: params.arch,
    seed,
  };
}

export function createAttackDefense(spec: DefenseSpec, params: ModelParams, seed: number): Promise<Defense> {
  return createDefense(spec, defenseContext(params, seed));
}
