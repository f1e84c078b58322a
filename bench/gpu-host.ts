/**
 * `npm run bench -- gpu-host`: what the host does per training step and per inference batch on
 * the webgpu backend — dispatches, compute passes, submits, buffer writes, bind groups, GPU→CPU
 * reads (mapAsync) and host milliseconds — for LeNet, cnn-small and VGG16-BN, with tfjs's stock
 * kernels and host path and with the project's, in the same run, as ratios.
 *
 * Runs on Dawn's null adapter (POISON_DAWN_FLAGS=backend=null, set here unless the caller set
 * POISON_DAWN_FLAGS): it validates and records every WebGPU call and executes nothing, so what
 * it measures is the host's share of a step — the share that bounds a VGG16-BN step on an H200
 * (../shared/gpu/README.md) — on any machine, without a GPU. Values it computes are garbage.
 * On a real adapter (bench/gpu-run.sh sets POISON_DAWN_FLAGS itself) the same figures include
 * the GPU's work.
 *
 * Knobs (environment): BENCH_STEPS (measured steps per round, 5), BENCH_WARMUP (steps dropped
 * before them, 15), BENCH_ROUNDS (rounds per configuration, interleaved, 3), BENCH_LENET_BATCH
 * (64), BENCH_CIFAR_BATCH (8: cnn-small and VGG16-BN; the null adapter has little memory, and
 * host cost hardly depends on the batch). BENCH_STEPS=1 BENCH_WARMUP=1 BENCH_ROUNDS=1 is the
 * smoke run.
 */
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../src/engine/backend.js';
import { countsBetween, installWebGpuCounter, webGpuCounts, type WebGpuCounts } from '../src/engine/webgpu-counter.js';
import { registerWebGpuKernels } from '../src/engine/webgpu-kernels.js';
import { releaseFreeWebGpuBuffers, setWebGpuHostPath, webGpuHostPath } from '../src/engine/webgpu-host.js';
import { setMeanGradient } from '../src/engine/mean-gradient.js';
import { inferencePosterior } from '../src/defenses/forward.js';
import { buildModel } from '../src/models/registry.js';
import type { ArchName } from '../src/models/types.js';
import { trainClassifier, type BatchSource, type TrainSettings } from '../src/train/loop.js';
import { Rng } from '../src/util/rng.js';

/**
 * A kernel set and host path: `stock` tfjs's own kernels, host path and Mean gradient; `host`
 * tfjs's kernels on the project's host path (src/engine/webgpu-host.ts) with its Mean gradient
 * (src/engine/mean-gradient.ts: no ones tensor filled on the CPU); `ours` all of the project's
 * (its default).
 */
export type HostConfig = 'stock' | 'host' | 'ours';

/**
 * Installs one configuration's kernels and host path (webgpu must be the backend), starting from
 * an empty buffer pool: each measurement then sees the same pool whatever ran before (counts are
 * reproducible), and two configurations' pools never add up on the null adapter's small memory.
 */
export function useHostConfig(config: HostConfig): void {
  releaseFreeWebGpuBuffers();
  registerWebGpuKernels(config === 'ours' ? undefined : 'stock');
  setWebGpuHostPath(config === 'stock' ? 'stock' : 'ours');
  setMeanGradient(config === 'stock' ? 'stock' : 'broadcast');
}

/** The architectures measured, each with its input shape. */
export const HOST_ARCHS: { arch: ArchName; label: string; shape: [number, number, number] }[] = [
  // The largest first: tfjs's buffer pools never shrink, and the null adapter's memory is small.
  { arch: 'vgg16_bn', label: 'VGG16-BN', shape: [32, 32, 3] },
  { arch: 'cnn-small', label: 'cnn-small', shape: [32, 32, 3] },
  { arch: 'lenet', label: 'LeNet', shape: [28, 28, 1] },
];

/** Training settings of configs/cifar.yaml's victim (no weight decay, as there). */
const SETTINGS: Omit<TrainSettings, 'batchSize'> = { epochs: 1, lr: 0.1, momentum: 0.5, lrStep: 50, weightDecay: 0 };

