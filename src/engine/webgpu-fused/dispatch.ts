/**
 * One compute dispatch of a hand-written WGSL kernel on tfjs's webgpu backend, recorded into the
 * backend's own command encoder and compute pass, so it is ordered with tfjs's kernels and
 * submitted with them.
 *
 * Why not `backend.runWebGPUProgram`: a tfjs program has exactly one output and uploads shapes and
 * strides of every binding as uniforms. The fused kernels here write several outputs at once (an
 * SGD update writes the weight, its momentum and a partial ‖w‖²; batch-norm statistics write the
 * batch moments and both moving averages), which is what cuts the dispatch count of a step.
 */
import * as tf from '@tensorflow/tfjs';

type TensorInfo = tf.TensorInfo;

// The parts of Dawn's objects used here, typed locally (the build has no WebGPU types).
interface GpuBufferLike {
  size: number;
}
interface PipelineLike {
  getBindGroupLayout(index: number): unknown;
}
interface PassLike {
  setPipeline(p: PipelineLike): void;
  setBindGroup(index: number, group: unknown): void;
  dispatchWorkgroups(x: number, y: number, z: number): void;
}
interface DeviceLike {
  createShaderModule(d: { code: string; label?: string }): unknown;
  createComputePipeline(d: { layout: 'auto'; label?: string; compute: { module: unknown; entryPoint: string } }): PipelineLike;
  createBindGroup(d: { layout: unknown; entries: { binding: number; resource: unknown }[] }): unknown;
  limits: { maxStorageBufferBindingSize: number };
}
export interface UniformField {
  type: 'int32' | 'float32';
  data: number[];
}
/** The members of tfjs-backend-webgpu 4.22's WebGPUBackend that a dispatch needs. */
export interface WebGpuBackendInternals {
  device: DeviceLike;
  tensorMap: { get(dataId: object): { resource?: GpuBufferLike | null; dtype: string } | undefined };
  commandQueueOwnedIds: WeakSet<object>;
  commandEncoder: { beginComputePass(d: object): PassLike } | null;
  computePassEncoder: PassLike | null;
  dispatchCountInPass: number;
  makeTensorInfo(shape: number[], dtype: string, values?: Float32Array): TensorInfo;
  uploadToGPU(dataId: object): void;
  makeUniforms(fields: UniformField[]): unknown;
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
}

export const WORKGROUP = 256;
const MAX_GROUPS_PER_DIM = 65535;

/** A kernel: its WGSL (entry point `main`) and a label for Dawn's messages. */
export interface WgslKernel {
  label: string;
  code: string;
}

const pipelines = new WeakMap<object, Map<string, PipelineLike>>();

function pipelineFor(device: DeviceLike, kernel: WgslKernel): PipelineLike {
  let cache = pipelines.get(device);
  if (!cache) pipelines.set(device, (cache = new Map<string, PipelineLike>()));
  let p = cache.get(kernel.label);
  if (!p) {
    const module = device.createShaderModule({ code: kernel.code, label: kernel.label });
    p = device.createComputePipeline({ layout: 'auto', label: kernel.label, compute: { module, entryPoint: 'main' } });
    cache.set(kernel.label, p);
  }
  return p;
}

/** Workgroups for `threads` invocations of WORKGROUP each, as a 2-D grid (one dimension tops at 65535). */
export function gridFor(threads: number): [number, number, number] {
  const groups = Math.max(1, Math.ceil(threads / WORKGROUP));
  const x = Math.min(groups, MAX_GROUPS_PER_DIM);
  return [x, Math.ceil(groups / x), 1];
}

/** A new float32 tensor on the GPU (contents undefined until a kernel writes it). */
export function newOutput(backend: WebGpuBackendInternals, shape: number[]): TensorInfo {
  const info = backend.makeTensorInfo(shape, 'float32');
  backend.uploadToGPU(info.dataId);
  return info;
}

/**
 * Records one dispatch: bindings 0…n−1 are the tensors in `buffers` (as the kernel declares them,
 * read or read_write), binding n the uniforms. Submits when tfjs would
 * (WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE dispatches in the pass).
 */
export function dispatch(
  backend: WebGpuBackendInternals,
  kernel: WgslKernel,
  buffers: TensorInfo[],
  uniforms: UniformField[],
  grid: [number, number, number],
): void {
  const pipeline = pipelineFor(backend.device, kernel);
  const entries = buffers.map((t, binding) => {
    backend.uploadToGPU(t.dataId);
    const resource = backend.tensorMap.get(t.dataId)?.resource;
    if (!resource) throw new Error(`${kernel.label}: binding ${binding} has no GPU buffer`);
    return { binding, resource: { buffer: resource } };
  });
  entries.push({ binding: buffers.length, resource: backend.makeUniforms(uniforms) as { buffer: GpuBufferLike } });
  const bindGroup = backend.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
  // tfjs releases a disposed tensor's buffer only after the submit that used it.
  for (const t of buffers) backend.commandQueueOwnedIds.add(t.dataId);
  backend.ensureCommandEncoderReady();
  if (!backend.computePassEncoder) backend.computePassEncoder = backend.commandEncoder!.beginComputePass({});
  backend.computePassEncoder.setPipeline(pipeline);
  backend.computePassEncoder.setBindGroup(0, bindGroup);
  backend.computePassEncoder.dispatchWorkgroups(grid[0], grid[1], grid[2]);
  backend.dispatchCountInPass++;
  if (tf.env().getNumber('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE') <= backend.dispatchCountInPass) {
    backend.endComputePassEncoder();
    backend.submitQueue();
  }
}

export function storageLimit(backend: WebGpuBackendInternals): number {
  return backend.device.limits?.maxStorageBufferBindingSize ?? 128 * 1024 * 1024;
}
