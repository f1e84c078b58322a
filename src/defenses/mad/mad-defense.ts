/**
 * What MAD and MAD-argmax share: where the objective's geometry comes from (side information),
 * the ablations, and the final step ỹ = (1 − α)y + αy*. They differ only in their oracle, the
 * set of vertices searched for y*.
 *
 * Side information per jacobian mode (cacheable per query, keyed by the surrogate's id):
 *   closed        → p = softmax(F_sur(x)) [B, K]
 *   autodiff      → M = GGᵀ [B, K, K], G = ∂ log softmax / ∂ (last dense kernel)
 *   autodiff-all  → M = GGᵀ [B, K, K], G = ∂ log softmax / ∂ (all trainable parameters)
 * The ablations need none: G = I uses y alone, and the random vertex ignores the objective.
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../../util/rng.js';
import { defineDefense } from '../base.js';
import { closedFormScorer, gramScorer, identityScorer, type VertexScorer } from './mad-objective.js';
import { stepTowards } from './mad-step.js';
import { defenseRng } from '../stream.js';
import { Surrogate } from './surrogate.js';
import type { MadSpec } from './mad-family.js';
import type { Defense, DefenseContext } from '../types.js';

export interface MadOracle {
  /** y* [B, K]: the vertex of the oracle's set with the highest score for each row of y. */
  search(scorer: VertexScorer, y: tf.Tensor2D): tf.Tensor2D;
  /** y* [B, K] drawn at random from the oracle's set (ablation 'random-vertex'). */
  random(y: tf.Tensor2D, rng: Rng): tf.Tensor2D;
  /** Frees the oracle's constant tensors. */
  dispose(): void;
}

export async function createMadDefense(spec: MadSpec, ctx: DefenseContext, oracle: MadOracle): Promise<Defense> {
  const ball = { eps: spec.eps, norm: spec.ydist };
  const move = (y: tf.Tensor2D, target: tf.Tensor2D): tf.Tensor2D => stepTowards(y, target, spec.eps, spec.ydist);
  // ε = 0 is the undefended reference of every sweep: y exactly, whatever the oracle would pick.
  const unchanged = spec.eps === 0;

  if (spec.ablation === 'identity') {
    return defineDefense({
      spec, numClasses: ctx.numClasses, ball, release: () => oracle.dispose(),
      transform: (y) => (unchanged ? tf.clone(y) : move(y, oracle.search(identityScorer(y), y))),
    });
  }
  if (spec.ablation === 'random-vertex') {
    const rng = defenseRng(ctx, 'random-vertex');
    return defineDefense({
      spec, numClasses: ctx.numClasses, ball, release: () => oracle.dispose(),
      transform: (y) => (unchanged ? tf.clone(y) : move(y, oracle.random(y, rng))),
    });
  }

  let surrogate: Surrogate;
  const shared = ctx.surrogate;
  try {
    if (shared) {
      const expected = Surrogate.originFor(spec.surrogate, ctx);
      if (shared.origin !== expected) throw new Error(`the shared surrogate is ${shared.origin}, the spec asks for ${expected}`);
      surrogate = shared;
    } else {
      surrogate = spec.surrogate === null ? Surrogate.randomInit(ctx) : await Surrogate.load(spec.surrogate, ctx);
    }
  } catch (err) {
    oracle.dispose();
    throw err;
  }
  const release = (): void => {
    if (!shared) surrogate.dispose();
    oracle.dispose();
  };
  if (spec.jacobian === 'closed') {
    return defineDefense({
      spec, numClasses: ctx.numClasses, ball, release,
      sideInfoKey: `surrogate-posterior:${surrogate.id}`,
      inputs: surrogate.inputs,
      sideRowShape: [ctx.numClasses],
      computeSideInfo: (x) => surrogate.posterior(x),
      transform: (y, p) => (unchanged ? tf.clone(y) : move(y, oracle.search(closedFormScorer(p as tf.Tensor2D, y), y))),
    });
  }
  const scope = spec.jacobian === 'autodiff' ? 'last' : 'all';
  return defineDefense({
    spec, numClasses: ctx.numClasses, ball, release,
    sideInfoKey: `jacobian-gram-${scope}:${surrogate.id}`,
    inputs: surrogate.inputs,
    sideRowShape: [ctx.numClasses, ctx.numClasses],
    computeSideInfo: (x) => surrogate.jacobianGram(x, scope),
    transform: (y, M) => (unchanged ? tf.clone(y) : move(y, oracle.search(gramScorer(M as tf.Tensor3D, y), y))),
  });
}
