import * as tf from '@tensorflow/tfjs';
import type { ModelBuildSpec } from './types.js';
import { biasInit, weightInit } from './init.js';
import { LOGITS_LAYER } from './types.js';

/**
 * LeNet-like (docs/spec.md): conv 5×5 20 → ReLU → maxpool 2 → conv 5×5 50 → ReLU → maxpool 2 →
 * dense 500 → ReLU → dense K. Outputs logits.
 */
export function buildLenet(spec: ModelBuildSpec): tf.LayersModel {
  const { inputShape, numClasses, rng } = spec;
  const [h, w, c] = inputShape;
  const flat = (((h - 4) / 2 - 4) / 2) * (((w - 4) / 2 - 4) / 2) * 50;
  if (!Number.isInteger(flat) || flat <= 0) {
    throw new Error(`lenet cannot take input ${inputShape.join('×')}: sizes must survive two conv5/pool2 stages`);
  }
  const m = tf.sequential({ name: 'lenet' });
  m.add(
    tf.layers.conv2d({
      inputShape, filters: 20, kernelSize: 5, activation: 'relu', name: 'conv1',
      kernelInitializer: weightInit(rng), biasInitializer: biasInit(rng, 25 * c),
    }),
  );
  m.add(tf.layers.maxPooling2d({ poolSize: 2, strides: 2, name: 'pool1' }));
  m.add(
    tf.layers.conv2d({
      filters: 50, kernelSize: 5, activation: 'relu', name: 'conv2',
      kernelInitializer: weightInit(rng), biasInitializer: biasInit(rng, 25 * 20),
    }),
  );
  m.add(tf.layers.maxPooling2d({ poolSize: 2, strides: 2, name: 'pool2' }));
  m.add(tf.layers.flatten({ name: 'flatten' }));
  m.add(
    tf.layers.dense({
      units: 500, activation: 'relu', name: 'fc1',
      kernelInitializer: weightInit(rng), biasInitializer: biasInit(rng, flat),
    }),
  );
  m.add(
    tf.layers.dense({
      units: numClasses, name: LOGITS_LAYER,
      kernelInitializer: weightInit(rng), biasInitializer: biasInit(rng, 500),
    }),
  );
  return m;
}
