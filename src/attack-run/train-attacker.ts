/**
 * Training a fresh attacker F_A on the first B queries of a transfer set and scoring it on the
 * victim's test set: accuracy after every epoch (the final epoch is THE accuracy; the best epoch
 * is reported next to it, labelled as such) and fidelity to the undefended victim.
 */
import * as tf from '@tensorflow/tfjs';
import { toModelInput } from '../data/convert.js';
import type { ImageSet, InputSpec } from '../data/types.js';
import { UsageError } from '../errors.js';
import { buildModel } from '../models/registry.js';
import type { ArchName } from '../models/types.js';
import { accuracyOf, trainClassifier, type TrainingExtension, type TrainSettings } from '../train/loop.js';
import type { Rng } from '../util/rng.js';
import type { LabelMode } from '../attacks/names.js';
import { transferBatchSource, type TransferSet } from '../attacks/transfer-set.js';

interface AttackerEpoch {
  epoch: number;
  loss: number;
  /** Agreement of F_A's argmax with argmax of its training targets. */
  trainAgreement: number;
  testAccuracy: number;
  seconds: number;
  lr: number;
}

export interface AttackerScore {
  /** Test accuracy after the last epoch: the attacker accuracy of the docs/spec.md. */
  accuracy: number;
  /** The best per-epoch test accuracy and its epoch (an upper bound a real attacker cannot pick). */
  bestEpochAccuracy: number;
  bestEpoch: number;
  /** Agreement of argmax F_A with argmax of the UNDEFENDED victim on the test set, last epoch. */
  fidelity: number;
  epochs: AttackerEpoch[];
  trainSeconds: number;
}

/** The test set as the attacker is scored on it. */
export interface ScoringSet {
  test: ImageSet;
  /** Images scored: the first `count` of the test split. */
  count: number;
  input: InputSpec;
  /** argmax of the undefended victim on those images. */
  victimArgmax: Int32Array;
}

/** A fresh model of `arch` for the victim's input; an architecture that cannot take it is a usage error. */
export function buildAttacker(arch: ArchName, input: InputSpec, numClasses: number, rng: Rng): tf.LayersModel {
  try {
    return buildModel(arch, { inputShape: [input.height, input.width, input.channels], numClasses, rng });
  } catch (err) {
    throw new UsageError(
      `--attacker-arch ${arch} cannot take the victim's ${input.height}×${input.width}×${input.channels} input: ${(err as Error).message}`,
    );
  }
}

interface TrainAttackerOptions {
  model: tf.LayersModel;
  transfer: TransferSet;
  budget: number;
  labelMode: LabelMode;
  settings: TrainSettings;
  rng: Rng;
  scoring: ScoringSet;
  /** An adaptation's objective trained beside the classifier's (its attackerTraining); absent: none. */
  extension?: TrainingExtension;
  onBatchEnd?: (epoch: number, batch: number, batches: number, loss: number) => void;
  onEpochEnd?: (row: AttackerEpoch) => void;
}

export async function trainAndScoreAttacker(opts: TrainAttackerOptions): Promise<AttackerScore> {
  const { model, scoring } = opts;
  const inputs = (start: number, end: number): tf.Tensor4D => toModelInput(scoring.test, { start, end }, scoring.input);
  const testLabels = scoring.test.labels.subarray(0, scoring.count);
  const epochs: AttackerEpoch[] = [];
  const started = performance.now();
  await trainClassifier(model, transferBatchSource(opts.transfer, opts.budget, opts.labelMode), opts.settings, opts.rng, {
    onBatchEnd: (r) => opts.onBatchEnd?.(r.epoch, r.batch, r.batches, r.loss),
    onEpochEnd: async (r) => {
      const row: AttackerEpoch = {
        epoch: r.epoch,
        loss: r.loss,
        trainAgreement: r.trainAccuracy,
        testAccuracy: await accuracyOf(model, scoring.count, inputs, testLabels),
        seconds: r.seconds,
        lr: r.lr,
      };
      epochs.push(row);
      opts.onEpochEnd?.(row);
    },
  }, opts.extension ? { extension: opts.extension } : {});
  const trainSeconds = (performance.now() - started) / 1000;
  const last = epochs[epochs.length - 1];
  if (!last) throw new Error('the attacker trained for no epoch');
  let best = last;
  for (const e of epochs) if (e.testAccuracy > best.testAccuracy) best = e;
  return {
    accuracy: last.testAccuracy,
    bestEpochAccuracy: best.testAccuracy,
    bestEpoch: best.epoch,
    fidelity: await accuracyOf(model, scoring.count, inputs, scoring.victimArgmax),
    epochs,
    trainSeconds,
  };
}
