/**
 * Benchmarks: prints figures as ratios against a baseline measured in the same run (absolute
 * times on shared 2-core machines drift ±20%, ratios hold).
 *
 *   npm run bench                 # everything
 *   npm run bench -- train        # LeNet training: project kernels vs filter-only baseline
 *   npm run bench -- defenses     # black-box queries/s per defense, as a ratio to `none`
 *   npm run bench -- gpu          # webgpu: LeNet / VGG16-BN training and inference samples/s,
 *                                 # and a per-kernel profile of one VGG16-BN training step
 *   npm run bench -- gpu-host     # host cost per training step / inference batch on Dawn's null
 *                                 # adapter: dispatches, submits, writes, ms; stock vs ours
 *
 * `gpu` knobs (environment): BENCH_STEPS (timed steps, 20), BENCH_WARMUP (2), BENCH_LENET_BATCH
 * (64), BENCH_VGG_BATCH (128), BENCH_INFER_BATCH (256). On lavapipe (a CPU) use tiny values, e.g.
 * BENCH_STEPS=2 BENCH_WARMUP=1 BENCH_VGG_BATCH=4 BENCH_INFER_BATCH=16.
 */
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../src/engine/backend.js';
import { registerWasmKernels, type WasmKernelSet } from '../src/engine/wasm-kernels.js';
import { buildModel } from '../src/models/registry.js';
import type { ArchName } from '../src/models/types.js';
import { trainClassifier } from '../src/train/loop.js';
import { Rng } from '../src/util/rng.js';
import { victimBlackBox } from '../src/blackbox/victim.js';
import { createDefense } from '../src/defenses/create.js';
import { parseDefenseSpec } from '../src/defenses/params.js';
import { describeDefense, type DefenseSpec } from '../src/defenses/spec.js';
import type { MadSpec } from '../src/defenses/mad/mad-family.js';
import type { Defense } from '../src/defenses/types.js';
import type { DefendedBlackBox } from '../src/blackbox/defended.js';
import { inferencePosterior } from '../src/defenses/forward.js';
import { registerWebGpuKernels, type WebGpuKernelSet } from '../src/engine/webgpu-kernels.js';
import { benchGpuHost, envInt, randomSource } from './gpu-host.js';

/** Samples/second of training steps (batch 64) of an architecture with a given kernel set. */
async function trainRate(
  kernels: WasmKernelSet,
  steps: number,
  arch: ArchName = 'lenet',
  shape: [number, number, number] = [28, 28, 1],
): Promise<number> {
  registerWasmKernels(kernels);
  const model = buildModel(arch, { inputShape: shape, numClasses: 10, rng: new Rng(1) });
  const warm = randomSource(64 * 3, shape, 10);
  const timed = randomSource(64 * steps, shape, 10);
  const settings = { epochs: 1, lr: 0.01, momentum: 0.5, batchSize: 64, lrStep: 50, weightDecay: 0 };
  await trainClassifier(model, warm, settings, new Rng(2));
  const t0 = performance.now();
  await trainClassifier(model, timed, settings, new Rng(2));
  const seconds = (performance.now() - t0) / 1000;
  model.dispose();
  return (64 * steps) / seconds;
}

async function benchTrain(): Promise<void> {
  const engine = await initEngine({ backend: 'wasm' });
  console.log(`# LeNet training, batch 64, backend ${engine.backend} (simd ${engine.wasmSimd}, threads ${engine.wasmThreads})`);
  const steps = 20;
  const rounds = 5;
  const rate: Record<WasmKernelSet, number[]> = { all: [], 'filter-only': [] };
  // Alternate the two configurations so drift in machine load hits both alike.
  for (let r = 0; r < rounds; r++) {
    rate['filter-only'].push(await trainRate('filter-only', steps));
    rate.all.push(await trainRate('all', steps));
  }
  const median = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
  const base = median(rate['filter-only']);
  const ours = median(rate.all);
  console.log(`filter-kernel-only (stock input grad + matmul)  ${base.toFixed(0)} samples/s`);
  console.log(`project kernels (all)                          ${ours.toFixed(0)} samples/s`);
  console.log(`speed-up                                       ${(ours / base).toFixed(2)}x  (target ≥ 1.8x)`);
  // The CIFAR architectures with the project kernels, for the model zoo's documentation.
  const small = await trainRate('all', 10, 'cnn-small', [32, 32, 3]);
  console.log(`cnn-small 32×32×3 training                     ${small.toFixed(0)} samples/s (${(small / ours).toFixed(2)}x LeNet)`);
  const vgg = await trainRate('all', 2, 'vgg16_bn', [32, 32, 3]);
  console.log(`vgg16_bn 32×32×3 training                      ${vgg.toFixed(1)} samples/s (${(vgg / ours).toFixed(3)}x LeNet)`);
  registerWasmKernels('all');
}

