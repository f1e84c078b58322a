/**
 * The restorer's TensorFlow.js part (restorer.ts declares it): shadow models for the `shadow`
 * prior, the detector, and the restorer network R with its training.
 *
 * R: Linear(K,h₁)→BN→LeakyReLU(0.2)→Linear(h₁,h₂)→BN→LeakyReLU(0.2)→Linear(h₂,K)→softmax, with
 * (h₁,h₂) = (128,64) up to K = 10, (512,256) to 43, (1024,512) to 100, (2048,1024) above;
 * loss K·mean|R(v) − u| (the per-row L1); SGD lr 0.01, momentum 0.9, weight decay 1e-4; batch
 * 1024; the learning rate halved after half the epochs. Applied in eval mode (batch-norm running
 * statistics), once per answer batch.
 */
import * as tf from '@tensorflow/tfjs';
import { UsageError } from '../errors.js';
import { toModelInput } from '../data/convert.js';
import { biasInit, weightInit } from '../models/init.js';
import { trainClassifier, type BatchSource, type TrainSettings } from '../train/loop.js';
import { cleanRows } from '../attack-run/posteriors.js';
import type { QueryBatch, QueryOracle } from '../attacks/types.js';
import type { Rng } from '../util/rng.js';
import { drawDirichlet } from './dirichlet.js';
import type { RestorerPrior } from './restorer.js';
import type { AdaptationContext, AdaptedOracle, StandInDefense } from './types.js';

/**
 * How each shadow trains: plain SGD on the one-hot labels of the in-domain sample, no schedule
 * (a few epochs on ~1200 images: enough for shadows whose outputs look like a trained model's).
 */
const SHADOW_TRAINING: Omit<TrainSettings, 'epochs'> = { lr: 0.01, momentum: 0.9, batchSize: 64, lrStep: Number.MAX_SAFE_INTEGER, weightDecay: 5e-4 };

/** R's training (MG's D-DAE recipe). */
const RESTORER_LR = 0.01;
const RESTORER_MOMENTUM = 0.9;
const RESTORER_WEIGHT_DECAY = 1e-4;
const RESTORER_BATCH = 1024;

/** The shadow prior's table: S × n rows u, shadow s's softmax outputs on the n in-domain images. */
export async function shadowTable(ctx: AdaptationContext, shadows: number, fraction: number, epochs: number): Promise<Float32Array> {
  if (!ctx.inDomainSample || !ctx.victimArchitecture) {
    throw new UsageError('--restorer-prior shadow needs the victim\'s training split and architecture, which this run does not give: use --restorer-prior answer');
  }
  const rng = ctx.rng.fork('shadows');
  const sample = await ctx.inDomainSample(fraction, rng.fork('in-domain'));
  const K = ctx.numClasses;
  const n = sample.count;
  const source: BatchSource = {
    count: n,
    batch: (indices) => ({
      x: toModelInput(sample, indices, ctx.input),
      y: tf.tidy(() => tf.oneHot(tf.tensor1d(Int32Array.from(indices, (i) => sample.labels[i]!), 'int32'), K).toFloat() as tf.Tensor2D),
    }),
  };
  const table = new Float32Array(shadows * n * K);
  for (let s = 0; s < shadows; s++) {
    // Each shadow its own initialisation and shuffle, from the adaptation's stream.
    const model = ctx.victimArchitecture(rng.fork(`shadow-${s}-init`));
    try {
      await trainClassifier(model, source, { ...SHADOW_TRAINING, epochs }, rng.fork(`shadow-${s}-shuffle`));
      table.set(await cleanRows(model, sample, n, ctx.input), s * n * K);
    } finally {
      model.dispose();
    }
  }
  return table;
}

function hiddenSizes(K: number): [number, number] {
  if (K <= 10) return [128, 64];
  if (K <= 43) return [512, 256];
  if (K <= 100) return [1024, 512];
  return [2048, 1024];
}

