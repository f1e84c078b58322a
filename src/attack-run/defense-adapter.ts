/**
 * The defense behind the attack's black box, built by the project's defense registry from its
 * parsed spec and what the victim's params.json says about the victim.
 */
import type { ModelParams } from '../models/io.js';
import { createDefense } from '../defenses/create.js';
import { needsInstancePerConsumer, type DefenseSpec } from '../defenses/spec.js';
import { DEFENSE_STREAMS, type Defense, type DefenseContext } from '../defenses/types.js';

export function defenseContext(params: ModelParams, seed: number, victimDir: string, stream?: string): DefenseContext {
  return {
    numClasses: params.numClasses,
    inputShape: [params.input.height, params.input.width, params.input.channels],
    arch: params.arch,
    seed,
    victimDir,
    ...(stream === undefined ? {} : { stream }),
  };
}

/** The defense answering the test-set evaluation and the one answering the attacker. */
export interface AttackDefenses {
  evaluation: Defense;
  attacker: Defense;
  dispose(): void;
}

/**
 * One instance per consumer when the defense is random (each on its own stream) or stateful (each
 * with its own history), so the attacker's answers do not depend on how many test images were
 * answered first (--test-limit); deterministic stateless defenses (MAD's surrogate included) are
 * built once and shared.
 */
export async function createAttackDefenses(spec: DefenseSpec, params: ModelParams, seed: number, victimDir: string): Promise<AttackDefenses> {
  const attacker = await createDefense(spec, defenseContext(params, seed, victimDir, DEFENSE_STREAMS.attacker));
  let evaluation = attacker;
  if (needsInstancePerConsumer(spec)) {
    try {
      evaluation = await createDefense(spec, defenseContext(params, seed, victimDir, DEFENSE_STREAMS.defenderEval));
    } catch (err) {
      attacker.dispose();
      throw err;
    }
  }
  return {
    evaluation,
    attacker,
    dispose() {
      attacker.dispose();
      evaluation.dispose();
    },
  };
}
