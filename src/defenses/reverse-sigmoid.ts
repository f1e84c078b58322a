/**
 * Reverse sigmoid (Lee et al. 2019), docs/spec.md formula exactly:
 *   r(y) = β·(σ(γ·logit(y)) − ½),  logit(y) = log(y/(1−y)) with y clipped to [1e-9, 1 − 1e-9],
 *   ỹ = (y − r(y)) / Σ_j (y − r(y))_j.
 * β is limited to [0, 1]: that is exactly where y − r(y) > 0 for every y and γ (with β > 1, an
 * entry just above ½ and a large γ gives y − β(σ(γ·logit y) − ½) < 0, off the simplex), so ỹ is
 * a probability vector. β = 0 releases y unchanged, bit for bit.
 *
 * Top-1 is NOT always kept: f(y) = y − r(y) has f'(y) = 1 − βγ·σ'(γt)/σ'(t) (t = logit y).
 * For γ ≥ 1 the ratio is ≤ 1, so βγ < 1 makes f strictly increasing and the ranking (hence
 * argmax) survives; for γ < 1 (the paper's γ = 0.1–0.4) the ratio grows without bound towards
 * y → 0, tiny entries are pushed up by up to β/2, and a flat enough posterior can flip
 * (tested in test/defenses-properties.test.ts).
 */
import type { DefenseDefinition, DefenseSpec } from './definition.js';

interface ReverseSigmoidSpec extends DefenseSpec {
  readonly beta: number;
  readonly gamma: number;
}

/** The paper's γ per dataset (docs/spec.md): MNIST 0.2, FashionMNIST 0.4, CIFAR-10 0.1, others 0.2. */
export function defaultGamma(dataset: string | undefined): number {
  if (dataset === 'fashion-mnist') return 0.4;
  if (dataset === 'cifar10') return 0.1;
  return 0.2;
}

export const reverseSigmoid: DefenseDefinition = {
  name: 'reverse-sigmoid',
  summary: "Lee et al.'s reverse sigmoid, docs/spec.md formula",
  params: [
    { key: 'beta', field: 'beta', flag: '--beta <x>', kind: 'number', range: { min: 0, max: 1 }, help: 'strength β in [0, 1]' },
    {
      key: 'gamma', field: 'gamma', flag: '--gamma <x>', kind: 'number', range: { gt: 0 }, default: (ctx) => defaultGamma(ctx.dataset),
      help: 'γ > 0 (default per dataset: mnist 0.2, fashion-mnist 0.4, cifar10 0.1, others 0.2)',
    },
  ],
  operatingAxis: 'beta',
  drawsRandomness: () => false,
  sideInfoIdentity: () => null,
  slug: (spec: ReverseSigmoidSpec) => `${spec.name}-b${spec.beta}-g${spec.gamma}`,
  async create(spec: ReverseSigmoidSpec, ctx) {
    const tf = await import('@tensorflow/tfjs');
    const { defineDefense } = await import('./base.js');
    const { clippedLogit } = await import('./logit.js');
    const { beta, gamma } = spec;
    return defineDefense({
      spec,
      numClasses: ctx.numClasses,
      transform: (y) => {
        if (beta === 0) return tf.clone(y);
        const r = tf.mul(beta, tf.sub(tf.sigmoid(tf.mul(gamma, clippedLogit(y))), 0.5));
        const f = tf.sub(y, r);
        return tf.div(f, tf.sum(f, 1, true));
      },
    });
  },
};