/**
 * R as plain variables and ops rather than tf.layers: tfjs's batch-norm layer's gradient (tiles and
 * batched matmuls) made a training step several times slower on wasm than the normalisation written out.
 */
class RestorerNet {
  private readonly dense: { w: tf.Variable; b: tf.Variable }[];
  /** Per hidden layer: scale and shift (trained), running mean and variance (eval mode). */
  private readonly norms: { gamma: tf.Variable; beta: tf.Variable; mean: tf.Variable; variance: tf.Variable }[];
  readonly trainable: tf.Variable[];

  constructor(K: number, rng: Rng) {
    const [h1, h2] = hiddenSizes(K);
    const sizes: [number, number][] = [[K, h1], [h1, h2], [h2, K]];
    this.dense = sizes.map(([fanIn, units]) => ({
      w: tf.variable(weightInit(rng).apply([fanIn, units])),
      b: tf.variable(biasInit(rng, fanIn).apply([units])),
    }));
    this.norms = [h1, h2].map((units) => ({
      gamma: tf.variable(tf.ones([units])),
      beta: tf.variable(tf.zeros([units])),
      mean: tf.variable(tf.zeros([units]), false),
      variance: tf.variable(tf.ones([units]), false),
    }));
    this.trainable = [...this.dense.flatMap((d) => [d.w, d.b]), ...this.norms.flatMap((n) => [n.gamma, n.beta])];
  }

  /**
   * softmax(R(v)). Training: batch statistics, and each hidden layer's (mean, unbiased variance)
   * pushed to `batchStats` (kept: the caller folds them into the running ones and disposes them).
   */
  apply(v: tf.Tensor2D, batchStats: tf.Tensor1D[] | null): tf.Tensor2D {
    let h: tf.Tensor2D = v;
    for (let layer = 0; layer < 3; layer++) {
      const { w, b } = this.dense[layer]!;
      h = tf.add(tf.matMul(h, w), b);
      const norm = this.norms[layer];
      if (!norm) break;
      let mean: tf.Tensor1D;
      let variance: tf.Tensor1D;
      if (batchStats) {
        // Column means as a product with a row of 1/n: tf.moments' gradient tiles, ~10× slower on wasm.
        const n = h.shape[0];
        const average = tf.fill([1, n], 1 / n);
        mean = tf.reshape(tf.matMul(average, h), [-1]);
        variance = tf.reshape(tf.matMul(average, tf.square(tf.sub(h, mean))), [-1]);
        batchStats.push(tf.keep(tf.clone(mean)), tf.keep(tf.mul(variance, n / Math.max(1, n - 1))));
      } else {
        mean = norm.mean as tf.Tensor1D;
        variance = norm.variance as tf.Tensor1D;
      }
      // PyTorch's BatchNorm1d (ε = 1e-5), then LeakyReLU(0.2).
      h = tf.leakyRelu(tf.add<tf.Tensor2D>(tf.mul(tf.div(tf.sub(h, mean), tf.sqrt(tf.add(variance, 1e-5))), norm.gamma), norm.beta), 0.2);
    }
    return tf.softmax(h);
  }

  /** Running averages with weight 0.1 on the new batch (PyTorch's momentum 0.1). */
  updateRunning(batchStats: tf.Tensor1D[]): void {
    tf.tidy(() => {
      this.norms.forEach((norm, i) => {
        norm.mean.assign(tf.add(tf.mul(norm.mean, 0.9), tf.mul(batchStats[2 * i]!, 0.1)));
        norm.variance.assign(tf.add(tf.mul(norm.variance, 0.9), tf.mul(batchStats[2 * i + 1]!, 0.1)));
      });
    });
  }

  dispose(): void {
    for (const d of this.dense) tf.dispose([d.w, d.b]);
    for (const n of this.norms) tf.dispose([n.gamma, n.beta, n.mean, n.variance]);
  }
}

