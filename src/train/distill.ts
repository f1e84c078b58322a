/**
 * GRAD²'s surrogate (SPEC-EXTENSIONS §3, G2's train_surrogate.py): the victim's architecture distilled
 * from the undefended victim on attacker-like data — the victim dataset's default query pool
 * (MNIST: the shipped Fashion-MNIST test split) — with soft cross-entropy at T = 1 against the
 * victim's posteriors; SGD 0.1, Nesterov momentum 0.9, weight decay 5e-4, batch 128, a cosine
 * schedule laid out for 50 epochs and stopped after 10. Seeded; written atomically.
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { stringify } from 'csv-stringify/sync';
import { defaultQueryPool } from '../data/catalog.js';
import { loadImageSet } from '../data/load.js';
import { toModelInput } from '../data/convert.js';
import { inferencePosterior } from '../defenses/forward.js';
import { buildModel } from '../models/registry.js';
import { loadSavedModel, saveModel, type ModelParams } from '../models/io.js';
import { PARAMS_FILE } from '../models/files.js';
import { cosineLearningRate, trainClassifier, type BatchSource, type EpochReport } from './loop.js';
import { TRAIN_LOG_FILE } from './victim.js';
import { G2_OPTIMISER, SURROGATE_SCHEDULE } from './artifacts.js';
import { engineInfo, initEngine, type EngineInfo } from '../engine/backend.js';
import { Rng } from '../util/rng.js';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';
import { reserveOutputDir } from '../util/outdir.js';
import { provenance } from '../util/provenance.js';

interface DistillSpec {
  victimDir: string;
  out: string;
  seed: number;
  /** Distil on the pool's first N images only (tests); absent: the whole split. */
  limit?: number;
  /** Fewer epochs than the recipe's 10 (tests); the cosine schedule keeps its 50-epoch period. */
  epochs?: number;
  dataDir?: string;
  report?: (line: string) => void;
}

async function currentEngine(): Promise<EngineInfo> {
  try {
    return engineInfo();
  } catch {
    return initEngine();
  }
}

const POSTERIOR_BATCH = 256;

export async function distillSurrogate(spec: DistillSpec): Promise<{ out: string; epochs: EpochReport[]; agreement: number }> {
  const startedAt = new Date();
  // Replaces a half-built directory of a killed run (callers distil only where no params.json is).
  const output = await reserveOutputDir(spec.out, true, 'surrogate directory');
  const engine = await currentEngine();
  const { model: victim, params } = await loadSavedModel(spec.victimDir);
  let surrogate: tf.LayersModel | null = null;
  try {
    const poolName = defaultQueryPool(params.dataset);
    const pool = await loadImageSet(poolName.dataset, poolName.split, { dataDir: spec.dataDir, ...(spec.limit === undefined ? {} : { limit: spec.limit }) });
    const K = params.numClasses;
    // The victim's clean posteriors on the whole pool, once: the soft targets of every epoch.
    const soft = new Float32Array(pool.count * K);
    for (let start = 0; start < pool.count; start += POSTERIOR_BATCH) {
      const end = Math.min(pool.count, start + POSTERIOR_BATCH);
      const p = tf.tidy(() => inferencePosterior(victim, toModelInput(pool, { start, end }, params.input)));
      soft.set(await p.data(), start * K);
      p.dispose();
    }
    const source: BatchSource = {
      count: pool.count,
      batch(indices) {
        const rows = new Float32Array(indices.length * K);
        for (let i = 0; i < indices.length; i++) rows.set(soft.subarray(indices[i]! * K, (indices[i]! + 1) * K), i * K);
        return { x: toModelInput(pool, indices, params.input), y: tf.tensor2d(rows, [indices.length, K]) };
      },
    };
    const rng = new Rng(spec.seed).fork('distilled-surrogate');
    surrogate = buildModel(params.arch, { inputShape: [params.input.height, params.input.width, params.input.channels], numClasses: K, rng: rng.fork('init') });
    const epochs = spec.epochs ?? SURROGATE_SCHEDULE.epochs;
    const settings = { epochs, batchSize: SURROGATE_SCHEDULE.batchSize, ...G2_OPTIMISER, lrStep: SURROGATE_SCHEDULE.period };
    const log: (string | number)[][] = [];
    const model = surrogate;
    const reports = await trainClassifier(model, source, settings, rng.fork('shuffle'), {
      onEpochEnd: (r) => {
        log.push([r.epoch, r.loss, r.trainAccuracy, r.seconds, r.lr]);
        spec.report?.(`surrogate epoch ${r.epoch}/${epochs}: soft cross-entropy ${r.loss.toFixed(4)}, agreement with the victim ${(100 * r.trainAccuracy).toFixed(2)}%`);
      },
    }, { nesterov: true, learningRate: cosineLearningRate(G2_OPTIMISER.lr, SURROGATE_SCHEDULE.period) });
    const agreement = reports[reports.length - 1]?.trainAccuracy ?? NaN;
    const out: ModelParams = {
      kind: 'surrogate',
      arch: params.arch,
      dataset: params.dataset,
      numClasses: K,
      input: params.input,
      seed: spec.seed,
      victim: { dir: path.resolve(spec.victimDir), seed: params.seed },
      config: { ...settings, nesterov: true, schedule: `cosine over ${SURROGATE_SCHEDULE.period} epochs, stopped after ${epochs}`, loss: 'soft cross-entropy, T = 1' },
      data: { pool: { dataset: poolName.dataset, split: poolName.split, source: pool.source, count: pool.count } },
      metrics: { agreementWithVictim: agreement },
      provenance: provenance(engine, startedAt),
    };
    await output.commit(async (dir) => {
      await saveModel(model, dir);
      await writeFileAtomic(path.join(dir, TRAIN_LOG_FILE), stringify(log, { header: true, columns: ['epoch', 'loss', 'agreement', 'seconds', 'lr'] }));
      await writeJsonAtomic(path.join(dir, PARAMS_FILE), out);
    });
    return { out: spec.out, epochs: reports, agreement };
  } catch (err) {
    await output.abandon().catch(() => undefined);
    throw err;
  } finally {
    victim.dispose();
    surrogate?.dispose();
  }
}
