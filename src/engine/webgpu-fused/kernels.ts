/**
 * Fused kernels of the webgpu training step (step.ts), registered as tfjs kernels of the webgpu
 * backend under the project's own names, like the other webgpu kernels (webgpu-kernels.ts): "kernels
 * as data", each a WGSL source plus the shapes it reads and writes. Each replaces a chain of stock
 * kernels that tfjs's autodiff and optimizer would dispatch one by one (tested against the cpu
 * backend in test/webgpu-fused.test.ts):
 *
 * - PoisonSgdMomentum: a whole momentum-SGD update of one variable with weight decay (tfjs's
 *   MomentumOptimizer, incl. nesterov, + the wd/2·‖w‖² term of loop.ts), writing the new weight,
 *   the new momentum and a per-workgroup partial ‖w‖² of the loss: 1 dispatch instead of ≈ 8.
 * - PoisonSoftmaxCrossEntropy: soft-label cross-entropy, its gradient wrt the logits, and per row
 *   the loss and whether argmax(logits) = argmax(targets).
 * - PoisonTrainStats: the step's [loss, correct count] from the rows and the ‖w‖² partials.
 * - PoisonBatchNormStats / PoisonBatchNormApply: batch-norm forward with batch statistics,
 *   the moving averages updated in the same dispatch, normalisation + ReLU in one more.
 * - PoisonBatchNormInference: batch norm with the moving statistics + ReLU (inference).
 * - PoisonBatchNormGradSums / PoisonBatchNormGrad: batch-norm (+ ReLU) backward: the per-channel
 *   sums (which are the β and γ gradients), then the input gradient.
 * - PoisonIm2Col: the im2col matrix of a convolution's input with a column of ones appended, so
 *   one matrix product gives the filter AND bias gradients.
 * - PoisonMaxPoolGrad: max-pool backward (first maximum of each window, as tfjs), times the ReLU
 *   mask of the pooled activations.
 * - PoisonDenseWeightGrad / PoisonDenseInputGrad / PoisonReluGrad: dense backward with the bias
 *   gradient and the ReLU mask folded in.
 */
import * as tf from '@tensorflow/tfjs';
import { dispatch, gridFor, newOutput, WORKGROUP, type UniformField, type WebGpuBackendInternals, type WgslKernel } from './dispatch.js';

type TensorInfo = tf.TensorInfo;
type Access = 'read' | 'read_write';
/** Element type of a binding: f32 unless the kernel reads raw 32-bit words (labels held as int32). */
type Binding = [string, Access] | [string, Access, 'u32'];

const REDUCE = `
var<workgroup> part: array<f32, ${WORKGROUP}>;
fn wgSum(v: f32, lid: u32) -> f32 {
  part[lid] = v;
  workgroupBarrier();
  for (var s = ${WORKGROUP / 2}u; s > 0u; s = s >> 1u) {
    if (lid < s) { part[lid] = part[lid] + part[lid + s]; }
    workgroupBarrier();
  }
  let total = part[0];
  workgroupBarrier();
  return total;
}`;

/** A WGSL compute shader: storage bindings in order, then one uniform struct `u`. `flat` is the invocation's index. */
function kernel(label: string, bindings: Binding[], fields: [string, 'i32' | 'f32'][], body: string, helpers = ''): WgslKernel {
  const code = `
struct Uniforms { ${fields.map(([n, t]) => `${n}: ${t},`).join(' ')} };
${bindings.map(([n, a, t], i) => `@group(0) @binding(${i}) var<storage, ${a}> ${n}: array<${t ?? 'f32'}>;`).join('\n')}
@group(0) @binding(${bindings.length}) var<uniform> u: Uniforms;
${body.includes('wgSum(') ? REDUCE : ''}
${helpers}
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let flat = i32(gid.x + gid.y * nwg.x * ${WORKGROUP}u);
  ${body}
}`;
  return { label, code };
}

const ints = (...values: number[]): UniformField[] => values.map((v) => ({ type: 'int32', data: [v] }));
const floats = (...values: number[]): UniformField[] => values.map((v) => ({ type: 'float32', data: [v] }));
const sizeOf = (t: TensorInfo): number => t.shape.reduce((a, b) => a * b, 1);

