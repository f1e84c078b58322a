/**
 * A whole training step of a sequential conv net on the webgpu backend in ≈ 4 dispatches per
 * layer, instead of tfjs's autodiff and optimizer (≈ 90 per VGG block): the forward pass with
 * stock single-dispatch kernels (fused conv + bias + ReLU, fused matmul + bias + ReLU, max-pool)
 * and the fused kernels of kernels.ts; the backward pass written out per layer kind; one fused
 * momentum-SGD dispatch per variable; the loss and correct count reduced on the GPU.
 *
 * The numbers are those of loop.ts's tfjs path (soft-label cross-entropy + wd/2·‖w‖², tfjs's
 * MomentumOptimizer, tfjs-layers' batch norm with batch statistics and moving averages), up to
 * float rounding (test/webgpu-fused.test.ts compares 3 steps with wasm's).
 *
 * Supported layers: Conv2D (channels-last, no dilation, bias, linear or ReLU), BatchNormalization
 * (last axis, centre and scale), ReLU / Activation('relu'), MaxPooling2D, Flatten, Dense (bias,
 * linear or ReLU) ending in a linear Dense: the three architectures of src/models/. For any
 * other model `planFusedTraining` returns null and the caller keeps the tfjs path.
 */
import * as tf from '@tensorflow/tfjs';
import { installedWebGpuKernels } from '../webgpu-kernels.js';
import { storageLimit, type WebGpuBackendInternals } from './dispatch.js';
import {
  batchNormApply,
  batchNormGrad,
  batchNormGradSums,
  batchNormInference,
  batchNormStats,
  denseInputGrad,
  denseWeightGrad,
  im2col,
  maxPoolGrad,
  reluGrad,
  sgdMomentum,
  sgdPartialSlots,
  softmaxCrossEntropy,
  trainStats,
  type PoolGeometry,
  type SgdSettings,
} from './kernels.js';

/** tfjs-layers' LayerVariable, as far as used here. */
interface LayerVariableLike {
  read(): tf.Variable;
  write(value: tf.Tensor): void;
  trainable: boolean;
}

interface ConvUnit {
  kind: 'conv';
  kernel: LayerVariableLike;
  bias: LayerVariableLike;
  strides: [number, number];
  padding: 'same' | 'valid';
  bn: { gamma: LayerVariableLike; beta: LayerVariableLike; movingMean: LayerVariableLike; movingVariance: LayerVariableLike; momentum: number; epsilon: number } | null;
  relu: boolean;
}
interface PoolUnit {
  kind: 'pool';
  pool: [number, number];
  strides: [number, number];
  padding: 'same' | 'valid';
}
interface FlattenUnit {
  kind: 'flatten';
}
interface DenseUnit {
  kind: 'dense';
  kernel: LayerVariableLike;
  bias: LayerVariableLike;
  relu: boolean;
}
type Unit = ConvUnit | PoolUnit | FlattenUnit | DenseUnit;

/** A model's training step as fused kernels, and the momentum state it keeps between steps. */
interface FusedTrainer {
  /** One step on (x, y): updates the model's variables; returns [loss, correct count] on the GPU. */
  step(x: tf.Tensor4D, y: tf.Tensor2D, lr: number): tf.Tensor1D;
  dispose(): void;
}

type LayerLike = tf.layers.Layer & Record<string, unknown>;

const pair = (v: unknown): [number, number] => (Array.isArray(v) ? [Number(v[0]), Number(v[1] ?? v[0])] : [Number(v), Number(v)]);

function activationName(layer: LayerLike): string {
  const a = layer.activation as { getClassName?: () => string } | undefined;
  return a?.getClassName?.() ?? 'linear';
}