/** Random images and one-hot labels: host cost does not depend on the values. */
export function randomSource(count: number, shape: [number, number, number], classes: number): BatchSource {
  const rng = new Rng(3);
  const size = shape[0] * shape[1] * shape[2];
  const pixels = new Float32Array(count * size);
  for (let i = 0; i < pixels.length; i++) pixels[i] = rng.next();
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) labels[i] = rng.int(classes);
  return {
    count,
    batch(indices) {
      return tf.tidy(() => {
        const buf = new Float32Array(indices.length * size);
        indices.forEach((idx, j) => buf.set(pixels.subarray(idx * size, (idx + 1) * size), j * size));
        const x = tf.tensor4d(buf, [indices.length, ...shape]);
        const y = tf.oneHot(tf.tensor1d(Array.from(indices, (i) => labels[i]!), 'int32'), classes).toFloat() as tf.Tensor2D;
        return { x, y };
      });
    },
  };
}

/** One measured step or batch: what the WebGPU API was asked to do, and the host's wall time. */
export interface StepCost {
  counts: WebGpuCounts;
  ms: number;
}

/**
 * Steps of the real training loop (trainClassifier), one by one: `warmup` + `steps` + 2 batches
 * in one call, and the WebGPU calls and time between two consecutive batch reports. trainClassifier
 * reads each step's loss one step late, so between the report of batch k and that of k + 1 it
 * issues step k + 2 and reads step k + 1: exactly one step's work, its one read included. The
 * first two steps (the optimizer's accumulators are created in the first) are not among them;
 * `warmup` more are dropped (shaders compile, buffer pools fill).
 */
export async function measureTrainingSteps(model: tf.LayersModel, shape: [number, number, number], batch: number, warmup: number, steps: number): Promise<StepCost[]> {
  const batches = warmup + steps + 2;
  const marks: { counts: WebGpuCounts; at: number }[] = [];
  await trainClassifier(model, randomSource(batch * batches, shape, 10), { ...SETTINGS, batchSize: batch }, new Rng(2), {
    onBatchEnd: () => marks.push({ counts: webGpuCounts(), at: performance.now() }),
  });
  const costs: StepCost[] = [];
  // marks[k] → marks[k + 1] for k < batches − 1 spans one step (the last report only reads).
  for (let k = warmup; k < batches - 2; k++) {
    costs.push({ counts: countsBetween(marks[k]!.counts, marks[k + 1]!.counts), ms: marks[k + 1]!.at - marks[k]!.at });
  }
  return costs;
}

/**
 * Inference batches as the defended black box runs them (inferencePosterior), kept on the GPU and
 * summed, read once after the last: per batch, the calls and time of one forward pass.
 */
export async function measureInferenceBatches(model: tf.LayersModel, shape: [number, number, number], batch: number, warmup: number, steps: number): Promise<StepCost[]> {
  const x = tf.randomUniform([batch, ...shape], 0, 1, 'float32', 4) as tf.Tensor4D;
  let sum: tf.Tensor = tf.scalar(0);
  const one = (): void => {
    const next = tf.tidy(() => tf.add(sum, tf.sum(inferencePosterior(model, x))));
    sum.dispose();
    sum = next;
  };
  for (let i = 0; i < warmup; i++) one();
  await sum.data();
  const costs: StepCost[] = [];
  for (let i = 0; i < steps; i++) {
    const before = webGpuCounts();
    const t0 = performance.now();
    one();
    costs.push({ counts: countsBetween(before, webGpuCounts()), ms: performance.now() - t0 });
  }
  await sum.data();
  sum.dispose();
  x.dispose();
  return costs;
}

