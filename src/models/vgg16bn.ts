import * as tf from '@tensorflow/tfjs';
import type { ModelBuildSpec } from './types.js';
import { LOGITS_LAYER } from './types.js';
import { biasInit, weightInit } from './init.js';

/** 13 conv3×3 + BN + ReLU with 5 max-pools ('M'); CIFAR variant: one dense 512 → K after them. */
const VGG16_PLAN: (number | 'M')[] = [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M'];

export function buildVgg16Bn(spec: ModelBuildSpec): tf.LayersModel {
  const { inputShape, numClasses, rng } = spec;
  if (inputShape[0] % 32 !== 0 || inputShape[1] % 32 !== 0) {
    throw new Error(`vgg16_bn needs input sides divisible by 32, got ${inputShape.join('×')}`);
  }
  const m = tf.sequential({ name: 'vgg16_bn' });
  let channels = inputShape[2];
  let i = 0;
  let pool = 0;
  for (const step of VGG16_PLAN) {
    if (step === 'M') {
      m.add(tf.layers.maxPooling2d({ poolSize: 2, strides: 2, name: `pool${++pool}` }));
      continue;
    }
    i++;
    m.add(
      tf.layers.conv2d({
        ...(i === 1 ? { inputShape } : {}),
        filters: step, kernelSize: 3, padding: 'same', name: `conv${i}`,
        kernelInitializer: weightInit(rng), biasInitializer: biasInit(rng, 9 * channels),
      }),
    );
    // PyTorch's BatchNorm2d defaults: momentum 0.1 (tfjs: 0.9 for the moving average), eps 1e-5.
    m.add(tf.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-5, name: `bn${i}` }));
    m.add(tf.layers.reLU({ name: `relu${i}` }));
    channels = step;
  }
  m.add(tf.layers.flatten({ name: 'flatten' }));
  const flat = (inputShape[0] / 32) * (inputShape[1] / 32) * 512;
  m.add(
    tf.layers.dense({
      units: numClasses, name: LOGITS_LAYER,
      kernelInitializer: weightInit(rng), biasInitializer: biasInit(rng, flat),
    }),
  );
  return m;
}