const SGD = kernel(
  'PoisonSgdMomentum',
  [['w', 'read'], ['acc', 'read'], ['grad', 'read'], ['newW', 'read_write'], ['newAcc', 'read_write'], ['partials', 'read_write']],
  [['size', 'i32'], ['gradOffset', 'i32'], ['partialOffset', 'i32'], ['nesterov', 'i32'], ['lr', 'f32'], ['momentum', 'f32'], ['halfWd', 'f32']],
  `var square = 0.0;
  if (flat < u.size) {
    let wi = w[flat];
    // As tfjs's gradient of wd/2·Σw²: (wd/2)·(2w), added to the loss gradient.
    let g = grad[u.gradOffset + flat] + u.halfWd * (wi * 2.0);
    let a = acc[flat] * u.momentum + g;
    newAcc[flat] = a;
    if (u.nesterov != 0) { newW[flat] = -u.lr * (g + a * u.momentum) + wi; } else { newW[flat] = -u.lr * a + wi; }
    square = wi * wi;
  }
  let total = wgSum(square, lid);
  if (lid == 0u) { partials[u.partialOffset + i32(wid.x + wid.y * nwg.x)] = total; }`,
);

const SOFTMAX_CE = kernel(
  'PoisonSoftmaxCrossEntropy',
  [['logits', 'read'], ['labelWords', 'read', 'u32'], ['dLogits', 'read_write'], ['rows', 'read_write']],
  [['batch', 'i32'], ['classes', 'i32'], ['invBatch', 'f32'], ['labelsInt', 'i32']],
  `if (flat >= u.batch) { return; }
  let base = flat * u.classes;
  var top = logits[base];
  var topAt = 0;
  var label = targetAt(base);
  var labelAt = 0;
  for (var k = 1; k < u.classes; k++) {
    if (logits[base + k] > top) { top = logits[base + k]; topAt = k; }
    if (targetAt(base + k) > label) { label = targetAt(base + k); labelAt = k; }
  }
  var sumExp = 0.0;
  for (var k = 0; k < u.classes; k++) { sumExp += exp(logits[base + k] - top); }
  let logSum = log(sumExp);
  var loss = 0.0;
  var mass = 0.0;
  for (var k = 0; k < u.classes; k++) {
    let y = targetAt(base + k);
    loss -= y * (logits[base + k] - top - logSum);
    mass += y;
  }
  for (var k = 0; k < u.classes; k++) {
    dLogits[base + k] = (exp(logits[base + k] - top) / sumExp * mass - targetAt(base + k)) * u.invBatch;
  }
  rows[2 * flat] = loss;
  rows[2 * flat + 1] = select(0.0, 1.0, topAt == labelAt);`,
  // Targets made by tf.oneHot(…).toFloat() on webgpu still hold int32 words (the Cast only
  // relabels the buffer, webgpu-kernels.ts): read them as such instead of a converting dispatch.
  `fn targetAt(i: i32) -> f32 {
  let word = labelWords[i];
  if (u.labelsInt != 0) { return f32(bitcast<i32>(word)); }
  return bitcast<f32>(word);
}`,
);

const TRAIN_STATS = kernel(
  'PoisonTrainStats',
  [['rows', 'read'], ['partials', 'read'], ['stats', 'read_write']],
  [['batch', 'i32'], ['partialCount', 'i32'], ['invBatch', 'f32'], ['halfWd', 'f32']],
  `var loss = 0.0;
  var correct = 0.0;
  var squares = 0.0;
  for (var i = i32(lid); i < u.batch; i += ${WORKGROUP}) { loss += rows[2 * i]; correct += rows[2 * i + 1]; }
  for (var i = i32(lid); i < u.partialCount; i += ${WORKGROUP}) { squares += partials[i]; }
  let lossTotal = wgSum(loss, lid);
  let correctTotal = wgSum(correct, lid);
  let squaresTotal = wgSum(squares, lid);
  if (lid == 0u) { stats[0] = lossTotal * u.invBatch + u.halfWd * squaresTotal; stats[1] = correctTotal; }`,
);

