/**
 * The training loop shared by victims and attackers: SGD with momentum, step decay, optional
 * weight decay, soft-label cross-entropy, and the project's own seeded shuffle (tfjs's `fit`
 * shuffles with Math.random). It reports through callbacks and keeps reductions on the backend,
 * reading back only scalars.
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../util/rng.js';
import { installedWebGpuKernels } from '../engine/webgpu-kernels.js';
import { fusedInferenceLogits, planFusedTraining } from '../engine/webgpu-fused/step.js';

/** Where training batches come from: x already normalised for the model, y rows on the simplex. */
export interface BatchSource {
  readonly count: number;
  batch(indices: Int32Array): { x: tf.Tensor4D; y: tf.Tensor2D };
}

export interface TrainSettings {
  epochs: number;
  lr: number;
  momentum: number;
  batchSize: number;
  /** Multiply the learning rate by 0.1 every lrStep epochs. */
  lrStep: number;
  weightDecay: number;
}

interface BatchReport {
  epoch: number;
  batch: number;
  batches: number;
  loss: number;
  /** Training accuracy over the epoch so far. */
  accuracy: number;
  samplesPerSecond: number;
}

export interface EpochReport {
  epoch: number;
  loss: number;
  trainAccuracy: number;
  seconds: number;
  lr: number;
}

/**
 * How a model trains when it is not a plain classifier: the defenses' helper models (the
 * misinformation model, GRAD²'s distilled surrogate) follow their reference recipe, which
 * differs from the paper's victims in loss, momentum kind and schedule.
 */
interface TrainRecipe {
  /** The loss for a batch; default softCrossEntropy (soft labels). */
  loss?: (logits: tf.Tensor2D, targets: tf.Tensor2D) => tf.Scalar;
  nesterov?: boolean;
  /** The learning rate of epoch e (1-based); default: settings.lr ×0.1 every settings.lrStep epochs. */
  learningRate?: (epoch: number) => number;
  /** A second objective trained beside the classifier's (an adaptation's, e.g. S4L's rotations). */
  extension?: TrainingExtension;
}

/**
 * An objective added to a classifier's training, with variables of its own (S4L's rotation head
 * on the model's features): the optimiser steps the model's and its variables on
 * loss(batch) + extension.loss(step), weight decay covering both. Its own data (an unlabelled
 * pool) may end an epoch early. On webgpu it turns the fused step off (autodiff needs the term).
 */
export interface TrainingExtension {
  /** Trained with the model's weights; the caller keeps and disposes them. */
  readonly variables: readonly tf.Variable[];
  /** Steps in an epoch of `labelled` labelled batches (never more). */
  batchesPerEpoch(labelled: number): number;
  /** Called before each epoch's first step (its own data order). */
  beginEpoch?(epoch: number): void;
  /**
   * The extra term of one step, inside the optimiser's closure (gradients flow through it) and a
   * tidy: the step's labelled batch and the model's logits on it, for a term that needs them.
   */
  loss(step: { epoch: number; batch: number; x: tf.Tensor4D; y: tf.Tensor2D; logits: tf.Tensor2D }): tf.Scalar;
}

/** Cosine annealing per epoch over `period` epochs (PyTorch's CosineAnnealingLR with T_max = period, η_min = 0). */
export function cosineLearningRate(lr: number, period: number): (epoch: number) => number {
  return (epoch) => 0.5 * lr * (1 + Math.cos((Math.PI * (epoch - 1)) / period));
}

interface TrainCallbacks {
  onBatchEnd?: (r: BatchReport) => void;
  /** May evaluate the model and log; awaited before the next epoch starts. */
  onEpochEnd?: (r: EpochReport) => void | Promise<void>;
}

/** L = −mean_i Σ_k y_ik log softmax(logits)_ik */
export function softCrossEntropy(logits: tf.Tensor2D, targets: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => tf.neg(tf.mean(tf.sum(tf.mul(targets, tf.logSoftmax(logits)), 1))) as tf.Scalar);
}