/**
 * Black-box queries/second of every defense in front of a LeNet MNIST victim (random init: the
 * cost does not depend on the weights), batch 256, all measured in one run. Each query is timed
 * on its own, right after a `none` query, and a cost is the ratio of the fastest times of the
 * two series: on a shared machine other processes only ever add time, so the minimum over
 * rounds is the estimate that load biases least. The autodiff paths (per-query, per-class backward passes)
 * run fewer rounds, autodiff-all on 32 queries per call.
 */
async function benchDefenses(): Promise<void> {
  const engine = await initEngine({ backend: 'wasm' });
  console.log(`# defenses: LeNet MNIST victim, batch 256, backend ${engine.backend} (simd ${engine.wasmSimd}, threads ${engine.wasmThreads})`);
  const inputShape: [number, number, number] = [28, 28, 1];
  const ctx = { numClasses: 10, inputShape, arch: 'lenet' as const, seed: 1 };
  const victim = buildModel('lenet', { inputShape, numClasses: 10, rng: new Rng(11) });
  const x = tf.randomNormal([256, ...inputShape], 0, 1, 'float32', 5) as tf.Tensor4D;
  const configs: { name: string; flags: Record<string, string>; rounds: number; images?: number }[] = [
    { name: 'none', flags: {}, rounds: 12 },
    { name: 'top-k', flags: { k: '3' }, rounds: 12 },
    { name: 'argmax', flags: {}, rounds: 12 },
    { name: 'rounding', flags: { decimals: '2' }, rounds: 12 },
    { name: 'reverse-sigmoid', flags: { beta: '0.5', gamma: '0.2' }, rounds: 12 },
    { name: 'random-noise', flags: { 'noise-eps': '1' }, rounds: 12 },
    { name: 'mad', flags: { eps: '0.5' }, rounds: 12 },
    { name: 'mad-argmax', flags: { eps: '0.5' }, rounds: 12 },
    { name: 'mad', flags: { eps: '0.5', jacobian: 'autodiff' }, rounds: 4 },
    { name: 'mad-argmax', flags: { eps: '0.5', jacobian: 'autodiff' }, rounds: 4 },
    { name: 'mad', flags: { eps: '0.5', jacobian: 'autodiff-all' }, rounds: 2, images: 32 },
  ];
  interface Setup {
    spec: DefenseSpec;
    defense: Defense;
    input: tf.Tensor4D;
    box: DefendedBlackBox;
    rounds: number;
    images?: number;
  }
  const setups: Setup[] = [];
  for (const c of configs) {
    const spec = parseDefenseSpec(c.name, c.flags);
    const defense = await createDefense(spec, ctx);
    const input = c.images ? x.slice(0, c.images) : x;
    const box = victimBlackBox(victim, defense);
    (await box.query(input)).dispose(); // warm-up: kernels, surrogate weights
    setups.push({ spec, defense, input, box, rounds: c.rounds, images: c.images });
  }
  const secondsPerQuery = async (s: Setup): Promise<number> => {
    const t0 = performance.now();
    (await s.box.query(s.input)).dispose();
    return (performance.now() - t0) / 1000 / s.input.shape[0];
  };
  // Per configuration: its fastest query, and the fastest of the `none` queries run right before
  // its own (the same number of samples on both sides, so neither minimum is favoured).
  const best = setups.map(() => Infinity);
  const bestNone = setups.map(() => Infinity);
  const rounds = Math.max(...configs.map((c) => c.rounds));
  for (let round = 0; round < rounds; round++) {
    for (const [i, s] of setups.entries()) {
      if (round >= s.rounds) continue;
      bestNone[i] = Math.min(bestNone[i]!, await secondsPerQuery(setups[0]!));
      best[i] = Math.min(best[i]!, await secondsPerQuery(s));
    }
  }
  const targets: Record<string, string> = { 'mad-closed': '  (target ≤ 2.0x)', 'mad-argmax-closed': '  (target ≤ 3.0x)' };
  const closedCost: Record<string, number> = {};
  setups.forEach((s, i) => {
    const key = s.spec.name === 'mad' || s.spec.name === 'mad-argmax' ? `${s.spec.name}-${s.spec.jacobian}` : s.spec.name;
    const cost = best[i]! / bestNone[i]!;
    if (key.endsWith('-closed')) closedCost[s.spec.name] = cost;
    const vsClosed = key.includes('autodiff') ? `  closed form ${(cost / closedCost[s.spec.name]!).toFixed(1)}x faster (target ≥ 20x)` : '';
    const queries = s.images ? `, ${s.images} queries per call` : '';
    console.log(
      `${describeDefense(s.spec).padEnd(72)} ${(1 / best[i]!).toFixed(0).padStart(6)} queries/s  cost ${cost.toFixed(2)}x none${targets[key] ?? ''}${vsClosed}${queries}`,
    );
  });
  const isMad = (s: Setup): s is Setup & { spec: MadSpec } => s.spec.name === 'mad' || s.spec.name === 'mad-argmax';
  await defenseOnlyCosts(victim, x, setups.filter(isMad));
  for (const s of setups) {
    if (s.input !== x) s.input.dispose();
    s.defense.dispose();
  }
  x.dispose();
  victim.dispose();
}

