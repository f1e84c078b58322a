/**
 * `poison train`: a victim classifier on a real dataset, saved with its provenance.
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { stringify } from 'csv-stringify/sync';
import { UsageError } from '../errors.js';
import { initEngine, type BackendName } from '../engine/backend.js';
import { loadImageSet } from '../data/index.js';
import { toModelInput, type BatchIndices } from '../data/convert.js';
import { augmentImages, describeAugmentation, type Augmentation } from '../data/augmentation.js';
import { datasetInfo } from '../data/catalog.js';
import type { DatasetName, ImageSet, InputSpec } from '../data/types.js';
import { buildModel } from '../models/registry.js';
import type { ArchName } from '../models/types.js';
import { saveModel, type ModelParams } from '../models/io.js';
import { PARAMS_FILE } from '../models/files.js';
import { accuracyOf, trainClassifier, type BatchSource, type EpochReport, type TrainSettings } from './loop.js';
import { Rng } from '../util/rng.js';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';
import { reserveOutputDir } from '../util/outdir.js';
import { provenance } from '../util/provenance.js';
import { planLine, RunClock, startProgress } from '../util/progress.js';

export interface TrainVictimSpec extends TrainSettings {
  dataset: DatasetName;
  arch: ArchName;
  seed: number;
  out: string;
  force: boolean;
  limit?: number;
  dataDir?: string;
  backend?: BackendName;
  quiet?: boolean;
}

interface TrainVictimResult {
  out: string;
  testAccuracy: number;
  epochs: EpochReport[];
  seconds: number;
}

export const TRAIN_LOG_FILE = 'train-log.csv';

/** Batches of an ImageSet for a model: normalised inputs and one-hot targets. */
export function imageSetSource(set: ImageSet, spec: InputSpec, augment?: { augmentation: Augmentation; rng: Rng }): BatchSource {
  const size = set.height * set.width * set.channels;
  return {
    count: set.count,
    batch(indices) {
      let images: ImageSet = set;
      let picked: BatchIndices = indices;
      if (augment) {
        // Augment copies of the stored bytes (draws in batch order), then convert as usual.
        const bytes = new Uint8Array(indices.length * size);
        for (let k = 0; k < indices.length; k++) bytes.set(set.pixels.subarray(indices[k]! * size, (indices[k]! + 1) * size), k * size);
        augmentImages(bytes, indices.length, set.height, set.width, set.channels, augment.augmentation, augment.rng);
        images = { ...set, pixels: bytes, count: indices.length };
        picked = { start: 0, end: indices.length };
      }
      return tf.tidy(() => {
        const x = toModelInput(images, picked, spec);
        const labels = new Int32Array(indices.length);
        for (let i = 0; i < indices.length; i++) labels[i] = set.labels[indices[i]!]!;
        const y = tf.oneHot(tf.tensor1d(labels, 'int32'), set.numClasses).toFloat() as tf.Tensor2D;
        return { x, y };
      });
    },
  };
}

/** The input a model trained on this dataset takes: its own shape and its family's normalisation. */
export function victimInputSpec(dataset: DatasetName): InputSpec {
  const info = datasetInfo(dataset);
  return { height: info.height, width: info.width, channels: info.channels, ...info.normalisation };
}