const BN_STATS = kernel(
  'PoisonBatchNormStats',
  [['x', 'read'], ['movingMean', 'read'], ['movingVariance', 'read'], ['stats', 'read_write'], ['newMean', 'read_write'], ['newVariance', 'read_write']],
  [['rows', 'i32'], ['channels', 'i32'], ['decay', 'f32']],
  `let c = i32(wid.x);
  var s = 0.0;
  for (var r = i32(lid); r < u.rows; r += ${WORKGROUP}) { s += x[r * u.channels + c]; }
  let mean = wgSum(s, lid) / f32(u.rows);
  var q = 0.0;
  for (var r = i32(lid); r < u.rows; r += ${WORKGROUP}) { let d = x[r * u.channels + c] - mean; q += d * d; }
  let variance = wgSum(q, lid) / f32(u.rows);
  if (lid == 0u) {
    stats[c] = mean;
    stats[u.channels + c] = variance;
    // tfjs-layers: moving ← moving − (moving − batch)·(1 − momentum).
    newMean[c] = movingMean[c] - (movingMean[c] - mean) * u.decay;
    newVariance[c] = movingVariance[c] - (movingVariance[c] - variance) * u.decay;
  }`,
);

const BN_APPLY = kernel(
  'PoisonBatchNormApply',
  [['x', 'read'], ['stats', 'read'], ['gamma', 'read'], ['beta', 'read'], ['y', 'read_write']],
  [['size', 'i32'], ['channels', 'i32'], ['epsilon', 'f32'], ['relu', 'i32']],
  `if (flat >= u.size) { return; }
  let c = flat % u.channels;
  let v = (x[flat] - stats[c]) * inverseSqrt(stats[u.channels + c] + u.epsilon) * gamma[c] + beta[c];
  y[flat] = select(v, max(v, 0.0), u.relu != 0);`,
);

const BN_INFERENCE = kernel(
  'PoisonBatchNormInference',
  [['x', 'read'], ['mean', 'read'], ['variance', 'read'], ['gamma', 'read'], ['beta', 'read'], ['y', 'read_write']],
  [['size', 'i32'], ['channels', 'i32'], ['epsilon', 'f32'], ['relu', 'i32']],
  `if (flat >= u.size) { return; }
  let c = flat % u.channels;
  let v = (x[flat] - mean[c]) * inverseSqrt(variance[c] + u.epsilon) * gamma[c] + beta[c];
  y[flat] = select(v, max(v, 0.0), u.relu != 0);`,
);

const BN_GRAD_SUMS = kernel(
  'PoisonBatchNormGradSums',
  [['dy', 'read'], ['y', 'read'], ['x', 'read'], ['stats', 'read'], ['sums', 'read_write']],
  [['rows', 'i32'], ['channels', 'i32'], ['epsilon', 'f32'], ['relu', 'i32']],
  `let c = i32(wid.x);
  let mean = stats[c];
  let inv = inverseSqrt(stats[u.channels + c] + u.epsilon);
  var sb = 0.0;
  var sg = 0.0;
  for (var r = i32(lid); r < u.rows; r += ${WORKGROUP}) {
    let i = r * u.channels + c;
    let g = select(dy[i], 0.0, u.relu != 0 && y[i] <= 0.0);
    sb += g;
    sg += g * (x[i] - mean) * inv;
  }
  let dBeta = wgSum(sb, lid);
  let dGamma = wgSum(sg, lid);
  if (lid == 0u) { sums[c] = dBeta; sums[u.channels + c] = dGamma; }`,
);

const BN_GRAD = kernel(
  'PoisonBatchNormGrad',
  [['dy', 'read'], ['y', 'read'], ['x', 'read'], ['stats', 'read'], ['gamma', 'read'], ['sums', 'read'], ['dx', 'read_write']],
  [['size', 'i32'], ['channels', 'i32'], ['rows', 'i32'], ['epsilon', 'f32'], ['relu', 'i32']],
  `if (flat >= u.size) { return; }
  let c = flat % u.channels;
  let inv = inverseSqrt(stats[u.channels + c] + u.epsilon);
  let g = select(dy[flat], 0.0, u.relu != 0 && y[flat] <= 0.0);
  let xhat = (x[flat] - stats[c]) * inv;
  let n = f32(u.rows);
  dx[flat] = gamma[c] * inv * (g - sums[c] / n - xhat * sums[u.channels + c] / n);`,
);