/** Mean over answers of the L1 distance to the nearest table row (the detector's statistic). */
function meanNearestL1(answers: Float32Array, table: Float32Array, K: number): number {
  const n = answers.length / K;
  const rows = table.length / K;
  let total = 0;
  for (let i = 0; i < n; i++) {
    let nearest = Infinity;
    for (let r = 0; r < rows; r++) {
      let d = 0;
      for (let k = 0; k < K && d < nearest; k++) d += Math.abs(answers[i * K + k]! - table[r * K + k]!);
      if (d < nearest) nearest = d;
    }
    total += nearest;
  }
  return total / n;
}

interface RestorerOptions {
  prior: RestorerPrior;
  /** The shadow prior's table (null for the others). */
  shadow: Float32Array | null;
  samples: number;
  epochs: number;
  concentration: number;
}

type Decision = 'none' | 'defense' | 'assumed';

/** A growing table of (u, v = D(u)) rows. */
class Table {
  u: Float32Array = new Float32Array(0);
  v: Float32Array = new Float32Array(0);
  append(u: Float32Array, v: Float32Array): void {
    const grow = (a: Float32Array, b: Float32Array): Float32Array => {
      const out = new Float32Array(a.length + b.length);
      out.set(a);
      out.set(b, a.length);
      return out;
    };
    this.u = grow(this.u, u);
    this.v = grow(this.v, v);
  }
}

export class RestorerOracle implements AdaptedOracle {
  private answered = 0;
  private decision: Decision | null = null;
  private distances: { none: number; defense: number } | null = null;
  private readonly table = new Table();
  private model: RestorerNet | null = null;
  private trainings = 0;
  private epochsRun = 0;
  private readonly initRng: Rng;
  private readonly shuffleRng: Rng;

  constructor(
    private readonly blackBox: QueryOracle,
    private readonly standIn: StandInDefense,
    private readonly ctx: AdaptationContext,
    private readonly options: RestorerOptions,
  ) {
    this.initRng = ctx.rng.fork('restorer-init');
    this.shuffleRng = ctx.rng.fork('restorer-shuffle');
  }

  get numClasses(): number {
    return this.blackBox.numClasses;
  }

  get budget(): number {
    return this.blackBox.budget;
  }

  get queriesUsed(): number {
    return this.answered;
  }

  report(): Record<string, unknown> {
    return {
      prior: this.options.prior,
      // none: answers passed unchanged; defense: restored; assumed: the answer prior has no table
      // independent of the answers to detect with, so the defense is assumed present.
      detector: this.decision,
      detectorDistances: this.distances,
      tableRows: this.table.u.length / this.numClasses,
      restorerTrainings: this.trainings,
      restorerEpochs: this.epochsRun,
    };
  }

  dispose(): void {
    this.model?.dispose();
    this.model = null;
  }

  async query(batch: QueryBatch): Promise<Float32Array> {
    const answers = await this.blackBox.query(batch);
    const K = this.numClasses;
    const n = answers.length / K;
    const first = this.answered;
    this.answered += n;
    if (n === 0 || this.decision === 'none') return answers;
    const { prior } = this.options;
    if (prior === 'shadow') {
      if (this.decision === null) {
        const u = this.options.shadow!;
        this.table.append(u, await this.standIn.apply(u));
        this.decide(answers);
        if (this.decision === 'none') return answers;
        // The table does not depend on the answers: R trains once, before the first restored answer.
        await this.train(this.options.epochs);
      }
    } else {
      // Answer and oracle priors: the table grows with every batch (rows around its answers, or
      // their clean posteriors), and R retrains warm on all of it, for a share of the epochs equal
      // to the batch's share of the table: in all, as many steps as one training on the final table.
      const centres = prior === 'oracle' ? this.ctx.cleanAnswers(this.blackBox.queriesUsed - n, n) : answers;
      const N = this.options.samples;
      const u = new Float32Array(n * N * K);
      for (let i = 0; i < n; i++) {
        drawDirichlet(centres.subarray(i * K, (i + 1) * K), this.options.concentration, N, this.ctx.rng.fork(`image-${first + i}`), u, i * N * K);
      }
      const v = await this.standIn.apply(u);
      this.table.append(u, v);
      if (this.decision === null) {
        if (prior === 'oracle') {
          this.decide(answers);
          if (this.decision === 'none') return answers;
        } else {
          this.decision = 'assumed';
        }
      }
      const rows = this.table.u.length / K;
      await this.train(Math.max(1, Math.round((this.options.epochs * n * N) / rows)));
    }
    return this.restore(answers);
  }

