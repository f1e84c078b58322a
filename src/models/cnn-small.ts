import * as tf from '@tensorflow/tfjs';
import type { ModelBuildSpec } from './types.js';
import { LOGITS_LAYER } from './types.js';
import { biasInit, weightInit } from './init.js';

/**
 * A compact CIFAR net that trains to a useful accuracy on a 2-core CPU:
 * [conv3×3 32 → ReLU → pool] → [conv3×3 64 → ReLU → pool] → [conv3×3 128 → ReLU → pool] →
 * dense 128 → ReLU → dense K. ≈ 0.36 M parameters, ≈ 10 M multiply-adds per 32×32×3 image
 * (LeNet: ≈ 2.3 M).
 */
export function buildCnnSmall(spec: ModelBuildSpec): tf.LayersModel {
  const { inputShape, numClasses, rng } = spec;
  if (inputShape[0] % 8 !== 0 || inputShape[1] % 8 !== 0) {
    throw new Error(`cnn-small needs input sides divisible by 8, got ${inputShape.join('×')}`);
  }
  const m = tf.sequential({ name: 'cnn-small' });
  let channels = inputShape[2];
  [32, 64, 128].forEach((filters, i) => {
    m.add(
      tf.layers.conv2d({
        ...(i === 0 ? { inputShape } : {}),
        filters, kernelSize: 3, padding: 'same', activation: 'relu', name: `conv${i + 1}`,
        kernelInitializer: weightInit(rng), biasInitializer: biasInit(rng, 9 * channels),
      }),
    );
    m.add(tf.layers.maxPooling2d({ poolSize: 2, strides: 2, name: `pool${i + 1}` }));
    channels = filters;
  });
  m.add(tf.layers.flatten({ name: 'flatten' }));
  const flat = (inputShape[0] / 8) * (inputShape[1] / 8) * 128;
  m.add(
    tf.layers.dense({
      units: 128, activation: 'relu', name: 'fc1',
      kernelInitializer: weightInit(rng), biasInitializer: biasInit(rng, flat),
    }),
  );
  m.add(
    tf.layers.dense({
      units: numClasses, name: LOGITS_LAYER,
      kernelInitializer: weightInit(rng), biasInitializer: biasInit(rng, 128),
    }),
  );
  return m;
}
