/**
 * JB-top-k (PRADA): for each selected x and each of the k classes the substitute ranks highest
 * other than argmax ỹ, a targeted L∞ PGD toward that class (radius |λ_ρ|); one query per
 * (x, class), x-major, cut exactly at the budget for any k (the reference hard-codes 3).
 */
import type { AttackDefinition } from './types.js';
import { runJacobianAttack, type AugmentStep } from './jacobian-rounds.js';
import { runnerUpClasses, targetedPgd } from './jacobian-steps.js';

async function augmentTopK(step: AugmentStep): Promise<void> {
  const { ctx, data, substitute, settings } = step;
  const k = settings.topK;
  // Only the images whose pairs fit in the budget need ranking.
  const imagesNeeded = Math.min(step.selected.length, Math.ceil(step.remaining / k));
  const images = step.selected.subarray(0, imagesNeeded);
  const pairRows: number[] = [];
  const pairClasses: number[] = [];
  for (let start = 0; start < images.length; start += ctx.queryBatchSize) {
    const rows = images.subarray(start, start + ctx.queryBatchSize);
    const x = data.pixelTensor(rows);
    const classes = await runnerUpClasses(substitute, x, data.labels(rows), k, ctx.input);
    x.dispose();
    for (let j = 0; j < rows.length; j++) {
      for (let r = 0; r < k; r++) {
        pairRows.push(rows[j]!);
        pairClasses.push(classes[j * k + r]!);
      }
    }
  }
  const pairs = Math.min(pairRows.length, step.remaining);
  for (let start = 0; start < pairs; start += ctx.queryBatchSize) {
    const end = Math.min(pairs, start + ctx.queryBatchSize);
    const x = data.pixelTensor(pairRows.slice(start, end));
    const moved = targetedPgd(
      substitute,
      x,
      Int32Array.from(pairClasses.slice(start, end)),
      Math.abs(step.lambda),
      settings.pgdSteps,
      settings.pgdStepSize,
      ctx.input,
      ctx.numClasses,
    );
    x.dispose();
    try {
      await data.queryAndAppend(moved);
    } finally {
      moved.dispose();
    }
  }
}

export const jbtop: AttackDefinition = {
  name: 'jbtop',
  adaptive: true,
  run: (ctx, sources) => runJacobianAttack('jbtop', ctx, sources, augmentTopK),
};