/** The model as units, or null where a layer or setting is not supported. */
function unitsOf(model: tf.LayersModel): Unit[] | null {
  // model.layers in order is the computation only for a sequential chain.
  if (model.getClassName() !== 'Sequential') return null;
  const units: Unit[] = [];
  for (const raw of model.layers) {
    const layer = raw as LayerLike;
    const cls = layer.getClassName();
    const cfg = layer.getConfig();
    const last = units[units.length - 1];
    if (cls === 'InputLayer') continue;
    // Convolutions and pools take images, dense layers flat rows (tfjs's Dense on images maps the last axis).
    const takesImages = last === undefined || last.kind === 'conv' || last.kind === 'pool';
    if ((cls === 'Conv2D' || cls === 'MaxPooling2D' || cls === 'Flatten') && !takesImages) return null;
    if (cls === 'Dense' && last?.kind !== 'flatten' && last?.kind !== 'dense') return null;
    if (cls === 'Conv2D') {
      const act = activationName(layer);
      if ((cfg.dataFormat ?? 'channelsLast') !== 'channelsLast' || pair(cfg.dilationRate ?? 1).some((d) => d !== 1) || !cfg.useBias) return null;
      if (act !== 'relu' && act !== 'linear') return null;
      if (cfg.padding !== 'same' && cfg.padding !== 'valid') return null;
      units.push({
        kind: 'conv',
        kernel: layer.kernel as LayerVariableLike,
        bias: layer.bias as LayerVariableLike,
        strides: pair(cfg.strides),
        padding: cfg.padding,
        bn: null,
        relu: act === 'relu',
      });
    } else if (cls === 'BatchNormalization') {
      if (last?.kind !== 'conv' || last.bn || last.relu || !cfg.center || !cfg.scale) return null;
      if (cfg.axis !== -1 && cfg.axis !== 3) return null;
      last.bn = {
        gamma: layer.gamma as LayerVariableLike,
        beta: layer.beta as LayerVariableLike,
        movingMean: layer.movingMean as LayerVariableLike,
        movingVariance: layer.movingVariance as LayerVariableLike,
        momentum: Number(cfg.momentum),
        epsilon: Number(cfg.epsilon),
      };
    } else if (cls === 'ReLU' || (cls === 'Activation' && activationName(layer) === 'relu')) {
      if (cls === 'ReLU' && (cfg.maxValue ?? null) !== null) return null;
      if ((last?.kind !== 'conv' && last?.kind !== 'dense') || last.relu) return null;
      last.relu = true;
    } else if (cls === 'MaxPooling2D') {
      if ((cfg.dataFormat ?? 'channelsLast') !== 'channelsLast' || cfg.padding !== 'valid') return null;
      units.push({ kind: 'pool', pool: pair(cfg.poolSize), strides: pair(cfg.strides ?? cfg.poolSize), padding: 'valid' });
    } else if (cls === 'Flatten') {
      units.push({ kind: 'flatten' });
    } else if (cls === 'Dense') {
      const act = activationName(layer);
      if (!cfg.useBias || (act !== 'relu' && act !== 'linear')) return null;
      units.push({ kind: 'dense', kernel: layer.kernel as LayerVariableLike, bias: layer.bias as LayerVariableLike, relu: act === 'relu' });
    } else {
      return null;
    }
  }
  const tail = units[units.length - 1];
  if (tail?.kind !== 'dense' || tail.relu) return null;
  return units;
}

function trainablesOf(units: Unit[]): LayerVariableLike[] {
  const out: LayerVariableLike[] = [];
  for (const u of units) {
    if (u.kind === 'conv') {
      out.push(u.kernel, u.bias);
      if (u.bn) out.push(u.bn.gamma, u.bn.beta);
    } else if (u.kind === 'dense') out.push(u.kernel, u.bias);
  }
  return out;
}

/** What the backward pass of a unit needs from its forward pass. */
interface Saved {
  input: tf.Tensor;
  output: tf.Tensor;
  /** conv + BN: the convolution's output (before normalisation) and the batch statistics. */
  preNorm?: tf.Tensor;
  stats?: tf.Tensor;
}

function padOf(x: tf.Tensor, unit: ConvUnit, kernel: tf.Tensor): { top: number; left: number; outHeight: number; outWidth: number } {
  const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], kernel.shape as [number, number, number, number], unit.strides, 1, unit.padding);
  return { top: info.padInfo.top, left: info.padInfo.left, outHeight: info.outHeight, outWidth: info.outWidth };
}

/** Whether the tensor a unit receives is a ReLU output (so a gradient wrt it may take the ReLU mask). */
/** The forward of a unit that trains and infers alike (pool, flatten, dense): stock single-dispatch kernels. */
function forwardPlain(u: PoolUnit | FlattenUnit | DenseUnit, a: tf.Tensor): tf.Tensor {
  if (u.kind === 'pool') return tf.maxPool(a as tf.Tensor4D, u.pool, u.strides, u.padding);
  if (u.kind === 'flatten') return tf.reshape(a, [a.shape[0], -1]);
  return tf.fused.matMul({ a: a as tf.Tensor2D, b: u.kernel.read() as tf.Tensor2D, bias: u.bias.read(), activation: u.relu ? 'relu' : 'linear' });
}

function inputIsRelu(units: Unit[], index: number): boolean {
  for (let i = index - 1; i >= 0; i--) {
    const u = units[i]!;
    if (u.kind === 'flatten') continue;
    return u.kind !== 'pool' && u.relu;
  }
  return false;
}

/**
 * The tensor with a float32 GPU buffer: tfjs-webgpu's Cast from int32 only relabels the buffer
 * (webgpu-kernels.ts), and the fused kernels read every binding as f32. Adding a float zero
 * converts (tfjs's Add reads its input as the buffer's type).
 */