/** A positive integer knob from the environment (BENCH_STEPS and the like), or the fallback. */
export function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a positive integer, got '${raw}'`);
  return v;
}

const median = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;

/** Counts of the steps measured (identical from step to step, else the largest) and their median ms. */
function summarise(costs: StepCost[]): { counts: WebGpuCounts; ms: number } {
  const counts = { ...costs[0]!.counts };
  for (const c of costs) for (const k of Object.keys(counts) as (keyof WebGpuCounts)[]) counts[k] = Math.max(counts[k], c.counts[k]);
  return { counts, ms: median(costs.map((c) => c.ms)) };
}

const COLUMNS: [keyof WebGpuCounts, string][] = [
  ['dispatches', 'dispatches'],
  ['computePasses', 'passes'],
  ['submits', 'submits'],
  ['writeBuffers', 'writeBuffer'],
  ['bindGroups', 'bind groups'],
  ['createBuffers', 'new buffers'],
  ['mapAsyncs', 'mapAsync'],
];

export async function benchGpuHost(): Promise<void> {
  if (process.env.POISON_DAWN_FLAGS === undefined) process.env.POISON_DAWN_FLAGS = 'backend=null';
  const engine = await initEngine({ backend: 'webgpu' });
  if (!installWebGpuCounter()) throw new Error('gpu-host: Dawn loaded without its GPU* classes; cannot count');
  const a = engine.webgpuAdapter;
  const steps = envInt('BENCH_STEPS', 5);
  const rounds = envInt('BENCH_ROUNDS', 3);
  // The host path's caches fill over the first steps of each run: LeNet and cnn-small reach their
  // steady state (no bind group made) in ≈ 6 steps, VGG16-BN (≈ 6 of 1,000 left) in ≈ 20.
  const warmup = envInt('BENCH_WARMUP', 15);
  const lenetBatch = envInt('BENCH_LENET_BATCH', 64);
  const cifarBatch = envInt('BENCH_CIFAR_BATCH', 8);
  console.log(`# gpu-host: webgpu on ${a ? `${a.vendor || '?'} ${a.device || '?'} (${a.driver || a.architecture || 'no description'})` : 'unknown adapter'}, POISON_DAWN_FLAGS='${process.env.POISON_DAWN_FLAGS}'`);
  console.log(`# per training step (trainClassifier, ${steps} steps × ${rounds} rounds after ${warmup} warm-up steps, configurations interleaved) and per inference batch (inferencePosterior)`);
  console.log('# stock = tfjs kernels, tfjs host path, tfjs Mean gradient; host = tfjs kernels, the project host path (src/engine/webgpu-host.ts) and Mean gradient (src/engine/mean-gradient.ts); ours = the project kernels (registerWebGpuKernels()) too');
  console.log(`| what | config | ${COLUMNS.map((c) => c[1]).join(' | ')} | host ms |`);
  console.log(`|---|---|${COLUMNS.map(() => '---:').join('|')}|---:|`);
  const configs: HostConfig[] = ['stock', 'host', 'ours'];
  for (const { arch, label, shape } of HOST_ARCHS) {
    const batch = arch === 'lenet' ? lenetBatch : cifarBatch;
    const model = buildModel(arch, { inputShape: shape, numClasses: 10, rng: new Rng(1) });
    for (const kind of ['training step', 'inference batch'] as const) {
      const costs: Record<HostConfig, StepCost[]> = { stock: [], host: [], ours: [] };
      // Alternate the configurations round by round so drift in machine load hits both alike.
      for (let r = 0; r < rounds; r++) {
        for (const config of configs) {
          useHostConfig(config);
          const measured =
            kind === 'training step' ? await measureTrainingSteps(model, shape, batch, warmup, steps) : await measureInferenceBatches(model, shape, batch, warmup, steps);
          costs[config].push(...measured);
        }
      }
      const s = { stock: summarise(costs.stock), host: summarise(costs.host), ours: summarise(costs.ours) };
      const what = `${label} ${kind}, batch ${batch}`;
      for (const config of configs) {
        console.log(`| ${what} | ${config} | ${COLUMNS.map(([k]) => s[config].counts[k]).join(' | ')} | ${s[config].ms.toFixed(1)} |`);
      }
      for (const config of ['host', 'ours'] as const) {
        const ratio = (k: keyof WebGpuCounts): string => (s.stock.counts[k] === 0 ? '–' : `${(s[config].counts[k] / s.stock.counts[k]).toFixed(2)}x`);
        console.log(`| ${what} | ${config}/stock | ${COLUMNS.map(([k]) => ratio(k)).join(' | ')} | ${(s[config].ms / s.stock.ms).toFixed(2)}x |`);
      }
    }
    model.dispose();
  }
  useHostConfig('ours');
  console.log(`# host path now: ${webGpuHostPath()}; numTensors ${tf.memory().numTensors}`);
}
