/**
 * Smoothing (ModelGuard's QPI attacker, SPEC-ADAPTIVE.md §1): every image the attack asks about is
 * sent QPI times, each time as a fresh random augmentation of it, and the attack is answered the
 * mean of the QPI defended answers. A perturbation that does not follow the image through a small
 * shift partly averages out. The attacker knows nothing of the defense. Budgets count queries, so
 * an attack with budget B asks about floor(B / QPI) images.
 *
 * Augmentations (poison's decision): MNIST family, a random crop with zero padding 2 and no flip
 * (digits and clothes are not mirror images of themselves); CIFAR family, crop 32 with padding 4
 * and a horizontal flip, the reference's 'train' transform.
 */
import type * as tf from '@tensorflow/tfjs';
import type { Augmentation } from '../data/augmentation.js';
import type { QueryBatch, QueryOracle } from '../attacks/types.js';
import type { Rng } from '../util/rng.js';
import type { AdaptationDefinition, AdaptationSettings } from './types.js';

function qpiOf(settings: AdaptationSettings): number {
  const qpi = settings.qpi;
  if (typeof qpi !== 'number') throw new Error(`smoothing: qpi must be a number, got ${String(qpi)}`);
  return qpi;
}

export const smoothing: AdaptationDefinition = {
  name: 'smoothing',
  summary: 'QPI augmented queries per image, the attack answered their mean',
  params: [
    {
      key: 'qpi',
      flag: '--qpi <n>',
      help: 'black-box queries per image, each a fresh random augmentation; the budget counts queries',
      kind: 'number',
      range: { integer: true, min: 1, max: 64 },
      default: 3,
    },
  ],
  attackerKnows: () => 'nothing',
  queriesPerImage: qpiOf,
  async wrap(blackBox, ctx) {
    const tfjs = await import('@tensorflow/tfjs');
    const { augmentImages } = await import('../data/augmentation.js');
    const augmentation: Augmentation =
      ctx.family === 'cifar'
        ? { randomCrop: { size: ctx.input.height, padding: 4 }, horizontalFlip: true }
        : { randomCrop: { size: ctx.input.height, padding: 2 }, horizontalFlip: false };
    return new SmoothingOracle(blackBox, qpiOf(ctx.settings), ctx.rng, (pixels, rng) => {
      augmentImages(pixels, 1, ctx.input.height, ctx.input.width, ctx.input.channels, augmentation, rng);
    }, (values, shape) => tfjs.tensor4d(values, shape));
  },
};

class SmoothingOracle implements QueryOracle {
  private answered = 0;

  constructor(
    private readonly blackBox: QueryOracle,
    private readonly qpi: number,
    private readonly rng: Rng,
    private readonly augmentOne: (image: Float32Array, rng: Rng) => void,
    private readonly tensor: (values: Float32Array, shape: [number, number, number, number]) => tf.Tensor4D,
  ) {}

  get numClasses(): number {
    return this.blackBox.numClasses;
  }

  /** In images: never more than the black box's query budget allows at QPI queries each. */
  get budget(): number {
    return Math.floor(this.blackBox.budget / this.qpi);
  }

  get queriesUsed(): number {
    return this.answered;
  }

  async query(batch: QueryBatch): Promise<Float32Array> {
    const [n, h, w, c] = batch.pixels.shape;
    if (this.answered + n > this.budget) {
      throw new Error(`smoothing: ${n} more images would pass the budget of ${this.budget} images (${this.qpi} queries each)`);
    }
    const pixels = (await batch.pixels.data()) as Float32Array;
    const size = h * w * c;
    const K = this.numClasses;
    // Each image's views come from its own stream, named by its place in the query phase: a run
    // with a larger budget asks the same views of its first images, whatever the batch sizes.
    const streams = Array.from({ length: n }, (_, i) => this.rng.fork(`image-${this.answered + i}`));
    const sum = new Float64Array(n * K);
    // One pass over the batch per view, as the reference passes over its query set QPI times.
    for (let q = 0; q < this.qpi; q++) {
      const views = pixels.slice();
      for (let i = 0; i < n; i++) this.augmentOne(views.subarray(i * size, (i + 1) * size), streams[i]!);
      const x = this.tensor(views, [n, h, w, c]);
      let answers: Float32Array;
      try {
        answers = await this.blackBox.query({ pixels: x });
      } finally {
        x.dispose();
      }
      for (let j = 0; j < n * K; j++) sum[j] = sum[j]! + answers[j]!;
    }
    this.answered += n;
    return Float32Array.from(sum, (s) => s / this.qpi);
  }
}