const IM2COL = kernel(
  'PoisonIm2Col',
  [['x', 'read'], ['cols', 'read_write']],
  [['size', 'i32'], ['height', 'i32'], ['width', 'i32'], ['inChannels', 'i32'], ['outHeight', 'i32'], ['outWidth', 'i32'],
    ['filterWidth', 'i32'], ['strideHeight', 'i32'], ['strideWidth', 'i32'], ['padTop', 'i32'], ['padLeft', 'i32'], ['depth', 'i32']],
  `if (flat >= u.size) { return; }
  let row = flat / (u.depth + 1);
  let j = flat % (u.depth + 1);
  if (j == u.depth) { cols[flat] = 1.0; return; }
  let ci = j % u.inChannels;
  let kk = j / u.inChannels;
  let n = row / (u.outHeight * u.outWidth);
  let pixel = row % (u.outHeight * u.outWidth);
  let ih = (pixel / u.outWidth) * u.strideHeight + kk / u.filterWidth - u.padTop;
  let iw = (pixel % u.outWidth) * u.strideWidth + kk % u.filterWidth - u.padLeft;
  var v = 0.0;
  if (ih >= 0 && ih < u.height && iw >= 0 && iw < u.width) { v = x[((n * u.height + ih) * u.width + iw) * u.inChannels + ci]; }
  cols[flat] = v;`,
);

const MAX_POOL_GRAD = kernel(
  'PoisonMaxPoolGrad',
  [['dy', 'read'], ['x', 'read'], ['dx', 'read_write']],
  [['size', 'i32'], ['height', 'i32'], ['width', 'i32'], ['channels', 'i32'], ['outHeight', 'i32'], ['outWidth', 'i32'],
    ['poolHeight', 'i32'], ['poolWidth', 'i32'], ['strideHeight', 'i32'], ['strideWidth', 'i32'], ['padTop', 'i32'], ['padLeft', 'i32'], ['relu', 'i32']],
  `if (flat >= u.size) { return; }
  let c = flat % u.channels;
  let w = (flat / u.channels) % u.width;
  let h = (flat / (u.channels * u.width)) % u.height;
  let n = flat / (u.channels * u.width * u.height);
  var total = 0.0;
  if (!(u.relu != 0 && x[flat] <= 0.0)) {
    for (var oh = max(0, (h + u.padTop - u.poolHeight) / u.strideHeight); oh <= min(u.outHeight - 1, (h + u.padTop) / u.strideHeight); oh++) {
      let top = oh * u.strideHeight - u.padTop;
      if (h < top || h >= top + u.poolHeight) { continue; }
      for (var ow = max(0, (w + u.padLeft - u.poolWidth) / u.strideWidth); ow <= min(u.outWidth - 1, (w + u.padLeft) / u.strideWidth); ow++) {
        let left = ow * u.strideWidth - u.padLeft;
        if (w < left || w >= left + u.poolWidth) { continue; }
        // The window's first maximum in row-major order takes the gradient (as tfjs).
        var best = -3.4e38;
        var bestAt = -1;
        for (var ph = 0; ph < u.poolHeight; ph++) {
          for (var pw = 0; pw < u.poolWidth; pw++) {
            let ih = top + ph;
            let iw = left + pw;
            if (ih >= 0 && ih < u.height && iw >= 0 && iw < u.width) {
              let v = x[((n * u.height + ih) * u.width + iw) * u.channels + c];
              if (bestAt < 0 || v > best) { best = v; bestAt = ph * u.poolWidth + pw; }
            }
          }
        }
        if (bestAt == (h - top) * u.poolWidth + (w - left)) { total += dy[((n * u.outHeight + oh) * u.outWidth + ow) * u.channels + c]; }
      }
    }
  }
  dx[flat] = total;`,
);

