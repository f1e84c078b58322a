/** JBDA (Papernot et al. 2017): x' = clip(x + λ·sign(∇_x CE(F_A(x), argmax ỹ)), 0, 1). */
import type { AttackDefinition } from './types.js';
import { runJacobianAttack } from './jacobian-rounds.js';
import { augmentBySignStep } from './sign-step.js';

export const jbda: AttackDefinition = {
  name: 'jbda',
  adaptive: true,
  run: (ctx, sources) => runJacobianAttack('jbda', ctx, sources, (step) => augmentBySignStep(step, 1)),
};