export async function trainClassifier(
  model: tf.LayersModel,
  data: BatchSource,
  settings: TrainSettings,
  rng: Rng,
  callbacks: TrainCallbacks = {},
  recipe: TrainRecipe = {},
): Promise<EpochReport[]> {
  const optimizer = tf.train.momentum(settings.lr, settings.momentum, recipe.nesterov === true);
  const lossOf = recipe.loss ?? softCrossEntropy;
  const extension = recipe.extension;
  const weights = [...model.trainableWeights.map((w) => w.read() as tf.Variable), ...(extension?.variables ?? [])];
  // On webgpu with the project's kernels, the same step as fused kernels (a few dispatches per
  // layer instead of autodiff's dozens): the default loss only; other backends never take it.
  const fused =
    recipe.loss === undefined && extension === undefined && installedWebGpuKernels() === 'im2col'
      ? planFusedTraining(model, { momentum: settings.momentum, nesterov: recipe.nesterov === true, weightDecay: settings.weightDecay })
      : null;
  const reports: EpochReport[] = [];
  try {
    for (let epoch = 1; epoch <= settings.epochs; epoch++) {
      const lr = recipe.learningRate ? recipe.learningRate(epoch) : settings.lr * Math.pow(0.1, Math.floor((epoch - 1) / settings.lrStep));
      optimizer.setLearningRate(lr);
      const order = rng.permutation(data.count);
      const labelledBatches = Math.ceil(data.count / settings.batchSize);
      const batches = extension ? Math.min(labelledBatches, extension.batchesPerEpoch(labelledBatches)) : labelledBatches;
      // Labelled rows the epoch trains on: all of them, unless an extension ends it early.
      const samples = Math.min(data.count, batches * settings.batchSize);
      extension?.beginEpoch?.(epoch);
      let lossSum = 0;
      let correctTotal = 0;
      const started = performance.now();
      // Each step's loss and correct count are read asynchronously (synchronous reads throw on
      // webgpu in Node), one step late: the read of step b waits while step b + 1 is already
      // queued, so a GPU never idles on the read-back. On wasm the order of work is the same.
      let pending: { stats: tf.Tensor1D; batch: number } | null = null;
      const settle = async (p: { stats: tf.Tensor1D; batch: number }): Promise<void> => {
        const read = await p.stats.data();
        p.stats.dispose();
        const batchLoss = read[0]!;
        const seen = Math.min(data.count, (p.batch + 1) * settings.batchSize);
        lossSum += batchLoss * (seen - p.batch * settings.batchSize);
        correctTotal += read[1]!;
        callbacks.onBatchEnd?.({
          epoch,
          batch: p.batch + 1,
          batches,
          loss: batchLoss,
          accuracy: correctTotal / seen,
          samplesPerSecond: seen / ((performance.now() - started) / 1000),
        });
      };
      try {
        for (let b = 0; b < batches; b++) {
          const indices = order.subarray(b * settings.batchSize, Math.min(data.count, (b + 1) * settings.batchSize));
          const stats = tf.tidy(() => {
            const { x, y } = data.batch(indices);
            if (fused) return fused.step(x, y, lr);
            let correctCount: tf.Scalar | undefined;
            const cost = optimizer.minimize(() => {
              const logits = model.apply(x, { training: true }) as tf.Tensor2D;
              correctCount = tf.keep(tf.sum<tf.Scalar>(tf.cast(tf.equal(tf.argMax(logits, 1), tf.argMax(y, 1)), 'float32')));
              let l: tf.Scalar = lossOf(logits, y);
              if (extension) l = tf.add<tf.Scalar>(l, extension.loss({ epoch, batch: b, x, y, logits }));
              if (settings.weightDecay > 0) {
                // Same as PyTorch's SGD weight_decay: gradient + wd·w, i.e. loss + wd/2·‖w‖².
                l = tf.add<tf.Scalar>(l, tf.mul(settings.weightDecay / 2, tf.addN(weights.map((w) => tf.sum(tf.square(w))))));
              }
              return l;
            }, true);
            const both = tf.stack<tf.Scalar>([cost!, correctCount!]) as tf.Tensor1D;
            correctCount!.dispose();
            return both;
          });
          const previous = pending;
          pending = { stats, batch: b };
          if (previous) await settle(previous);
        }
        const last = pending;
        pending = null;
        if (last) await settle(last);
      } finally {
        pending?.stats.dispose();
      }
      const report: EpochReport = {
        epoch,
        loss: lossSum / samples,
        trainAccuracy: correctTotal / samples,
        seconds: (performance.now() - started) / 1000,
        lr,
      };
      reports.push(report);
      await callbacks.onEpochEnd?.(report);
    }
  } finally {
    fused?.dispose();
    optimizer.dispose();
    // tfjs 4.22's MomentumOptimizer.dispose() forgets the learning-rate scalar its SGD parent
    // keeps in `c`: one leaked tensor per training run without this.
    (optimizer as unknown as { c?: tf.Tensor }).c?.dispose();
  }
  return reports;
}

/**
 * Fraction of rows whose argmax equals the label; the count is reduced on the backend and
 * accumulated there, so the whole set costs one (asynchronous) read.
 */
export async function accuracyOf(
  model: tf.LayersModel,
  count: number,
  inputs: (start: number, end: number) => tf.Tensor4D,
  labels: Int32Array,
  batchSize = 256,
): Promise<number> {
  let correct: tf.Scalar = tf.scalar(0, 'int32');
  for (let start = 0; start < count; start += batchSize) {
    const end = Math.min(count, start + batchSize);
    const next = tf.tidy(() => {
      const x = inputs(start, end);
      const logits = fusedInferenceLogits(model, x) ?? (model.predict(x) as tf.Tensor2D);
      const truth = tf.tensor1d(labels.subarray(start, end), 'int32');
      return tf.add<tf.Scalar>(correct, tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), truth), 'int32')));
    });
    correct.dispose();
    correct = next;
  }
  const total = (await correct.data())[0]!;
  correct.dispose();
  return total / count;
}