const DENSE_WEIGHT_GRAD = kernel(
  'PoisonDenseWeightGrad',
  [['x', 'read'], ['dy', 'read'], ['grad', 'read_write']],
  [['size', 'i32'], ['rows', 'i32'], ['inUnits', 'i32'], ['outUnits', 'i32']],
  `if (flat >= u.size) { return; }
  let k = flat / u.outUnits;
  let o = flat % u.outUnits;
  var s = 0.0;
  if (k < u.inUnits) {
    for (var m = 0; m < u.rows; m++) { s += x[m * u.inUnits + k] * dy[m * u.outUnits + o]; }
  } else {
    for (var m = 0; m < u.rows; m++) { s += dy[m * u.outUnits + o]; }
  }
  grad[flat] = s;`,
);

const DENSE_INPUT_GRAD = kernel(
  'PoisonDenseInputGrad',
  [['dy', 'read'], ['w', 'read'], ['y', 'read'], ['dx', 'read_write']],
  [['size', 'i32'], ['inUnits', 'i32'], ['outUnits', 'i32'], ['relu', 'i32']],
  `if (flat >= u.size) { return; }
  let m = flat / u.inUnits;
  let k = flat % u.inUnits;
  var s = 0.0;
  if (!(u.relu != 0 && y[flat] <= 0.0)) {
    for (var o = 0; o < u.outUnits; o++) { s += dy[m * u.outUnits + o] * w[k * u.outUnits + o]; }
  }
  dx[flat] = s;`,
);

const RELU_GRAD = kernel(
  'PoisonReluGrad',
  [['dy', 'read'], ['y', 'read'], ['dx', 'read_write']],
  [['size', 'i32']],
  `if (flat >= u.size) { return; }
  dx[flat] = select(dy[flat], 0.0, y[flat] <= 0.0);`,
);

type Inputs = Record<string, TensorInfo>;
type Attrs = Record<string, number>;
type FusedKernelFunc = (backend: WebGpuBackendInternals, inputs: Inputs, attrs: Attrs) => TensorInfo | TensorInfo[];

function need(inputs: Inputs, name: string): TensorInfo {
  const t = inputs[name];
  if (!t) throw new Error(`fused kernel input '${name}' missing`);
  return t;
}

