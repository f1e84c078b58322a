/**
 * The round structure shared by JBDA, JB-self, JB-top-k and JBDA-TR (Papernot et al. 2017; PRADA; ModelGuard):
 *   D ← seed set (queried); for ρ = 0, 1, …: train a fresh substitute on D, pick the images to
 *   augment (all of D, or a random κ once ρ ≥ σ), let the attack's step make and query new
 *   points from them with λ_ρ = λ·(−1)^round(ρ/τ), append; stop exactly at the budget.
 * Each attack supplies only its augmentation step. Every random draw comes from a stream named
 * after its round, so the first B queries never depend on the budget.
 */
import * as tf from '@tensorflow/tfjs';
import { toModelInput } from '../data/convert.js';
import { UsageError } from '../errors.js';
import type { Rng } from '../util/rng.js';
import { trainClassifier, type TrainSettings } from '../train/loop.js';
import { seedSetShortfall, type AttackName, type JacobianSettings } from './names.js';
import { imageSize, pixelSpec, RowStore } from './pixels.js';
import { argmaxRow, transferBatchSource, type TransferSet } from './transfer-set.js';
import type { AttackContext, AttackSources } from './types.js';

/** D: pixels and released answers, row i of each belonging together. */
class JacobianData {
  readonly pixels: RowStore;
  readonly released: RowStore;

  constructor(readonly ctx: AttackContext) {
    this.pixels = new RowStore(imageSize(ctx.input), ctx.budget);
    this.released = new RowStore(ctx.numClasses, ctx.budget);
  }

  get count(): number {
    return this.pixels.count;
  }

  /** Pixel tensor of rows `indices`. Caller disposes. */
  pixelTensor(indices: ArrayLike<number>): tf.Tensor4D {
    const { height, width, channels } = this.ctx.input;
    return tf.tensor4d(this.pixels.gather(indices), [indices.length, height, width, channels]);
  }

  /** argmax ỹ of rows `indices`: the label the Jacobian steps move away from. */
  labels(indices: ArrayLike<number>): Int32Array {
    const out = new Int32Array(indices.length);
    const K = this.ctx.numClasses;
    for (let j = 0; j < indices.length; j++) out[j] = argmaxRow(this.released.row(indices[j]!), 0, K);
    return out;
  }

  /** Query the black box with these pixel images and append them with their answers to D. */
  async queryAndAppend(pixels: tf.Tensor4D): Promise<void> {
    const released = await this.ctx.oracle.query({ pixels });
    this.pixels.append((await pixels.data()) as Float32Array);
    this.released.append(released);
    this.ctx.reporter?.queried?.(this.ctx.oracle.queriesUsed, this.ctx.budget);
  }

  toTransferSet(attack: AttackName): TransferSet {
    return {
      attack,
      count: this.count,
      numClasses: this.ctx.numClasses,
      input: this.ctx.input,
      images: { kind: 'pixels', pixels: this.pixels.toArray() },
      released: this.released.toArray(),
    };
  }
}

export interface AugmentStep {
  ctx: AttackContext;
  settings: JacobianSettings;
  data: JacobianData;
  substitute: tf.LayersModel;
  /** Rows of D (as they were when the round began) to augment, in ascending order. */
  selected: Int32Array;
  /** λ_ρ, signed. */
  lambda: number;
  /** Queries left: the step must send at most this many. */
  remaining: number;
  /** The round's own stream for the step's random draws (forked after the others, so it shifts none). */
  rng: Rng;
}

/** Make new points from `selected`, query them (≤ remaining) and append them to D. */
type Augmentation = (step: AugmentStep) => Promise<void>;

/** Python's round(): halves go to the even neighbour (the reference computes λ's sign with it). */
export function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

export function roundLambda(lambda: number, round: number, tau: number): number {
  return roundHalfEven(round / tau) % 2 === 0 ? lambda : -lambda;
}

function roundTrainSettings(settings: JacobianSettings, batchSize: number): TrainSettings {
  // The reference's per-round training never decays the rate within its 20 epochs.
  return {
    epochs: settings.roundEpochs,
    lr: settings.roundLr,
    momentum: settings.roundMomentum,
    batchSize,
    lrStep: Number.MAX_SAFE_INTEGER,
    weightDecay: 0,
  };
}

export async function runJacobianAttack(
  attack: AttackName,
  ctx: AttackContext,
  sources: AttackSources,
  augment: Augmentation,
): Promise<TransferSet> {
  const settings = sources.jacobian;
  const seedPool = sources.seedPool;
  if (!seedPool) throw new UsageError(`${attack} needs the victim dataset's train split for its seed set`);
  const shortfall = seedSetShortfall(ctx.budget, settings.seedSize);
  if (shortfall !== null) throw new UsageError(shortfall);
  if (settings.seedSize > seedPool.count) {
    throw new UsageError(`--seed-size ${settings.seedSize} is larger than the victim's train split (${seedPool.count} images)`);
  }
  const data = new JacobianData(ctx);
  const seedIndices = ctx.rng.fork('seed-set').sampleWithoutReplacement(seedPool.count, settings.seedSize);
  const asPixels = pixelSpec(ctx.input);
  for (let start = 0; start < seedIndices.length; start += ctx.queryBatchSize) {
    const pixels = toModelInput(seedPool, seedIndices.subarray(start, start + ctx.queryBatchSize), asPixels);
    try {
      await data.queryAndAppend(pixels);
    } finally {
      pixels.dispose();
    }
  }
  const trainSettings = roundTrainSettings(settings, ctx.substituteBatchSize);
  for (let round = 0; ctx.oracle.queriesUsed < ctx.budget; round++) {
    const roundRng: Rng = ctx.rng.fork(`round-${round}`);
    const substitute = ctx.buildSubstitute(roundRng.fork('init'));
    try {
      ctx.reporter?.roundStart?.(round, data.count, trainSettings);
      const view = data.toTransferSet(attack);
      await trainClassifier(substitute, transferBatchSource(view, view.count, ctx.labelMode), trainSettings, roundRng.fork('shuffle'), {
        onBatchEnd: (r) => ctx.reporter?.roundEpoch?.(round, r.epoch, r.batch, r.batches, r.loss),
      });
      const selected = selectForAugmentation(data.count, round, settings, roundRng.fork('reservoir'));
      const before = ctx.oracle.queriesUsed;
      await augment({
        ctx,
        settings,
        data,
        substitute,
        selected,
        lambda: roundLambda(settings.lambda, round, settings.tau),
        remaining: ctx.budget - before,
        rng: roundRng.fork('augment'),
      });
      if (ctx.oracle.queriesUsed === before) throw new Error(`${attack} round ${round} sent no query`);
    } finally {
      substitute.dispose();
    }
  }
  if (ctx.oracle.queriesUsed !== ctx.budget || data.count !== ctx.budget) {
    throw new Error(`${attack} sent ${ctx.oracle.queriesUsed} queries and kept ${data.count}, budget ${ctx.budget}`);
  }
  return data.toTransferSet(attack);
}

/** All of D, or κ of its rows drawn without replacement once ρ ≥ σ; ascending either way. */
function selectForAugmentation(count: number, round: number, settings: JacobianSettings, rng: Rng): Int32Array {
  if (settings.kappa === null || round < settings.sigma || count <= settings.kappa) {
    const all = new Int32Array(count);
    for (let i = 0; i < count; i++) all[i] = i;
    return all;
  }
  return rng.sampleWithoutReplacement(count, settings.kappa).sort();
}