/**
 * The defense's own work, without the victim's forward pass that every black box pays: the time
 * of perturb(x, y) for a fixed y, in units of one forward pass of the architecture (the
 * surrogate's), measured alternately in the same run. This separates what MAD adds (one
 * surrogate forward pass plus the vertex search) from the victim's cost, and compares the two
 * Jacobian paths on the work that actually differs between them.
 */
async function defenseOnlyCosts(victim: tf.LayersModel, x: tf.Tensor4D, setups: { spec: MadSpec; defense: Defense; input: tf.Tensor4D }[]): Promise<void> {
  const y = inferencePosterior(victim, x);
  const seconds = async (run: () => tf.Tensor): Promise<number> => {
    const t0 = performance.now();
    const out = run();
    await out.data();
    out.dispose();
    return (performance.now() - t0) / 1000;
  };
  const forward = (input: tf.Tensor4D) => () => inferencePosterior(victim, input);
  const best = setups.map(() => Infinity);
  const bestForward = setups.map(() => Infinity);
  const ys = setups.map((s) => (s.input === x ? y : tf.slice(y, 0, s.input.shape[0])));
  for (let round = 0; round < 6; round++) {
    for (const [i, s] of setups.entries()) {
      // The autodiff paths take seconds per call: fewer rounds (their minimum is stable anyway).
      const rounds = s.spec.jacobian === 'closed' ? 6 : s.spec.jacobian === 'autodiff' ? 3 : 1;
      if (round >= rounds) continue;
      bestForward[i] = Math.min(bestForward[i]!, await seconds(forward(s.input)));
      best[i] = Math.min(best[i]!, await seconds(() => s.defense.perturb(s.input, ys[i]!)));
    }
  }
  console.log('# the defense alone (perturb(x, y) with y given), in forward passes of the same network over the same batch');
  const closed: Record<string, number> = {};
  setups.forEach((s, i) => {
    const passes = best[i]! / bestForward[i]!;
    if (s.spec.jacobian === 'closed') closed[s.spec.name] = passes;
    const vsClosed = s.spec.jacobian === 'closed' ? '' : `  closed form ${(passes / closed[s.spec.name]!).toFixed(1)}x faster`;
    console.log(`${describeDefense(s.spec).padEnd(72)} ${(best[i]! * 1000).toFixed(1).padStart(8)} ms  = ${passes.toFixed(2)} forward passes${vsClosed}`);
  });
  ys.forEach((t) => t !== y && t.dispose());
  y.dispose();
}


/** Training samples/s: `warmup` steps, then `steps` timed steps (the loss read every step, one step late). */
async function gpuTrainRate(arch: ArchName, shape: [number, number, number], batch: number, warmup: number, steps: number): Promise<number> {
  const model = buildModel(arch, { inputShape: shape, numClasses: 10, rng: new Rng(1) });
  const settings = { epochs: 1, lr: 0.01, momentum: 0.9, batchSize: batch, lrStep: 50, weightDecay: 0 };
  await trainClassifier(model, randomSource(batch * warmup, shape, 10), settings, new Rng(2));
  const timed = randomSource(batch * steps, shape, 10);
  const t0 = performance.now();
  await trainClassifier(model, timed, settings, new Rng(2));
  const seconds = (performance.now() - t0) / 1000;
  model.dispose();
  return (batch * steps) / seconds;
}

/** Inference samples/s over `steps` batches, read back once at the end. */
async function gpuInferRate(arch: ArchName, shape: [number, number, number], batch: number, warmup: number, steps: number): Promise<number> {
  const model = buildModel(arch, { inputShape: shape, numClasses: 10, rng: new Rng(1) });
  const x = tf.randomUniform([batch, ...shape], 0, 1, 'float32', 4) as tf.Tensor4D;
  const run = async (n: number): Promise<void> => {
    let sum: tf.Tensor = tf.scalar(0);
    for (let i = 0; i < n; i++) {
      const next = tf.tidy(() => tf.add(sum, tf.sum(model.predict(x) as tf.Tensor)));
      sum.dispose();
      sum = next;
    }
    await sum.data();
    sum.dispose();
  };
  await run(warmup);
  const t0 = performance.now();
  await run(steps);
  const seconds = (performance.now() - t0) / 1000;
  x.dispose();
  model.dispose();
  return (batch * steps) / seconds;
}

