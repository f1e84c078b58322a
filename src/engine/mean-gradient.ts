/**
 * The gradient of Mean without a tensor of ones built on the CPU.
 *
 * tfjs-core 4.22's Mean gradient is (dy reshaped to keep the reduced axes) × ones(x.shape) / n:
 * `ones` fills an array of x's full size in JavaScript, which the backend then uploads (on webgpu a
 * 2 MB write per batch-norm moment of VGG16-BN at batch 8, 33 MB at batch 128, 27 Means per step;
 * bench/gpu-host.ts's profile put the fill alone at ≈ 11% of the host's time per step). Here the
 * same values come from dividing the small dy by n and broadcasting it: each element of the
 * result is dy / n in both forms (multiplying by 1.0 is exact in IEEE arithmetic), so every
 * backend computes the same numbers as before, with one small division and one broadcast instead
 * of an upload, a multiply and a division over the whole tensor.
 */
import * as tf from '@tensorflow/tfjs';

/** `broadcast`: the form above; `stock`: tfjs's own (benchmarks compare the two). */
export type MeanGradient = 'stock' | 'broadcast';

let stockConfig: tf.GradConfig | null = null;
/** Elements up to which tfjs's own form is kept. */
const SMALL = 4096;
let current: MeanGradient = 'stock';

const broadcastConfig: tf.GradConfig = {
  kernelName: 'Mean',
  inputsToSave: ['x'],
  gradFunc: (dy, saved, attrs) => {
    const [x] = saved as [tf.Tensor];
    // Small means (the loss's, over the batch) keep tfjs's form: their ones are cheap, and on
    // webgpu the whole product then runs on the CPU (tfjs forwards small CPU-resident ops there),
    // where a broadcast would be one more GPU dispatch.
    if (x.size <= SMALL && stockConfig) return stockConfig.gradFunc(dy, saved, attrs);
    const axes = tf.util.parseAxisParam((attrs as { axis: number | number[] }).axis, x.shape);
    const expandedShape = x.shape.slice();
    let reduceSize = 1;
    for (const a of axes) {
      reduceSize *= x.shape[a]!;
      expandedShape[a] = 1;
    }
    return { x: () => tf.broadcastTo(tf.div(tf.reshape(dy as tf.Tensor, expandedShape), reduceSize), x.shape) };
  },
};

/** Register one form of the Mean gradient (for every backend). */
export function setMeanGradient(form: MeanGradient): void {
  if (form === current) return;
  stockConfig ??= tf.getGradient('Mean') ?? null;
  if (form === 'broadcast') tf.registerGradient(broadcastConfig);
  else if (stockConfig) tf.registerGradient(stockConfig);
  current = form;
}
