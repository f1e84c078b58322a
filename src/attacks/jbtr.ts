/**
 * JBDA-TR (ModelGuard's `jbtr3`, SPEC-ADAPTIVE §3): the Jacobian rounds with random-target PGD.
 * Each round, after the substitute F is trained on D, every image x of D (as the round began; no
 * reservoir, the reference's κ = None) gives k new points, each from its own PGD run:
 *   δ₀ = 0; for t = 1..T, with a fresh uniformly random target class c_t:
 *     δ ← clip(δ − α·sign ∇_δ CE(F(x + δ), c_t), −ε, ε),  then δ ← clip(x + δ, 0, 1) − x,
 *   α = 1.85·ε/T; the point is x + δ_T, queried and appended to D.
 * The images are taken in a seeded random order, k points each, cut exactly at the budget: when
 * fewer than k·|D| queries are left, the first ⌈left/k⌉ images of that order (a random sample, as
 * the reference's) give them. Every draw (the order, each batch's targets) comes from the round's
 * stream in fixed batches, so the first B queries never depend on the budget.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import { attackSettingsOf, JACOBIAN_ROUND_PARAMS, type AttackSettings } from './names.js';
import type { AttackDefinition } from './types.js';
import type { AugmentStep } from './jacobian-rounds.js';

const NAME = 'jbtr';
const POSITIVE_INT = { integer: true, min: 1 } as const;
/** The reference's k, ε and T (SPEC-ADAPTIVE §3). */
const DEFAULTS = { trPoints: 3, trEps: 0.1, trSteps: 8 } as const;
/** The reference's PGD step as a fraction of ε·T⁻¹. */
const STEP_FACTOR = 1.85;
/** The Jacobian rounds' parameters that apply: no reservoir (κ, σ) and no signed λ step (τ, λ). */
const ROUND_KEYS = new Set(['seedSize', 'roundEpochs', 'roundLr', 'roundMomentum']);

function numberSetting(settings: AttackSettings, key: string): number {
  const v = settings[key];
  if (typeof v !== 'number') throw new Error(`${NAME}: setting ${key} is ${String(v)}, not a number`);
  return v;
}

/** One batch of points: T random-target PGD iterations from `pixels`, targets[t] per row. */
function randomTargetPgd(
  tf: typeof tfTypes,
  substitute: tfTypes.LayersModel,
  pixels: tfTypes.Tensor4D,
  targets: Int32Array[],
  eps: number,
  normalise: (x: tfTypes.Tensor4D) => tfTypes.Tensor4D,
  numClasses: number,
): tfTypes.Tensor4D {
  const alpha = (STEP_FACTOR * eps) / targets.length;
  return tf.tidy(() => {
    let delta: tfTypes.Tensor4D = tf.zerosLike(pixels);
    for (const target of targets) {
      const next: tfTypes.Tensor4D = tf.tidy(() => {
        const onehot = tf.oneHot(tf.tensor1d(target, 'int32'), numClasses).toFloat();
        // Summed cross-entropy: each row's gradient is its own loss's (the substitute runs in inference mode).
        const loss = (d: tfTypes.Tensor): tfTypes.Scalar =>
          tf.neg(tf.sum(tf.mul(onehot, tf.logSoftmax(substitute.apply(normalise(tf.add(pixels, d)), { training: false }) as tfTypes.Tensor2D)))) as tfTypes.Scalar;
        const g = tf.grad(loss)(delta);
        const stepped = tf.clipByValue(tf.sub(delta, tf.mul(alpha, tf.sign(g))), -eps, eps);
        return tf.sub(tf.clipByValue(tf.add(pixels, stepped), 0, 1), pixels);
      });
      delta.dispose();
      delta = next;
    }
    return tf.add(pixels, delta);
  });
}

async function augmentRandomTarget(step: AugmentStep, settings: AttackSettings): Promise<void> {
  const tf = await import('@tensorflow/tfjs');
  const { normalise } = await import('./pixels.js');
  const { ctx, data, substitute } = step;
  const k = numberSetting(settings, 'trPoints');
  const eps = numberSetting(settings, 'trEps');
  const steps = numberSetting(settings, 'trSteps');
  // All of D as the round began (κ = None), in a random order; image-major, k points per image.
  const order = step.rng.fork('order').permutation(data.count);
  const points = Math.min(order.length * k, step.remaining);
  const targetRng = step.rng.fork('targets');
  for (let start = 0; start < points; start += ctx.queryBatchSize) {
    const end = Math.min(points, start + ctx.queryBatchSize);
    const rows = Array.from({ length: end - start }, (_, j) => order[Math.floor((start + j) / k)]!);
    // A full batch of targets per iteration even when the batch is cut, so a cut never shifts a draw.
    const batchRng = targetRng.fork(`batch-${start}`);
    const targets = Array.from({ length: steps }, () => Int32Array.from({ length: ctx.queryBatchSize }, () => batchRng.int(ctx.numClasses)).subarray(0, rows.length));
    const x = data.pixelTensor(rows);
    const moved = randomTargetPgd(tf, substitute, x, targets, eps, (p) => normalise(p, ctx.input), ctx.numClasses);
    x.dispose();
    try {
      await data.queryAndAppend(moved);
    } finally {
      moved.dispose();
    }
  }
}

export const jbtr: AttackDefinition = {
  name: NAME,
  queries: 'seed-set',
  adaptive: true,
  params: [
    ...JACOBIAN_ROUND_PARAMS.filter((p) => ROUND_KEYS.has(p.key)),
    { key: 'trPoints', flag: '--tr-points <n>', bag: 'attack', kind: 'number', range: POSITIVE_INT, default: DEFAULTS.trPoints, help: 'new points per image of D per round (k), each from its own random-target PGD run' },
    { key: 'trEps', flag: '--tr-eps <x>', bag: 'attack', kind: 'number', range: { gt: 0, max: 1 }, default: DEFAULTS.trEps, help: 'L∞ radius ε of the random-target PGD, in pixel units' },
    { key: 'trSteps', flag: '--tr-steps <n>', bag: 'attack', kind: 'number', range: POSITIVE_INT, default: DEFAULTS.trSteps, help: 'PGD iterations T, each toward a fresh random class, step 1.85·ε/T' },
  ],
  async run(ctx, sources) {
    // Loaded here, not at the top: the command line reads this declaration without TensorFlow.js.
    const { runJacobianAttack } = await import('./jacobian-rounds.js');
    const settings = attackSettingsOf(jbtr.params, sources.settings);
    return runJacobianAttack(NAME, ctx, sources, (step) => augmentRandomTarget(step, settings));
  },
};