function floatBuffer<T extends tf.Tensor>(t: T): T {
  const held = (tf.backend() as unknown as WebGpuBackendInternals).tensorMap.get(t.dataId)?.dtype ?? t.dtype;
  return held === 'float32' ? t : tf.add(t, tf.scalar(0, 'float32'));
}

/**
 * The fused trainer for `model`, or null where the model has a layer it does not cover, the
 * variables it updates would differ from the model's trainable weights, or the backend is not webgpu.
 */
export function planFusedTraining(model: tf.LayersModel, sgd: Omit<SgdSettings, 'lr'>): FusedTrainer | null {
  if (tf.getBackend() !== 'webgpu') return null;
  const units = unitsOf(model);
  if (!units) return null;
  const trainables = trainablesOf(units);
  const modelTrainables = model.trainableWeights.map((w) => w.read());
  if (trainables.length !== modelTrainables.length || trainables.some((v) => !v.trainable || !modelTrainables.includes(v.read()))) return null;
  const backend = tf.backend() as unknown as WebGpuBackendInternals;
  const momenta = new Map<LayerVariableLike, tf.Variable>();

  const forward = (x: tf.Tensor4D): { logits: tf.Tensor2D; saved: Saved[] } => {
    const saved: Saved[] = [];
    let a: tf.Tensor = x;
    for (const u of units) {
      const input = a;
      if (u.kind === 'conv') {
        const kernel = u.kernel.read();
        if (u.bn) {
          const z = tf.fused.conv2d({ x: a as tf.Tensor4D, filter: kernel as tf.Tensor4D, strides: u.strides, pad: u.padding, bias: u.bias.read() });
          const [stats, mean, variance] = batchNormStats(z, u.bn.movingMean.read(), u.bn.movingVariance.read(), u.bn.momentum);
          u.bn.movingMean.write(mean);
          u.bn.movingVariance.write(variance);
          a = batchNormApply(z, stats, u.bn.gamma.read(), u.bn.beta.read(), u.bn.epsilon, u.relu);
          saved.push({ input, output: a, preNorm: z, stats });
          continue;
        }
        a = tf.fused.conv2d({ x: a as tf.Tensor4D, filter: kernel as tf.Tensor4D, strides: u.strides, pad: u.padding, bias: u.bias.read(), activation: u.relu ? 'relu' : 'linear' });
      } else {
        a = forwardPlain(u, a);
      }
      saved.push({ input, output: a });
    }
    return { logits: a as tf.Tensor2D, saved };
  };

  /** Gradients of every trainable: [packed tensor, offset] (conv/dense: [W; b] in one; BN: [β; γ]). */
  const backward = (dLogits: tf.Tensor, saved: Saved[]): Map<LayerVariableLike, [tf.Tensor, number]> => {
    const grads = new Map<LayerVariableLike, [tf.Tensor, number]>();
    let g: tf.Tensor = dLogits;
    // Whether g already carries the ReLU mask of the unit that produced it.
    let masked = true;
    for (let i = units.length - 1; i >= 0; i--) {
      const u = units[i]!;
      const s = saved[i]!;
      const first = i === 0;
      const maskInput = inputIsRelu(units, i);
      if (u.kind === 'flatten') {
        g = tf.reshape(g, s.input.shape);
      } else if (u.kind === 'pool') {
        const [ph, pw] = u.pool;
        const geometry: PoolGeometry = { poolHeight: ph, poolWidth: pw, strideHeight: u.strides[0], strideWidth: u.strides[1], padTop: 0, padLeft: 0 };
        g = maxPoolGrad(g, s.input, geometry, maskInput);
        masked = maskInput;
      } else if (u.kind === 'dense') {
        const kernel = u.kernel.read();
        const dz = u.relu && !masked ? reluGrad(g, s.output) : g;
        const packed = denseWeightGrad(s.input, dz);
        grads.set(u.kernel, [packed, 0]);
        grads.set(u.bias, [packed, kernel.size]);
        if (!first) {
          g = denseInputGrad(dz, kernel, s.input, maskInput);
          masked = maskInput;
        }
      } else {
        const kernel = u.kernel.read();
        let dz: tf.Tensor;
        if (u.bn) {
          const sums = batchNormGradSums(g, s.output, s.preNorm!, s.stats!, u.bn.epsilon, u.relu);
          grads.set(u.bn.beta, [sums, 0]);
          grads.set(u.bn.gamma, [sums, u.bn.gamma.read().size]);
          dz = batchNormGrad(g, s.output, s.preNorm!, s.stats!, u.bn.gamma.read(), sums, u.bn.epsilon, u.relu);
        } else {
          dz = u.relu && !masked ? reluGrad(g, s.output) : g;
        }
        const [kh, kw, ci, co] = kernel.shape as [number, number, number, number];
        const { top, left, outHeight, outWidth } = padOf(s.input, u, kernel);
        const rows = s.input.shape[0] * outHeight * outWidth;
        if (rows * (kh * kw * ci + 1) * 4 <= storageLimit(backend)) {
          const cols = im2col(s.input, { filterHeight: kh, filterWidth: kw, strideHeight: u.strides[0], strideWidth: u.strides[1], padTop: top, padLeft: left, outHeight, outWidth });
          const packed = tf.matMul(cols, tf.reshape(dz, [rows, co]), true, false);
          grads.set(u.kernel, [packed, 0]);
          grads.set(u.bias, [packed, kernel.size]);
        } else {
          // Too large for one storage binding: the filter-gradient kernel of webgpu-kernels.ts.
          grads.set(u.kernel, [
            tf.engine().runKernel('Conv2DBackpropFilter', { x: s.input, dy: dz }, { strides: u.strides, pad: u.padding, dataFormat: 'NHWC', filterShape: [kh, kw, ci, co] }),
            0,
          ]);
          grads.set(u.bias, [tf.sum(tf.reshape(dz, [rows, co]), 0), 0]);
        }
        if (!first) {
          g = tf.conv2dTranspose(dz as tf.Tensor4D, kernel as tf.Tensor4D, s.input.shape as [number, number, number, number], u.strides, u.padding);
          masked = false;
        }
      }
    }
    return grads;
  };

  return {
    step(x, y, lr) {
      return tf.tidy(() => {
        const { logits, saved } = forward(floatBuffer(x));
        const [dLogits, rows] = softmaxCrossEntropy(logits, y);
        const grads = backward(dLogits, saved);
        const slots = trainables.map((v) => sgdPartialSlots(v.read().size));
        const partials = tf.engine().makeTensorFromTensorInfo(
          backend.makeTensorInfo([slots.reduce((a, b) => a + b, 0)], 'float32'),
        );
        let offset = 0;
        const updates: [LayerVariableLike, tf.Tensor, tf.Tensor][] = [];
        trainables.forEach((v, k) => {
          const w = v.read();
          let acc = momenta.get(v);
          if (!acc) {
            acc = tf.variable(tf.zeros(w.shape), false);
            momenta.set(v, acc);
          }
          const [grad, gradOffset] = grads.get(v)!;
          const [newW, newAcc] = sgdMomentum(w, acc, grad, gradOffset, partials, offset, { ...sgd, lr });
          updates.push([v, newW, newAcc]);
          offset += slots[k]!;
        });
        // Assign only after every update read the old weights.
        for (const [v, newW, newAcc] of updates) {
          v.write(newW);
          momenta.get(v)!.assign(newAcc);
        }
        return trainStats(rows, partials, sgd.weightDecay);
      });
    },
    dispose() {
      for (const m of momenta.values()) m.dispose();
      momenta.clear();
    },
  };
}

