/**
 * The input-space steps of the Jacobian family, batched: each image's gradient is independent
 * (the substitute runs in inference mode, so nothing couples the rows of a batch).
 * All images are in PIXEL space; the substitute sees them normalised.
 */
import * as tf from '@tensorflow/tfjs';
import type { InputSpec } from '../data/types.js';
import { normalise } from './pixels.js';

function logitsOf(model: tf.LayersModel, pixels: tf.Tensor4D, input: InputSpec): tf.Tensor2D {
  return tf.tidy(() => model.apply(normalise(pixels, input), { training: false }) as tf.Tensor2D);
}

/**
 * clip(x + step·sign(∇_x CE(F(x), label)), 0, 1) for every row: the JBDA point for step = +λ,
 * the JB-self point for step = −λ.
 */
export function signGradientStep(
  model: tf.LayersModel,
  pixels: tf.Tensor4D,
  labels: Int32Array,
  step: number,
  input: InputSpec,
  numClasses: number,
): tf.Tensor4D {
  return tf.tidy(() => {
    const targets = tf.oneHot(tf.tensor1d(labels, 'int32'), numClasses).toFloat();
    // Summed cross-entropy: each row's gradient is its own loss's gradient.
    const loss = (x: tf.Tensor): tf.Scalar =>
      tf.neg(tf.sum(tf.mul(targets, tf.logSoftmax(logitsOf(model, x as tf.Tensor4D, input))))) as tf.Scalar;
    const grad = tf.grad(loss)(pixels);
    return tf.clipByValue(tf.add(pixels, tf.mul(step, tf.sign(grad))), 0, 1) as tf.Tensor4D;
  });
}

/**
 * Targeted L∞ PGD toward class targets[i] for row i: `steps` ascents of the target's logit by
 * `stepSize`·sign(∇), each projected onto the radius-`radius` ball around x and onto [0, 1].
 */
export function targetedPgd(
  model: tf.LayersModel,
  pixels: tf.Tensor4D,
  targets: Int32Array,
  radius: number,
  steps: number,
  stepSize: number,
  input: InputSpec,
  numClasses: number,
): tf.Tensor4D {
  return tf.tidy(() => {
    const mask = tf.oneHot(tf.tensor1d(targets, 'int32'), numClasses).toFloat();
    const targetLogit = (x: tf.Tensor): tf.Scalar => tf.sum(tf.mul(mask, logitsOf(model, x as tf.Tensor4D, input)));
    const gradient = tf.grad(targetLogit);
    const lower = tf.maximum(tf.sub(pixels, radius), 0);
    const upper = tf.minimum(tf.add(pixels, radius), 1);
    let x: tf.Tensor4D = pixels;
    for (let t = 0; t < steps; t++) {
      const next: tf.Tensor4D = tf.tidy(() => {
        const g = gradient(x);
        return tf.minimum(tf.maximum(tf.add(x, tf.mul(stepSize, tf.sign(g))), lower), upper);
      });
      if (x !== pixels) x.dispose();
      x = next;
    }
    return x === pixels ? pixels.clone() : x;
  });
}

/**
 * For each row, the `k` classes the substitute ranks highest after removing `exclude[i]`
 * (argmax ỹ), best first: row-major count × k.
 */
export async function runnerUpClasses(
  model: tf.LayersModel,
  pixels: tf.Tensor4D,
  exclude: Int32Array,
  k: number,
  input: InputSpec,
): Promise<Int32Array> {
  const logits = tf.tidy(() => logitsOf(model, pixels, input));
  const values = (await logits.data()) as Float32Array;
  const [rows, K] = logits.shape;
  logits.dispose();
  const out = new Int32Array(rows * k);
  const order = new Array<number>(K);
  for (let i = 0; i < rows; i++) {
    for (let c = 0; c < K; c++) order[c] = c;
    const row = values.subarray(i * K, (i + 1) * K);
    // Stable: equal logits keep the lower class first.
    order.sort((a, b) => row[b]! - row[a]! || a - b);
    let taken = 0;
    for (const c of order) {
      if (taken === k) break;
      if (c === exclude[i]) continue;
      out[i * k + taken++] = c;
    }
  }
  return out;
}