export async function trainVictim(spec: TrainVictimSpec): Promise<TrainVictimResult> {
  const startedAt = new Date();
  // Claimed before any work: an unusable --out fails now, and the exit hook removes the claim if training fails.
  const output = await reserveOutputDir(spec.out, spec.force);
  const engine = await initEngine(spec.backend ? { backend: spec.backend } : {});
  const train = await loadImageSet(spec.dataset, 'train', { dataDir: spec.dataDir, limit: spec.limit });
  const test = await loadImageSet(spec.dataset, 'test', { dataDir: spec.dataDir });
  const input = victimInputSpec(spec.dataset);
  const rng = new Rng(spec.seed);
  let model: tf.LayersModel;
  try {
    model = buildModel(spec.arch, {
      inputShape: [input.height, input.width, input.channels],
      numClasses: train.numClasses,
      rng: rng.fork('init'),
    });
  } catch (err) {
    throw new UsageError(`--arch ${spec.arch} cannot take ${spec.dataset} images: ${(err as Error).message}`);
  }
  const shuffle = rng.fork('shuffle');
  // The reference's training transform for the dataset's family (CIFAR: crop + flip; MNIST: none).
  const augmentation = datasetInfo(spec.dataset).trainingAugmentation;
  const augmentRng = rng.fork('augment');
  const testInputs = (start: number, end: number): tf.Tensor4D => toModelInput(test, { start, end }, input);
  const log: (string | number)[][] = [];
  const batches = Math.ceil(train.count / spec.batchSize);
  const started = performance.now();
  if (!spec.quiet) {
    process.stderr.write(
      `${planLine('train', `${spec.arch} on ${spec.dataset}`, [`${spec.epochs} epoch${spec.epochs === 1 ? '' : 's'} × ${train.count} images (${spec.epochs * batches} batches of ${spec.batchSize})`, `${test.count} test images after each epoch`], engine.backend)}\n`,
    );
  }
  // The whole run, in batches: every epoch's bar shows it beside the epoch's own ETA.
  const run = new RunClock(spec.epochs * batches);
  const epochBar = (epoch: number) => startProgress({ label: `epoch ${epoch}/${spec.epochs}`, total: batches, fields: ['loss', 'acc', 'samples/s'], quiet: spec.quiet, run });
  let bar = epochBar(1);
  let testAccuracy = NaN;
  const epochs = await trainClassifier(model, imageSetSource(train, input, augmentation ? { augmentation, rng: augmentRng } : undefined), spec, shuffle, {
    onBatchEnd: (r) => {
      run.done = (r.epoch - 1) * batches + r.batch;
      if (r.batch % 5 === 0 || r.batch === r.batches) {
        bar.update(r.batch, {
          loss: r.loss.toFixed(4),
          acc: `${(100 * r.accuracy).toFixed(1)}%`,
          'samples/s': r.samplesPerSecond.toFixed(0),
        });
      }
    },
    onEpochEnd: async (r) => {
      bar.stop();
      testAccuracy = await accuracyOf(model, test.count, testInputs, test.labels);
      log.push([r.epoch, r.loss, r.trainAccuracy, testAccuracy, r.seconds, r.lr]);
      if (!spec.quiet) {
        process.stderr.write(
          `epoch ${r.epoch}/${spec.epochs}: loss ${r.loss.toFixed(4)} train acc ${(100 * r.trainAccuracy).toFixed(2)}% test acc ${(100 * testAccuracy).toFixed(2)}% (${r.seconds.toFixed(1)} s)\n`,
        );
      }
      if (r.epoch < spec.epochs) {
        bar = epochBar(r.epoch + 1);
      }
    },
  });
  const seconds = (performance.now() - started) / 1000;
  const last = epochs[epochs.length - 1];
  const params: ModelParams = {
    kind: 'victim',
    arch: spec.arch,
    dataset: spec.dataset,
    numClasses: train.numClasses,
    input,
    seed: spec.seed,
    config: {
      epochs: spec.epochs,
      lr: spec.lr,
      momentum: spec.momentum,
      batchSize: spec.batchSize,
      lrStep: spec.lrStep,
      weightDecay: spec.weightDecay,
      limit: spec.limit ?? null,
      augmentation,
      augmentationDescription: describeAugmentation(augmentation),
    },
    data: { train: { source: train.source, count: train.count }, test: { source: test.source, count: test.count } },
    metrics: {
      testAccuracy,
      trainAccuracy: last?.trainAccuracy ?? null,
      trainLoss: last?.loss ?? null,
      trainSeconds: seconds,
      samplesPerSecond: (train.count * spec.epochs) / seconds,
    },
    provenance: provenance(engine, startedAt),
  };
  await output.commit(async (dir) => {
    await saveModel(model, dir);
    await writeFileAtomic(
      path.join(dir, TRAIN_LOG_FILE),
      stringify(log, { header: true, columns: ['epoch', 'loss', 'train_acc', 'test_acc', 'seconds', 'lr'] }),
    );
    await writeJsonAtomic(path.join(dir, PARAMS_FILE), params);
  });
  model.dispose();
  return { out: spec.out, testAccuracy, epochs, seconds };
}