  /** Picks the candidate whose simulated answers lie nearer the received ones: none (u) or the stand-in (D(u)). */
  private decide(answers: Float32Array): void {
    const K = this.numClasses;
    const none = meanNearestL1(answers, this.table.u, K);
    const defense = meanNearestL1(answers, this.table.v, K);
    this.distances = { none, defense };
    this.decision = defense < none ? 'defense' : 'none';
  }

  private async train(epochs: number): Promise<void> {
    const K = this.numClasses;
    this.model ??= new RestorerNet(K, this.initRng);
    const model = this.model;
    const rows = this.table.u.length / K;
    const u = tf.tensor2d(this.table.u, [rows, K]);
    const v = tf.tensor2d(this.table.v, [rows, K]);
    const optimizer = tf.train.momentum(RESTORER_LR, RESTORER_MOMENTUM);
    const half = Math.max(1, Math.floor(epochs / 2));
    try {
      for (let epoch = 0; epoch < epochs; epoch++) {
        // StepLR(half the epochs, 0.5).
        optimizer.setLearningRate(RESTORER_LR * Math.pow(0.5, Math.floor(epoch / half)));
        const order = this.shuffleRng.permutation(rows);
        for (let at = 0; at < rows; at += RESTORER_BATCH) {
          const batchStats: tf.Tensor1D[] = [];
          try {
            tf.tidy(() => {
              const picked = tf.tensor1d(order.subarray(at, Math.min(rows, at + RESTORER_BATCH)), 'int32');
              const ub = tf.gather(u, picked);
              const vb = tf.gather(v, picked);
              optimizer.minimize(() => {
                // K·mean|R(v) − u| as a sum over the batch's rows: tf.mean's gradient tiles (slow on wasm).
                const l1 = tf.div(tf.sum(tf.abs(tf.sub(model.apply(vb, batchStats), ub))), vb.shape[0]);
                // PyTorch's SGD weight_decay: gradient + wd·w, i.e. loss + wd/2·‖w‖².
                return tf.add<tf.Scalar>(l1, tf.mul(RESTORER_WEIGHT_DECAY / 2, tf.addN(model.trainable.map((w) => tf.sum(tf.square(w))))));
              }, false, model.trainable);
            });
            model.updateRunning(batchStats);
          } finally {
            tf.dispose(batchStats);
          }
        }
        // Yield between epochs: a long training does not starve the event loop.
        await new Promise((resolve) => setImmediate(resolve));
      }
    } finally {
      u.dispose();
      v.dispose();
      optimizer.dispose();
      // tfjs 4.22's MomentumOptimizer.dispose() forgets its learning-rate scalar (see train/loop.ts).
      (optimizer as unknown as { c?: tf.Tensor }).c?.dispose();
    }
    this.trainings++;
    this.epochsRun += epochs;
  }

  /** R(ỹ) in eval mode (batch-norm running statistics), one pass over the batch. */
  private async restore(answers: Float32Array): Promise<Float32Array> {
    const K = this.numClasses;
    const model = this.model!;
    const out = tf.tidy(() => model.apply(tf.tensor2d(answers, [answers.length / K, K]), null));
    try {
      return (await out.data()) as Float32Array;
    } finally {
      out.dispose();
    }
  }
}
