/**
 * The model zoo: one builder per architecture, one line each here.
 */
import type * as tf from '@tensorflow/tfjs';
import type { ArchName, ModelBuildSpec } from './types.js';
import { buildLenet } from './lenet.js';
import { buildCnnSmall } from './cnn-small.js';
import { buildVgg16Bn } from './vgg16bn.js';

interface ArchInfo {
  name: ArchName;
  build: (spec: ModelBuildSpec) => tf.LayersModel;
  /** The input the paper uses it with; other sizes are allowed where the builder accepts them. */
  defaultInput: [number, number, number];
  /** Which normalisation family its inputs use (SPEC). */
  family: 'mnist' | 'cifar';
}

const ARCHS: Record<ArchName, ArchInfo> = {
  lenet: { name: 'lenet', build: buildLenet, defaultInput: [28, 28, 1], family: 'mnist' },
  'cnn-small': { name: 'cnn-small', build: buildCnnSmall, defaultInput: [32, 32, 3], family: 'cifar' },
  vgg16_bn: { name: 'vgg16_bn', build: buildVgg16Bn, defaultInput: [32, 32, 3], family: 'cifar' },
};

export function buildModel(name: ArchName, spec: ModelBuildSpec): tf.LayersModel {
  return ARCHS[name].build(spec);
}
