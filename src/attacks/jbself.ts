/**
 * JB-self (PRADA's variant): step to x − λ·sign(∇) and label that very point. The reference
 * stores x + δ with the answer for x − δ; that mismatch is a bug and is not reproduced.
 */
import type { AttackDefinition } from './types.js';
import { runJacobianAttack } from './jacobian-rounds.js';
import { augmentBySignStep } from './sign-step.js';

export const jbself: AttackDefinition = {
  name: 'jbself',
  adaptive: true,
  run: (ctx, sources) => runJacobianAttack('jbself', ctx, sources, (step) => augmentBySignStep(step, -1)),
};
