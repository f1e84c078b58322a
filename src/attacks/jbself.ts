/**
 * JB-self (PRADA's variant): step to x − λ·sign(∇) and label that very point. The reference
 * stores x + δ with the answer for x − δ; that mismatch is a bug and is not reproduced.
 */
import { JACOBIAN_ROUND_PARAMS } from './names.js';
import type { AttackDefinition } from './types.js';

export const jbself: AttackDefinition = {
  name: 'jbself',
  queries: 'seed-set',
  adaptive: true,
  params: JACOBIAN_ROUND_PARAMS,
  async run(ctx, sources) {
    // Loaded here, not at the top: the command line reads this declaration without TensorFlow.js.
    const { runJacobianAttack } = await import('./jacobian-rounds.js');
    const { augmentBySignStep } = await import('./sign-step.js');
    return runJacobianAttack('jbself', ctx, sources, (step) => augmentBySignStep(step, -1));
  },
};
