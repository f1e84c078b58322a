/**
 * Models on disk in the tfjs layers format (model.json + weights.bin) through plain node:fs,
 * so no tfjs-node is needed, plus params.json: the run's resolved config and provenance.
 * Loading restores the same predictions bit for bit (float32 weights written as they are).
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { isPoisonError, RuntimeFailure, UsageError } from '../errors.js';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';
import type { ArchName } from './types.js';
import type { DatasetName, InputSpec } from '../data/types.js';
import { describeFsError, makeDirs } from '../util/safe-fs.js';

import { MODEL_FILE, PARAMS_FILE, WEIGHTS_FILE } from './files.js';

/** What every saved model's params.json holds at least. */
export interface ModelParams {
  /** misinformation / surrogate: models a defense trains beside its victim (src/train/misinformation.ts, distill.ts). */
  kind: 'victim' | 'attacker' | 'misinformation' | 'surrogate';
  arch: ArchName;
  dataset: DatasetName;
  numClasses: number;
  input: InputSpec;
  seed: number;
  [key: string]: unknown;
}

export async function saveModel(model: tf.LayersModel, dir: string): Promise<void> {
  await makeDirs(dir, 'model folder');
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weightData = artifacts.weightData;
      if (!weightData || !artifacts.modelTopology || !artifacts.weightSpecs) {
        throw new Error('tfjs produced no model artifacts');
      }
      const buffers = Array.isArray(weightData) ? weightData : [weightData];
      const bytes = Buffer.concat(buffers.map((b) => Buffer.from(b)));
      await writeFileAtomic(path.join(dir, WEIGHTS_FILE), bytes);
      await writeJsonAtomic(path.join(dir, MODEL_FILE), {
        format: 'layers-model',
        generatedBy: `TensorFlow.js tfjs-layers v${tf.version.tfjs}`,
        convertedBy: null,
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: [WEIGHTS_FILE], weights: artifacts.weightSpecs }],
      });
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON', weightDataBytes: bytes.length } };
    }),
  );
}

async function loadModel(dir: string): Promise<tf.LayersModel> {
  const modelPath = path.join(dir, MODEL_FILE);
  let json: { modelTopology?: object; weightsManifest?: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[] };
  try {
    json = JSON.parse(await fs.readFile(modelPath, 'utf8')) as typeof json;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new UsageError(`${dir} holds no saved model (no ${MODEL_FILE}): train one with \`poison train --out ${dir}\``);
    }
    throw new RuntimeFailure(`${modelPath} is not a readable model file: ${(err as Error).message}`);
  }
  if (!json.modelTopology || !json.weightsManifest) {
    throw new RuntimeFailure(`${modelPath} is not a tfjs layers model (no modelTopology or weightsManifest)`);
  }
  const specs: tf.io.WeightsManifestEntry[] = [];
  const parts: Buffer[] = [];
  for (const group of json.weightsManifest) {
    specs.push(...group.weights);
    for (const p of group.paths) {
      try {
        parts.push(await fs.readFile(path.join(dir, p)));
      } catch {
        throw new RuntimeFailure(`${path.join(dir, p)} is missing: the saved model in ${dir} is incomplete, train it again`);
      }
    }
  }
  const bytes = Buffer.concat(parts);
  const expected = specs.reduce((sum, s) => sum + s.shape.reduce((a, b) => a * b, 1) * 4, 0);
  if (bytes.length !== expected) {
    throw new RuntimeFailure(`${path.join(dir, WEIGHTS_FILE)} has ${bytes.length} bytes, the model needs ${expected}: the file is damaged`);
  }
  const weightData = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: specs, weightData }));
}

export async function readParams(dir: string): Promise<ModelParams> {
  const p = path.join(dir, PARAMS_FILE);
  let text: string;
  try {
    text = await fs.readFile(p, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new UsageError(`${dir} is not a model directory written by \`poison train\` (${code === 'ENOTDIR' ? 'it is a file' : `no ${PARAMS_FILE} there`}): pass the folder that \`poison train --out\` wrote`);
    }
    throw new RuntimeFailure(`${p} cannot be read: ${describeFsError(err)}`);
  }
  let params: ModelParams;
  try {
    params = JSON.parse(text) as ModelParams;
  } catch (err) {
    throw new RuntimeFailure(`${p} is not valid JSON (${(err as Error).message}): the model directory is damaged, train it again`);
  }
  for (const key of ['arch', 'dataset', 'numClasses', 'input'] as const) {
    if (params[key] === undefined) throw new RuntimeFailure(`${p} lacks '${key}': the model directory is damaged`);
  }
  return params;
}

/** A saved model and its params, checked against each other. */
export async function loadSavedModel(dir: string): Promise<{ model: tf.LayersModel; params: ModelParams }> {
  const params = await readParams(dir);
  const model = await loadModel(dir);
  const out = model.outputs[0]?.shape;
  const inp = model.inputs[0]?.shape;
  if (out?.[1] !== params.numClasses || inp?.[1] !== params.input.height || inp?.[2] !== params.input.width || inp?.[3] !== params.input.channels) {
    model.dispose();
    throw new RuntimeFailure(`${dir}: ${MODEL_FILE} and ${PARAMS_FILE} disagree on the input shape or class count: the directory is damaged`);
  }
  return { model, params };
}

/**
 * A helper model a defense uses beside the victim (a surrogate, a misinformation model), named by
 * `flag`: every failure to load it is reported against that flag, and a model whose input shape or
 * class count is not the victim's is a UsageError (it could only answer other questions).
 */
export async function loadModelMatching(
  dir: string,
  flag: string,
  victim: { inputShape: readonly [number, number, number]; numClasses: number },
): Promise<{ model: tf.LayersModel; params: ModelParams }> {
  let loaded: { model: tf.LayersModel; params: ModelParams };
  try {
    loaded = await loadSavedModel(dir);
  } catch (err) {
    if (isPoisonError(err)) {
      const message = `${flag}: ${err.message}`;
      throw err.exitCode === 2 ? new UsageError(message) : new RuntimeFailure(message);
    }
    throw err;
  }
  const [h, w, c] = victim.inputShape;
  const { height, width, channels } = loaded.params.input;
  if (height !== h || width !== w || channels !== c || loaded.params.numClasses !== victim.numClasses) {
    loaded.model.dispose();
    throw new UsageError(
      `${flag} ${dir} takes ${height}×${width}×${channels} inputs with ${loaded.params.numClasses} classes, ` +
        `the victim ${h}×${w}×${c} with ${victim.numClasses}: they must match`,
    );
  }
  return loaded;
}
