/**
 * Random noise in logit space (docs/spec.md): z = logit(y) (clipped as for reverse sigmoid),
 * δ drawn per entry and projected onto the ε_z ball of the chosen norm (Duchi projection for
 * L1), ỹ = σ(z + δ) renormalised to sum to 1.
 * The reference draws only non-negative uniform noise; `poison` draws symmetric noise:
 * uniform: δ_k ~ U(−ε_z, ε_z); gaussian: δ_k ~ N(0, ε_z²); then the projection.
 * Draws come from the run's seed and the consumer's stream (defenseRng(ctx, <this defense's name>)), one
 * block per apply() call, so the same seed, consumer and batch order give the same outputs. ε_z = 0 releases y unchanged, bit for bit.
 */
import type { Rng } from '../util/rng.js';
import type { DefenseDefinition, DefenseSpec } from './definition.js';
import { NORMS, type Norm } from './norm.js';

const NOISE_DISTS = ['uniform', 'gaussian'] as const;

/** δ in logit space, projected onto the ε_z ball of `norm`. */
interface RandomNoiseSpec extends DefenseSpec {
  readonly epsZ: number;
  readonly norm: Norm;
  readonly dist: (typeof NOISE_DISTS)[number];
}

/**
 * Raw noise for `rows` posteriors, row-major, before the projection: uniform draws
 * (2u − 1)·ε_z or gaussian draws n·ε_z, in the order the seeded stream produces them.
 */
export function drawLogitNoise(rng: Rng, rows: number, K: number, spec: Pick<RandomNoiseSpec, 'epsZ' | 'dist'>): Float32Array {
  const out = new Float32Array(rows * K);
  for (let i = 0; i < out.length; i++) {
    out[i] = spec.dist === 'uniform' ? (2 * rng.next() - 1) * spec.epsZ : rng.normal() * spec.epsZ;
  }
  return out;
}

export const randomNoise: DefenseDefinition = {
  name: 'random-noise',
  summary: 'logit noise projected onto the ε_z ball; symmetric (the reference draws only non-negative uniform noise)',
  params: [
    { key: 'noise-eps', field: 'epsZ', flag: '--noise-eps <x>', kind: 'number', range: { min: 0 }, help: 'radius ε_z ≥ 0 of the logit noise' },
    { key: 'noise-norm', field: 'norm', flag: '--noise-norm <norm>', kind: 'choice', choices: NORMS, default: 'l1', help: 'ball of the noise, l1 | l2' },
    { key: 'noise-dist', field: 'dist', flag: '--noise-dist <dist>', kind: 'choice', choices: NOISE_DISTS, default: 'uniform', help: 'uniform | gaussian' },
  ],
  operatingAxis: 'noise-eps',
  drawsRandomness: (spec: RandomNoiseSpec) => spec.epsZ > 0,
  sideInfoIdentity: () => null,
  describe: (spec: RandomNoiseSpec) => `${spec.name}(eps_z=${spec.epsZ}, ${spec.norm}, ${spec.dist})`,
  slug: (spec: RandomNoiseSpec) => `${spec.name}-z${spec.epsZ}-${spec.norm}-${spec.dist}`,
  async create(spec: RandomNoiseSpec, ctx) {
    const tf = await import('@tensorflow/tfjs');
    const { defineDefense } = await import('./base.js');
    const { withLogitNoise } = await import('./logit.js');
    const { projectBall } = await import('./projection.js');
    const { defenseRng } = await import('./stream.js');
    const K = ctx.numClasses;
    const rng = defenseRng(ctx, spec.name);
    return defineDefense({
      spec,
      numClasses: K,
      transform: (y) => {
        if (spec.epsZ === 0) return tf.clone(y);
        const rows = y.shape[0];
        const delta = projectBall(tf.tensor2d(drawLogitNoise(rng, rows, K, spec), [rows, K]), spec.epsZ, spec.norm);
        return withLogitNoise(y, delta);
      },
    });
  },
};
