/**
 * The misinformation model f̂ of adaptive misinformation (Kariyappa & Qureshi 2021; SPEC-EXTENSIONS §2):
 * the victim's architecture trained on the victim's in-distribution training data to put as
 * little mass as it can on the true class, with the loss
 *   L = −mean_i log(1 − ŷ_{i,c_i} + 1e-7),  ŷ = softmax(f̂(x)).
 * (The authors' CE(log(1 − softmax + 1e-7), c) is this plus the constant log(K − 1).)
 * Recipe: G2's (in-distribution data only; SGD 0.1 Nesterov 0.9, weight decay 5e-4, cosine), for
 * as many epochs as the victim trained, on the same number of training images, in its batch size:
 * f̂ sees what the victim saw. Seeded; written atomically as a normal model directory.
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { stringify } from 'csv-stringify/sync';
import { UsageError } from '../errors.js';
import { engineInfo, initEngine, type BackendName, type EngineInfo } from '../engine/backend.js';
import { loadImageSet } from '../data/load.js';
import { toModelInput } from '../data/convert.js';
import { buildModel } from '../models/registry.js';
import { readParams, saveModel, type ModelParams } from '../models/io.js';
import { PARAMS_FILE } from '../models/files.js';
import { accuracyOf, cosineLearningRate, trainClassifier, type EpochReport, type TrainSettings } from './loop.js';
import { imageSetSource, TRAIN_LOG_FILE } from './victim.js';
import { G2_OPTIMISER } from './artifacts.js';
import { Rng } from '../util/rng.js';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';
import { reserveOutputDir } from '../util/outdir.js';
import { provenance } from '../util/provenance.js';

/** Added inside the log, as the reference does, so a true-class probability of 1 costs log(1e-7), not log(0). */
const LOG_FLOOR = 1e-7;

/** L = −mean log(1 − ŷ_c + 1e-7), c = the one-hot target's class. */
export function misinformationLoss(logits: tf.Tensor2D, targets: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const trueProb = tf.sum(tf.mul(tf.softmax(logits), targets), 1);
    return tf.neg(tf.mean(tf.log(tf.add(tf.sub(1, trueProb), LOG_FLOOR)))) as tf.Scalar;
  });
}

/** f̂'s training settings for a victim: G2's optimiser, the victim's epochs, batch size and data size. */
export function misinformationDefaults(victim: ModelParams): { settings: TrainSettings; limit: number | null } {
  const config = (victim.config ?? {}) as { epochs?: number; batchSize?: number; limit?: number | null };
  const epochs = config.epochs ?? 50;
  return {
    settings: { epochs, batchSize: config.batchSize ?? 128, ...G2_OPTIMISER, lrStep: epochs },
    limit: config.limit ?? null,
  };
}

interface MisinformationSpec {
  victimDir: string;
  out: string;
  force: boolean;
  seed: number;
  /** lrStep is not used: the schedule is cosine over `epochs`. */
  settings: TrainSettings;
  /** Train on the first N training images (null: all). */
  limit: number | null;
  dataDir?: string;
  /** Initialise this backend; absent: keep the one already running, else the fastest that loads. */
  backend?: BackendName;
  /** One line per epoch. */
  report?: (line: string) => void;
}

interface MisinformationResult {
  out: string;
  /** Top-1 accuracy of f̂ on the victim's test split: should be far below 1/K. */
  testAccuracy: number;
  epochs: EpochReport[];
  seconds: number;
}

async function engineFor(backend: BackendName | undefined): Promise<EngineInfo> {
  if (backend) return initEngine({ backend });
  try {
    return engineInfo();
  } catch {
    return initEngine();
  }
}

export async function trainMisinformation(spec: MisinformationSpec): Promise<MisinformationResult> {
  const startedAt = new Date();
  const victim = await readParams(spec.victimDir);
  // Claimed before any work: an unusable --out fails now, and nothing half-written is ever left.
  const output = await reserveOutputDir(spec.out, spec.force);
  const engine = await engineFor(spec.backend);
  const train = await loadImageSet(victim.dataset, 'train', { dataDir: spec.dataDir, ...(spec.limit === null ? {} : { limit: spec.limit }) });
  const test = await loadImageSet(victim.dataset, 'test', { dataDir: spec.dataDir });
  if (train.numClasses !== victim.numClasses) {
    throw new UsageError(`${spec.victimDir}: the victim has ${victim.numClasses} classes, ${victim.dataset} has ${train.numClasses}`);
  }
  const input = victim.input;
  const rng = new Rng(spec.seed).fork('misinformation');
  const model = buildModel(victim.arch, {
    inputShape: [input.height, input.width, input.channels],
    numClasses: victim.numClasses,
    rng: rng.fork('init'),
  });
  try {
    const started = performance.now();
    const log: (string | number)[][] = [];
    const epochs = await trainClassifier(
      model,
      imageSetSource(train, input),
      spec.settings,
      rng.fork('shuffle'),
      {
        onEpochEnd: (r) => {
          log.push([r.epoch, r.loss, r.trainAccuracy, r.seconds, r.lr]);
          spec.report?.(`misinformation model epoch ${r.epoch}/${spec.settings.epochs}: loss ${r.loss.toFixed(4)}, train accuracy ${(100 * r.trainAccuracy).toFixed(2)}%`);
        },
      },
      { loss: misinformationLoss, nesterov: true, learningRate: cosineLearningRate(spec.settings.lr, spec.settings.epochs) },
    );
    const testAccuracy = await accuracyOf(model, test.count, (s, e) => toModelInput(test, { start: s, end: e }, input), test.labels);
    const seconds = (performance.now() - started) / 1000;
    // lrStep does not apply: the schedule is cosine.
    const { epochs: epochCount, lr, momentum, batchSize, weightDecay } = spec.settings;
    const settings = { epochs: epochCount, lr, momentum, batchSize, weightDecay };
    const params: ModelParams = {
      kind: 'misinformation',
      arch: victim.arch,
      dataset: victim.dataset,
      numClasses: victim.numClasses,
      input,
      seed: spec.seed,
      victim: { dir: path.resolve(spec.victimDir), seed: victim.seed },
      config: { ...settings, nesterov: true, schedule: 'cosine', loss: '-log(1 - softmax_c + 1e-7)', limit: spec.limit },
      data: { train: { source: train.source, count: train.count }, test: { source: test.source, count: test.count } },
      metrics: { testAccuracy, trainAccuracy: epochs[epochs.length - 1]?.trainAccuracy ?? null, trainSeconds: seconds },
      provenance: provenance(engine, startedAt),
    };
    await output.commit(async (dir) => {
      await saveModel(model, dir);
      await writeFileAtomic(path.join(dir, TRAIN_LOG_FILE), stringify(log, { header: true, columns: ['epoch', 'loss', 'train_acc', 'seconds', 'lr'] }));
      await writeJsonAtomic(path.join(dir, PARAMS_FILE), params);
    });
    return { out: spec.out, testAccuracy, epochs, seconds };
  } catch (err) {
    await output.abandon().catch(() => undefined);
    throw err;
  } finally {
    model.dispose();
  }
}
