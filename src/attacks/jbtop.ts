/**
 * JB-top-k (PRADA): for each selected x and each of the k classes the substitute ranks highest
 * other than argmax ỹ, a targeted L∞ PGD toward that class (radius |λ_ρ|); one query per
 * (x, class), x-major, cut exactly at the budget for any k (the reference hard-codes 3).
 */
import { JACOBIAN_DEFAULTS, JACOBIAN_ROUND_PARAMS } from './names.js';
import type { AttackDefinition } from './types.js';
import type { AugmentStep } from './jacobian-rounds.js';

const POSITIVE_INT = { integer: true, min: 1 } as const;

async function augmentTopK(step: AugmentStep): Promise<void> {
  const { runnerUpClasses, targetedPgd } = await import('./jacobian-steps.js');
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
  queries: 'seed-set',
  adaptive: true,
  params: [
    ...JACOBIAN_ROUND_PARAMS,
    { key: 'topK', flag: '--top-k <n>', bag: 'jacobian', kind: 'number', range: POSITIVE_INT, default: JACOBIAN_DEFAULTS.topK, help: 'runner-up classes per image (at most K − 1)' },
    { key: 'pgdSteps', flag: '--pgd-steps <n>', bag: 'jacobian', kind: 'number', range: POSITIVE_INT, default: JACOBIAN_DEFAULTS.pgdSteps, help: 'PGD steps per target class' },
    { key: 'pgdStepSize', flag: '--pgd-step-size <x>', bag: 'jacobian', kind: 'number', range: { gt: 0 }, default: JACOBIAN_DEFAULTS.pgdStepSize, help: 'PGD step size' },
  ],
  // Each image's targets are the classes other than its top-1.
  victimLimit: (jacobian, numClasses) =>
    jacobian.topK > numClasses - 1 ? { key: 'topK', expected: `at most ${numClasses - 1} (the victim's classes other than the top-1)`, got: String(jacobian.topK) } : null,
  async run(ctx, sources) {
    // Loaded here, not at the top: the command line reads this declaration without TensorFlow.js.
    const { runJacobianAttack } = await import('./jacobian-rounds.js');
    return runJacobianAttack('jbtop', ctx, sources, augmentTopK);
  },
};