const KERNELS: Record<string, FusedKernelFunc> = {
  PoisonSgdMomentum(backend, inputs, a) {
    const w = need(inputs, 'w');
    const size = sizeOf(w);
    const newW = newOutput(backend, w.shape);
    const newAcc = newOutput(backend, w.shape);
    dispatch(
      backend,
      SGD,
      [w, need(inputs, 'acc'), need(inputs, 'grad'), newW, newAcc, need(inputs, 'partials')],
      [...ints(size, a.gradOffset!, a.partialOffset!, a.nesterov!), ...floats(a.lr!, a.momentum!, a.halfWd!)],
      gridFor(size),
    );
    return [newW, newAcc];
  },
  PoisonSoftmaxCrossEntropy(backend, inputs) {
    const logits = need(inputs, 'logits');
    const [batch, classes] = logits.shape as [number, number];
    const dLogits = newOutput(backend, [batch, classes]);
    const rows = newOutput(backend, [batch, 2]);
    const labels = need(inputs, 'labels');
    const held = backend.tensorMap.get(labels.dataId)?.dtype ?? labels.dtype;
    dispatch(backend, SOFTMAX_CE, [logits, labels, dLogits, rows], [...ints(batch, classes), ...floats(1 / batch), ...ints(held === 'float32' ? 0 : 1)], gridFor(batch));
    return [dLogits, rows];
  },
  PoisonTrainStats(backend, inputs, a) {
    const rows = need(inputs, 'rows');
    const partials = need(inputs, 'partials');
    const stats = newOutput(backend, [2]);
    const batch = rows.shape[0]!;
    dispatch(backend, TRAIN_STATS, [rows, partials, stats], [...ints(batch, sizeOf(partials)), ...floats(1 / batch, a.halfWd!)], [1, 1, 1]);
    return stats;
  },
  PoisonBatchNormStats(backend, inputs, a) {
    const x = need(inputs, 'x');
    const channels = x.shape[x.shape.length - 1]!;
    const stats = newOutput(backend, [2, channels]);
    const mean = newOutput(backend, [channels]);
    const variance = newOutput(backend, [channels]);
    dispatch(
      backend,
      BN_STATS,
      [x, need(inputs, 'movingMean'), need(inputs, 'movingVariance'), stats, mean, variance],
      [...ints(sizeOf(x) / channels, channels), ...floats(1 - a.momentum!)],
      [channels, 1, 1],
    );
    return [stats, mean, variance];
  },
  PoisonBatchNormApply(backend, inputs, a) {
    const x = need(inputs, 'x');
    const y = newOutput(backend, x.shape);
    const size = sizeOf(x);
    dispatch(
      backend,
      BN_APPLY,
      [x, need(inputs, 'stats'), need(inputs, 'gamma'), need(inputs, 'beta'), y],
      [...ints(size, x.shape[x.shape.length - 1]!), ...floats(a.epsilon!), ...ints(a.relu!)],
      gridFor(size),
    );
    return y;
  },
  PoisonBatchNormInference(backend, inputs, a) {
    const x = need(inputs, 'x');
    const y = newOutput(backend, x.shape);
    const size = sizeOf(x);
    dispatch(
      backend,
      BN_INFERENCE,
      [x, need(inputs, 'mean'), need(inputs, 'variance'), need(inputs, 'gamma'), need(inputs, 'beta'), y],
      [...ints(size, x.shape[x.shape.length - 1]!), ...floats(a.epsilon!), ...ints(a.relu!)],
      gridFor(size),
    );
    return y;
  },
  PoisonBatchNormGradSums(backend, inputs, a) {
    const x = need(inputs, 'x');
    const channels = x.shape[x.shape.length - 1]!;
    const sums = newOutput(backend, [2, channels]);
    dispatch(
      backend,
      BN_GRAD_SUMS,
      [need(inputs, 'dy'), need(inputs, 'y'), x, need(inputs, 'stats'), sums],
      [...ints(sizeOf(x) / channels, channels), ...floats(a.epsilon!), ...ints(a.relu!)],
      [channels, 1, 1],
    );
    return sums;
  },
  PoisonBatchNormGrad(backend, inputs, a) {
    const x = need(inputs, 'x');
    const channels = x.shape[x.shape.length - 1]!;
    const size = sizeOf(x);
    const dx = newOutput(backend, x.shape);
    dispatch(
      backend,
      BN_GRAD,
      [need(inputs, 'dy'), need(inputs, 'y'), x, need(inputs, 'stats'), need(inputs, 'gamma'), need(inputs, 'sums'), dx],
      [...ints(size, channels, size / channels), ...floats(a.epsilon!), ...ints(a.relu!)],
      gridFor(size),
    );
    return dx;
  },
  PoisonIm2Col(backend, inputs, a) {
    const x = need(inputs, 'x');
    const [n, h, w, ci] = x.shape as [number, number, number, number];
    const depth = a.filterHeight! * a.filterWidth! * ci;
    const rows = n * a.outHeight! * a.outWidth!;
    const cols = newOutput(backend, [rows, depth + 1]);
    const size = rows * (depth + 1);
    dispatch(
      backend,
      IM2COL,
      [x, cols],
      ints(size, h, w, ci, a.outHeight!, a.outWidth!, a.filterWidth!, a.strideHeight!, a.strideWidth!, a.padTop!, a.padLeft!, depth),
      gridFor(size),
    );
    return cols;
  },
  PoisonMaxPoolGrad(backend, inputs, a) {
    const x = need(inputs, 'x');
    const dy = need(inputs, 'dy');
    const [, h, w, c] = x.shape as [number, number, number, number];
    const size = sizeOf(x);
    const dx = newOutput(backend, x.shape);
    dispatch(
      backend,
      MAX_POOL_GRAD,
      [dy, x, dx],
      ints(size, h, w, c, dy.shape[1]!, dy.shape[2]!, a.poolHeight!, a.poolWidth!, a.strideHeight!, a.strideWidth!, a.padTop!, a.padLeft!, a.relu!),
      gridFor(size),
    );
    return dx;
  },
  PoisonDenseWeightGrad(backend, inputs) {
    const x = need(inputs, 'x');
    const dy = need(inputs, 'dy');
    const [rows, inUnits] = x.shape as [number, number];
    const outUnits = dy.shape[1]!;
    const grad = newOutput(backend, [inUnits + 1, outUnits]);
    const size = (inUnits + 1) * outUnits;
    dispatch(backend, DENSE_WEIGHT_GRAD, [x, dy, grad], ints(size, rows, inUnits, outUnits), gridFor(size));
    return grad;
  },
  PoisonDenseInputGrad(backend, inputs, a) {
    const dy = need(inputs, 'dy');
    const w = need(inputs, 'w');
    const [inUnits, outUnits] = w.shape as [number, number];
    const rows = dy.shape[0]!;
    const dx = newOutput(backend, [rows, inUnits]);
    const size = rows * inUnits;
    dispatch(backend, DENSE_INPUT_GRAD, [dy, w, need(inputs, 'y'), dx], ints(size, inUnits, outUnits, a.relu!), gridFor(size));
    return dx;
  },
  PoisonReluGrad(backend, inputs) {
    const dy = need(inputs, 'dy');
    const size = sizeOf(dy);
    const dx = newOutput(backend, dy.shape);
    dispatch(backend, RELU_GRAD, [dy, need(inputs, 'y'), dx], ints(size), gridFor(size));
    return dx;
  },
};

