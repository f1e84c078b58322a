/**
 * The model zoo: one builder per architecture, one line each here.
 */
import type * as tf from '@tensorflow/tfjs';
import type { ArchName, ModelBuildSpec } from './types.js';
import { buildLenet } from './lenet.js';
import { buildCnnSmall } from './cnn-small.js';
import { buildVgg16Bn } from './vgg16bn.js';

const BUILDERS: Record<ArchName, (spec: ModelBuildSpec) => tf.LayersModel> = {
  lenet: buildLenet,
  'cnn-small': buildCnnSmall,
  vgg16_bn: buildVgg16Bn,
};

export function buildModel(name: ArchName, spec: ModelBuildSpec): tf.LayersModel {
  return BUILDERS[name](spec);
}