/** tf.profile of one VGG16-BN training step: GPU ms per kernel name, kernel count, wall time. */
async function gpuProfile(batch: number): Promise<void> {
  const shape: [number, number, number] = [32, 32, 3];
  const model = buildModel('vgg16_bn', { inputShape: shape, numClasses: 10, rng: new Rng(1) });
  const settings = { epochs: 1, lr: 0.01, momentum: 0.9, batchSize: batch, lrStep: 50, weightDecay: 0 };
  const one = randomSource(batch, shape, 10);
  await trainClassifier(model, one, settings, new Rng(2)); // compile every shader first
  const t0 = performance.now();
  await trainClassifier(model, one, settings, new Rng(2));
  const wallMs = performance.now() - t0;
  const info = await tf.profile(async () => {
    await trainClassifier(model, one, settings, new Rng(2));
  });
  model.dispose();
  const byName = new Map<string, { count: number; ms: number }>();
  let total = 0;
  let dispatched = 0;
  for (const k of info.kernels) {
    const ms = Number(await k.kernelTimeMs) || 0;
    if (ms > 0) dispatched++;
    const e = byName.get(k.name) ?? { count: 0, ms: 0 };
    e.count++;
    e.ms += ms;
    byName.set(k.name, e);
    total += ms;
  }
  console.log(`# profile: one VGG16-BN training step, batch ${batch}: ${info.kernels.length} kernels, ${dispatched} with measurable GPU time (Identity, Reshape: none), GPU time ${total.toFixed(1)} ms, unprofiled step ${wallMs.toFixed(1)} ms wall`);
  const rows = [...byName.entries()].sort((a, b) => b[1].ms - a[1].ms);
  for (const [name, e] of rows) {
    console.log(`${name.padEnd(28)} ${String(e.count).padStart(5)} ×  ${e.ms.toFixed(2).padStart(9)} ms  ${total > 0 ? ((100 * e.ms) / total).toFixed(1).padStart(5) : '    -'}%`);
  }
}

/**
 * The webgpu backend: training and inference samples/s of LeNet and VGG16-BN, the project's
 * im2col filter gradient against the stock kernel on VGG16-BN, and a per-kernel profile.
 */
async function benchGpu(): Promise<void> {
  const engine = await initEngine({ backend: 'webgpu' });
  const a = engine.webgpuAdapter;
  console.log(`# webgpu on ${a ? `${a.vendor} ${a.device} (${a.driver})${a.software ? ', SOFTWARE adapter' : ''}, timestamp queries ${a.timestampQuery}` : 'unknown adapter'}`);
  const steps = envInt('BENCH_STEPS', 20);
  const warmup = envInt('BENCH_WARMUP', 2);
  const lenetBatch = envInt('BENCH_LENET_BATCH', 64);
  const vggBatch = envInt('BENCH_VGG_BATCH', 128);
  const inferBatch = envInt('BENCH_INFER_BATCH', 256);
  console.log(`# ${steps} timed steps after ${warmup} warm-up steps; fp32`);
  const line = (what: string, v: number): void => console.log(`${what.padEnd(48)} ${v.toFixed(v < 100 ? 1 : 0).padStart(9)} samples/s`);
  line(`LeNet training, batch ${lenetBatch}`, await gpuTrainRate('lenet', [28, 28, 1], lenetBatch, warmup, steps));
  line(`LeNet inference, batch ${inferBatch}`, await gpuInferRate('lenet', [28, 28, 1], inferBatch, warmup, steps));
  const vgg: Partial<Record<WebGpuKernelSet, number>> = {};
  for (const set of ['stock', 'im2col'] as const) {
    registerWebGpuKernels(set);
    vgg[set] = await gpuTrainRate('vgg16_bn', [32, 32, 3], vggBatch, warmup, steps);
    line(`VGG16-BN training, batch ${vggBatch}, ${set} filter gradient`, vgg[set]);
  }
  console.log(`im2col filter gradient speed-up (whole step)      ${(vgg.im2col! / vgg.stock!).toFixed(2)}x`);
  line(`VGG16-BN inference, batch ${inferBatch}`, await gpuInferRate('vgg16_bn', [32, 32, 3], inferBatch, warmup, steps));
  await gpuProfile(vggBatch);
}

const benches: Record<string, () => Promise<void>> = { train: benchTrain, defenses: benchDefenses, gpu: benchGpu, 'gpu-host': benchGpuHost };

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const names = wanted.length > 0 ? wanted : Object.keys(benches);
  for (const name of names) {
    const b = benches[name];
    if (!b) {
      console.error(`bench: unknown benchmark '${name}' (choose from: ${Object.keys(benches).join(', ')})`);
      process.exitCode = 2;
      return;
    }
    await b();
  }
}

await main();
// Dawn (webgpu) keeps the event loop alive.
process.exit(process.exitCode ?? 0);