/** Registers the fused kernels with the webgpu backend (once; they have names of their own). */
export function registerFusedKernels(): void {
  for (const [kernelName, run] of Object.entries(KERNELS)) {
    if (tf.getKernel(kernelName, 'webgpu')) continue;
    tf.registerKernel({
      kernelName,
      backendName: 'webgpu',
      kernelFunc: ({ inputs, backend, attrs }) =>
        run(backend as unknown as WebGpuBackendInternals, inputs as unknown as Inputs, (attrs ?? {}) as unknown as Attrs),
    });
  }
}

type Tensors = Record<string, tf.Tensor>;

function runOne(name: string, inputs: Tensors, attrs: Attrs = {}): tf.Tensor {
  return tf.engine().runKernel(name, inputs, attrs as unknown as tf.NamedAttrMap);
}
function runMany(name: string, inputs: Tensors, attrs: Attrs = {}): tf.Tensor[] {
  return tf.engine().runKernel(name, inputs, attrs as unknown as tf.NamedAttrMap) as unknown as tf.Tensor[];
}

export interface SgdSettings {
  lr: number;
  momentum: number;
  nesterov: boolean;
  weightDecay: number;
}

/** Slots of the ‖w‖² partials a variable of `size` elements writes. */
export function sgdPartialSlots(size: number): number {
  const [x, y] = gridFor(size);
  return x * y;
}

/** One variable's momentum-SGD update: [new weight, new momentum]; writes its ‖w‖² partials into `partials` at `partialOffset`. */
export function sgdMomentum(w: tf.Tensor, acc: tf.Tensor, grad: tf.Tensor, gradOffset: number, partials: tf.Tensor, partialOffset: number, s: SgdSettings): [tf.Tensor, tf.Tensor] {
  const [newW, newAcc] = runMany(
    'PoisonSgdMomentum',
    { w, acc, grad, partials },
    { gradOffset, partialOffset, lr: s.lr, momentum: s.momentum, halfWd: s.weightDecay / 2, nesterov: s.nesterov ? 1 : 0 },
  );
  return [newW!, newAcc!];
}

/** [dL/dlogits, rows [B, 2] = (loss, correct)] of L = −mean_i Σ_k y_ik log softmax(logits)_ik. */
export function softmaxCrossEntropy(logits: tf.Tensor, labels: tf.Tensor): [tf.Tensor, tf.Tensor] {
  const [d, rows] = runMany('PoisonSoftmaxCrossEntropy', { logits, labels });
  return [d!, rows!];
}