const inferencePlans = new WeakMap<tf.LayersModel, Unit[] | null>();

/**
 * Logits of `model` in inference mode (batch norm on its moving statistics) as one dispatch per
 * conv / pool / dense layer and one per batch norm (+ ReLU): tfjs-layers runs conv, batch norm
 * and ReLU as three, plus glue. Null where it does not apply: another backend, the stock kernel
 * set, a layer it does not cover, or a gradient being recorded (the fused kernels have no
 * gradients; tf.grad through the model takes tfjs's path).
 */
export function fusedInferenceLogits(model: tf.LayersModel, x: tf.Tensor4D): tf.Tensor2D | null {
  if (tf.getBackend() !== 'webgpu' || installedWebGpuKernels() !== 'im2col') return null;
  if ((tf.engine() as unknown as { isTapeOn(): boolean }).isTapeOn()) return null;
  let units = inferencePlans.get(model);
  if (units === undefined) {
    units = unitsOf(model);
    inferencePlans.set(model, units);
  }
  if (!units) return null;
  const plan = units;
  return tf.tidy(() => {
    let a: tf.Tensor = floatBuffer(x);
    for (const u of plan) {
      if (u.kind === 'conv') {
        const common = { filter: u.kernel.read() as tf.Tensor4D, strides: u.strides, pad: u.padding, bias: u.bias.read() };
        if (u.bn) {
          const z = tf.fused.conv2d({ x: a as tf.Tensor4D, ...common });
          a = batchNormInference(z, u.bn.movingMean.read(), u.bn.movingVariance.read(), u.bn.gamma.read(), u.bn.beta.read(), u.bn.epsilon, u.relu);
        } else {
          a = tf.fused.conv2d({ x: a as tf.Tensor4D, ...common, activation: u.relu ? 'relu' : 'linear' });
        }
      } else {
        a = forwardPlain(u, a);
      }
    }
    return a as tf.Tensor2D;
  });
}
