/**
 * The augmentation of JBDA and JB-self: one signed-gradient step per selected image, in query
 * batches, cut to the queries left.
 */
import { signGradientStep } from './jacobian-steps.js';
import type { AugmentStep } from './jacobian-rounds.js';

/** direction +1: x + λ·sign(∇) (JBDA); −1: x − λ·sign(∇) (JB-self), each labelled where it lands. */
export async function augmentBySignStep(step: AugmentStep, direction: 1 | -1): Promise<void> {
  const { ctx, data, substitute } = step;
  const chosen = step.selected.subarray(0, Math.min(step.selected.length, step.remaining));
  for (let start = 0; start < chosen.length; start += ctx.queryBatchSize) {
    const rows = chosen.subarray(start, start + ctx.queryBatchSize);
    const x = data.pixelTensor(rows);
    const moved = signGradientStep(substitute, x, data.labels(rows), direction * step.lambda, ctx.input, ctx.numClasses);
    x.dispose();
    try {
      await data.queryAndAppend(moved);
    } finally {
      moved.dispose();
    }
  }
}