/** [mean loss + wd/2·Σ partials, correct count]. */
export function trainStats(rows: tf.Tensor, partials: tf.Tensor, weightDecay: number): tf.Tensor1D {
  return runOne('PoisonTrainStats', { rows, partials }, { halfWd: weightDecay / 2 }) as tf.Tensor1D;
}

/** [stats [2, C] = (batch mean, biased variance), new moving mean, new moving variance]. */
export function batchNormStats(x: tf.Tensor, movingMean: tf.Tensor, movingVariance: tf.Tensor, momentum: number): [tf.Tensor, tf.Tensor, tf.Tensor] {
  const [stats, mean, variance] = runMany('PoisonBatchNormStats', { x, movingMean, movingVariance }, { momentum });
  return [stats!, mean!, variance!];
}

export function batchNormApply(x: tf.Tensor, stats: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, epsilon: number, relu: boolean): tf.Tensor {
  return runOne('PoisonBatchNormApply', { x, stats, gamma, beta }, { epsilon, relu: relu ? 1 : 0 });
}

/** Inference-mode batch norm with the moving statistics (+ ReLU): one dispatch, as tf.batchNorm + tf.relu. */
export function batchNormInference(x: tf.Tensor, mean: tf.Tensor, variance: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, epsilon: number, relu: boolean): tf.Tensor {
  return runOne('PoisonBatchNormInference', { x, mean, variance, gamma, beta }, { epsilon, relu: relu ? 1 : 0 });
}

/** [Σ g, Σ g·x̂] per channel ([2, C]: the β and γ gradients), g = dy (× ReLU mask of y). */
export function batchNormGradSums(dy: tf.Tensor, y: tf.Tensor, x: tf.Tensor, stats: tf.Tensor, epsilon: number, relu: boolean): tf.Tensor {
  return runOne('PoisonBatchNormGradSums', { dy, y, x, stats }, { epsilon, relu: relu ? 1 : 0 });
}

export function batchNormGrad(dy: tf.Tensor, y: tf.Tensor, x: tf.Tensor, stats: tf.Tensor, gamma: tf.Tensor, sums: tf.Tensor, epsilon: number, relu: boolean): tf.Tensor {
  return runOne('PoisonBatchNormGrad', { dy, y, x, stats, gamma, sums }, { epsilon, relu: relu ? 1 : 0 });
}

interface ConvGeometry {
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  padTop: number;
  padLeft: number;
  outHeight: number;
  outWidth: number;
}

/** [N·OH·OW, KH·KW·Ci + 1]: the convolution's patches, and a last column of ones. */
export function im2col(x: tf.Tensor, g: ConvGeometry): tf.Tensor2D {
  return runOne('PoisonIm2Col', { x }, { ...g }) as tf.Tensor2D;
}

export interface PoolGeometry {
  poolHeight: number;
  poolWidth: number;
  strideHeight: number;
  strideWidth: number;
  padTop: number;
  padLeft: number;
}

/** Max-pool input gradient; with `relu`, zero where the pool's input x ≤ 0. */
export function maxPoolGrad(dy: tf.Tensor, x: tf.Tensor, g: PoolGeometry, relu: boolean): tf.Tensor {
  return runOne('PoisonMaxPoolGrad', { dy, x }, { ...g, relu: relu ? 1 : 0 });
}

/** [K + 1, N]: xᵀ·dy over its first K rows, Σ_rows dy (the bias gradient) as its last. */
export function denseWeightGrad(x: tf.Tensor, dy: tf.Tensor): tf.Tensor2D {
  return runOne('PoisonDenseWeightGrad', { x, dy }) as tf.Tensor2D;
}

/** dy·wᵀ; with `relu`, zero where y ≤ 0 (y: the dense layer's input, a ReLU output). */
export function denseInputGrad(dy: tf.Tensor, w: tf.Tensor, y: tf.Tensor, relu: boolean): tf.Tensor2D {
  return runOne('PoisonDenseInputGrad', { dy, w, y }, { relu: relu ? 1 : 0 }) as tf.Tensor2D;
}

/** dy where y > 0, else 0. */
export function reluGrad(dy: tf.Tensor, y: tf.Tensor): tf.Tensor {
  return runOne('PoisonReluGrad', { dy, y });
}
