/**
 * The model zoo: one builder per architecture, one line each here.
 */
import type * as tf from '@tensorflow/tfjs';
import { UsageError } from '../errors.js';
import { ARCH_NAMES, type ArchName, type ModelBuildSpec } from './types.js';
import { buildLenet } from './lenet.js';
import { buildCnnSmall } from './cnn-small.js';
import { buildVgg16Bn } from './vgg16bn.js';

export interface ArchInfo {
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

export function parseArchName(raw: string): ArchName {
  if ((ARCH_NAMES as readonly string[]).includes(raw)) return raw as ArchName;
  throw new UsageError(`unknown architecture '${raw}' (choose one of: ${ARCH_NAMES.join(', ')})`);
}

export function archInfo(name: ArchName): ArchInfo {
  return ARCHS[name];
}

export function buildModel(name: ArchName, spec: ModelBuildSpec): tf.LayersModel {
  return ARCHS[name].build(spec);
}
