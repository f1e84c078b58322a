/**
 * S4L (ModelGuard's semi-supervised attacker, SPEC-ADAPTIVE.md §3): the attacker's queries and
 * answers are the naive attacker's, but it trains with a second, self-supervised task on the
 * whole query pool, which it holds unlabelled. A head Linear(d → 4) on the classifier's
 * penultimate features (d of them) learns which of 4 rotations an image underwent, so the shared
 * features learn from images the defense never answered:
 *
 *   loss = softCE(f(x), ȳ) + w · CE(head(rot90ᵏ(u)), k), k = 0..3,
 *
 * per step: the labelled batch (x, ȳ) and an unlabelled batch u of as many pool images (test
 * transform: normalised, never augmented), each in its 4 rotations. An epoch ends when either
 * source does. The head is trained with the model (same optimiser and weight decay) and
 * discarded afterwards: the attacker saved and scored is the classifier alone. The attacker
 * knows nothing of the defense; one query per image; the black box is not wrapped. Only attacks
 * that draw from a query pool: a Jacobian attack has no unlabelled set (its seed set is labelled
 * by its own queries, its other images are synthesised from it).
 */
import type * as tf from '@tensorflow/tfjs';
import { UsageError } from '../errors.js';
import { LOGITS_LAYER } from '../models/types.js';
import type { AdaptationDefinition, AdaptationSettings, AttackerTraining, AttackerTrainingContext } from './types.js';

/** rot90⁰, rot90¹, rot90², rot90³: the self-supervised task's classes. */
const ROTATIONS = 4;

function rotationWeightOf(settings: AdaptationSettings): number {
  const w = settings.rotationWeight;
  if (typeof w !== 'number') throw new Error(`s4l: rotationWeight must be a number, got ${String(w)}`);
  return w;
}

export const s4l: AdaptationDefinition = {
  name: 's4l',
  summary: "self-supervised rotation prediction on the unlabelled query pool, trained beside the attacker's classifier",
  params: [
    {
      key: 'rotationWeight',
      flag: '--rotation-weight <w>',
      help: 'w: weight of the rotation loss on the unlabelled query pool',
      kind: 'number',
      range: { min: 0, max: 100 },
      default: 1,
    },
  ],
  attackerKnows: () => 'nothing',
  queriesPerImage: () => 1,
  needsUnlabelledPool: true,
  // It changes how the attacker learns, not what it asks or is answered.
  wrap: (blackBox) => Promise.resolve(blackBox),
  attackerTraining: rotationTraining,
};

/**
 * rot90ᵏ of NHWC images, counter-clockwise in (H, W) (numpy's rot90 on axes (H, W), PyTorch's
 * rot90 on dims (2, 3) of NCHW): out[i][j] = in[j][W−1−i] for k = 1. Square images only (the
 * shape is kept); k is taken mod 4.
 */
export function rot90(x: tf.Tensor4D, k: number): tf.Tensor4D {
  const turns = ((k % ROTATIONS) + ROTATIONS) % ROTATIONS;
  if (turns === 0) return x.clone();
  if (turns === 2) return x.reverse([1, 2]);
  // A transpose swaps H and W (a mirror image); reversing the rows then makes it one turn
  // counter-clockwise, reversing the columns three.
  const swapped = x.transpose<tf.Tensor4D>([0, 2, 1, 3]);
  const turned = swapped.reverse(turns === 1 ? 1 : 2);
  swapped.dispose();
  return turned;
}

/**
 * The model's penultimate features (the input of its logits layer), in training mode: every
 * model of the zoo is a stack of layers ending in the LOGITS_LAYER dense layer.
 */
function penultimate(model: tf.LayersModel, x: tf.Tensor): tf.Tensor2D {
  const layers = model.layers;
  if (layers[layers.length - 1]?.name !== LOGITS_LAYER) throw new Error(`s4l: ${model.name} does not end in a '${LOGITS_LAYER}' layer`);
  let h = x;
  for (const layer of layers.slice(0, -1)) h = layer.apply(h, { training: true }) as tf.Tensor;
  if (h.rank !== 2) throw new Error(`s4l: ${model.name}'s features have rank ${h.rank}, not 2`);
  return h as tf.Tensor2D;
}

async function rotationTraining(ctx: AttackerTrainingContext): Promise<AttackerTraining> {
  const tfjs = await import('@tensorflow/tfjs');
  const { toModelInput } = await import('../data/convert.js');
  const { weightInit, biasInit } = await import('../models/init.js');
  const { softCrossEntropy } = await import('../train/loop.js');
  const { model, input, pool } = ctx;
  // Refused before the query stage (needsUnlabelledPool); a library caller without a pool lands here.
  if (!pool) throw new UsageError('--adapt s4l needs the attack\'s query pool (knockoff, knockoff-adaptive)');
  if (input.height !== input.width) throw new UsageError(`--adapt s4l rotates images by 90°: the victim's ${input.height}×${input.width} input is not square`);
  const w = rotationWeightOf(ctx.settings);
  const batchSize = ctx.training.batchSize;
  const featureShape = model.layers[model.layers.length - 2]?.outputShape;
  const d = Array.isArray(featureShape) ? featureShape[featureShape.length - 1] : undefined;
  if (typeof d !== 'number') throw new Error(`s4l: cannot tell ${model.name}'s feature size`);
  // PyTorch's Linear initialisation, as every model of the zoo (src/models/init.ts).
  const headRng = ctx.rng.fork('s4l-head');
  const variable = (init: tf.Tensor): tf.Variable => {
    // A variable shares its initial value's data; the initial tensor itself is ours to dispose.
    const v = tfjs.variable(init, true);
    init.dispose();
    return v;
  };
  const kernel = variable(weightInit(headRng).apply([d, ROTATIONS]));
  const bias = variable(biasInit(headRng, d).apply([ROTATIONS]));
  // The pool's order, a fresh permutation each epoch (a shuffled loader), from its own stream.
  const orderRng = ctx.rng.fork('s4l-unlabelled');
  let order: Int32Array | null = null;
  return {
    variables: [kernel, bias],
    batchesPerEpoch: (labelled) => Math.min(labelled, Math.ceil(pool.count / batchSize)),
    beginEpoch() {
      order = orderRng.permutation(pool.count);
    },
    loss({ batch }) {
      if (!order) throw new Error('s4l: a step before its epoch began');
      const indices = order.subarray(batch * batchSize, Math.min(pool.count, (batch + 1) * batchSize));
      const n = indices.length;
      const u = toModelInput(pool, indices, input);
      // k-major: the n images unrotated, then all turned once, twice, three times.
      const rotated = tfjs.concat([0, 1, 2, 3].map((k) => rot90(u, k)));
      const logits = tfjs.add<tf.Tensor2D>(tfjs.matMul(penultimate(model, rotated), kernel), bias);
      const labels = tfjs.oneHot(tfjs.tensor1d(Int32Array.from({ length: ROTATIONS * n }, (_, i) => Math.floor(i / n)), 'int32'), ROTATIONS).toFloat() as tf.Tensor2D;
      return tfjs.mul(w, softCrossEntropy(logits, labels));
    },
    dispose() {
      kernel.dispose();
      bias.dispose();
    },
  };
}
