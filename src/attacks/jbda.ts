/** JBDA (Papernot et al. 2017): x' = clip(x + λ·sign(∇_x CE(F_A(x), argmax ỹ)), 0, 1). */
import { JACOBIAN_ROUND_PARAMS } from './names.js';
import type { AttackDefinition } from './types.js';

export const jbda: AttackDefinition = {
  name: 'jbda',
  queries: 'seed-set',
  adaptive: true,
  params: JACOBIAN_ROUND_PARAMS,
  async run(ctx, sources) {
    // Loaded here, not at the top: the command line reads this declaration without TensorFlow.js.
    const { runJacobianAttack } = await import('./jacobian-rounds.js');
    const { augmentBySignStep } = await import('./sign-step.js');
    return runJacobianAttack('jbda', ctx, sources, (step) => augmentBySignStep(step, 1));
  },
};
