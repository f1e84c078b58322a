/** One inference-mode forward pass of a classifier over a whole batch. */
import * as tf from '@tensorflow/tfjs';
import { fusedInferenceLogits } from '../engine/webgpu-fused/step.js';

/**
 * Logits [B, K] of a model in inference mode (batch norm uses its moving statistics), in one
 * call for the whole batch (model.predict would split it into chunks of 32 and concatenate).
 */
export function inferenceLogits(model: tf.LayersModel, x: tf.Tensor4D): tf.Tensor2D {
  // On webgpu: the same logits in fewer dispatches (src/engine/webgpu-fused/); elsewhere null.
  return fusedInferenceLogits(model, x) ?? (model.apply(x, { training: false }) as tf.Tensor2D);
}

/** Posteriors softmax(F(x)) [B, K]. */
export function inferencePosterior(model: tf.LayersModel, x: tf.Tensor4D): tf.Tensor2D {
  return tf.tidy(() => tf.softmax(inferenceLogits(model, x)));
}
