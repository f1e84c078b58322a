/**
 * `poison eval`: defender utility of one defense on the victim's test set. Loads the victim,
 * builds the defense (and its surrogate), streams the test set through the defended black box,
 * and writes eval.json (resolved config, results, provenance) atomically into the output
 * directory. Nothing is written unless the whole evaluation succeeded.
 */
import * as path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { RuntimeFailure } from '../errors.js';
import { initEngine, type BackendName } from '../engine/backend.js';
import { loadImageSet } from '../data/load.js';
import { loadSavedModel, type ModelParams } from '../models/io.js';
import { createDefense } from '../defenses/create.js';
import { describeDefense, type DefenseSpec } from '../defenses/spec.js';
import { DEFENSE_STREAMS, type Defense } from '../defenses/types.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { reserveOutputDir } from '../util/outdir.js';
import { planLine, startProgress } from '../util/progress.js';
import { provenance, type Provenance } from '../util/provenance.js';
import { measureDefenderUtility, type DefenderUtility } from './utility.js';

export const EVAL_FILE = 'eval.json';

interface EvalSpec {
  victim: string;
  /** Parsed against the victim (see parseDefenseSpec with its dataset and class count). */
  defense: DefenseSpec;
  seed: number;
  batchSize: number;
  limit?: number;
  dataDir?: string;
  backend?: BackendName;
  out: string;
  force: boolean;
  quiet?: boolean;
}

/** The resolved configuration as written to eval.json: absolute paths, explicit nulls for defaults. */
interface EvalConfig {
  victim: string;
  defense: DefenseSpec;
  seed: number;
  batchSize: number;
  limit: number | null;
  dataDir: string | null;
  backend: BackendName | null;
  out: string;
}

export interface EvalReport {
  command: 'eval';
  config: EvalConfig;
  defense: { description: string; spec: DefenseSpec };
  victim: { dir: string; arch: ModelParams['arch']; dataset: ModelParams['dataset']; numClasses: number; seed: number };
  testSet: { dataset: string; split: 'test'; count: number; source: string };
  results: DefenderUtility;
  provenance: Provenance;
  finishedAt: string;
}

export async function runEval(spec: EvalSpec): Promise<EvalReport> {
  const startedAt = new Date();
  // Claimed before any work: an unusable --out fails now; the claim goes if the evaluation fails.
  const output = await reserveOutputDir(spec.out, spec.force);
  let model: tf.LayersModel | null = null;
  let defense: Defense | null = null;
  let committed = false;
  try {
    const engine = await initEngine(spec.backend ? { backend: spec.backend } : {});
    const loaded = await loadSavedModel(spec.victim);
    model = loaded.model;
    const params = loaded.params;
    defense = await createDefense(spec.defense, {
      numClasses: params.numClasses,
      inputShape: [params.input.height, params.input.width, params.input.channels],
      arch: params.arch,
      seed: spec.seed,
      victimDir: spec.victim,
      // The stream `poison attack` evaluates the defender with: both report the same utility.
      stream: DEFENSE_STREAMS.defenderEval,
    });
    const test = await loadImageSet(params.dataset, 'test', { dataDir: spec.dataDir, limit: spec.limit });
    if (test.numClasses !== params.numClasses) {
      throw new RuntimeFailure(`${spec.victim}: the victim has ${params.numClasses} classes, its test set ${params.dataset} has ${test.numClasses}`);
    }
    if (!spec.quiet) process.stderr.write(`${planLine('eval', `${params.arch} victim with defense ${spec.defense.name}`, [`${test.count} ${params.dataset} test images`], engine.backend)}\n`);
    const bar = startProgress({ label: `eval ${spec.defense.name}`, total: test.count, fields: ['queries/s'], quiet: spec.quiet });
    let results: DefenderUtility;
    try {
      results = await measureDefenderUtility(loaded.model, defense, test, params.input, {
        batchSize: spec.batchSize,
        onProgress: (done, qps) => bar.update(done, { 'queries/s': qps.toFixed(0) }),
      });
    } finally {
      bar.stop();
    }
    const report: EvalReport = {
      command: 'eval',
      config: {
        victim: path.resolve(spec.victim),
        defense: spec.defense,
        seed: spec.seed,
        batchSize: spec.batchSize,
        limit: spec.limit ?? null,
        dataDir: spec.dataDir === undefined ? null : path.resolve(spec.dataDir),
        backend: spec.backend ?? null,
        out: path.resolve(spec.out),
      },
      defense: { description: describeDefense(spec.defense), spec: spec.defense },
      victim: { dir: path.resolve(spec.victim), arch: params.arch, dataset: params.dataset, numClasses: params.numClasses, seed: params.seed },
      testSet: { dataset: test.dataset, split: 'test', count: test.count, source: test.source },
      results,
      provenance: provenance(engine, startedAt),
      finishedAt: new Date().toISOString(),
    };
    await output.commit((dir) => writeJsonAtomic(path.join(dir, EVAL_FILE), report));
    committed = true;
    return report;
  } finally {
    defense?.dispose();
    model?.dispose();
    if (!committed) await output.abandon();
  }
}
