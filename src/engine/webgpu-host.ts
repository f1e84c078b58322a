/**
 * Less host work per dispatch on the webgpu backend, without changing what any kernel computes.
 *
 * tfjs-backend-webgpu 4.22 issues every kernel as: pack the program's uniforms (shapes, strides,
 * sizes, NaN/Infinity, the program's own constants) into a fresh ArrayBuffer, take a uniform
 * buffer from its pool and `queue.writeBuffer` the bytes into it (released to the pool after the
 * next submit), ask the pipeline for its bind-group layout (a new wrapper every call), create a
 * bind group, record the dispatch, and submit every WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE (15)
 * dispatches. A training step repeats the same kernels on the same shapes every step, so most of
 * that is the same work over again:
 *
 *   - uniforms: the same bytes recur step after step. Each distinct uniform content is written
 *     once into a slot of a large uniform buffer (256-byte aligned, the WebGPU minimum offset
 *     alignment) and bound from there ever after: no writeBuffer and no pool traffic in steady
 *     state. The bytes are the ones tfjs packs (its own makeUniforms runs with a capturing
 *     buffer pool and queue), so no layout rule is re-implemented here.
 *   - bind-group layouts: one per pipeline, memoised.
 *   - uploads of CPU values (each step's scalars): one writeBuffer each instead of a staging
 *     buffer, a copy and a broken compute pass (uploadByWrite).
 *   - bind groups: cached by (layout, buffers, offsets, sizes). With uniforms in fixed slots and
 *     the pool handing out its oldest free buffer (preferOldestFree: which buffer a tensor gets
 *     then depends only on which are free, which repeats from step to step), the same dispatch
 *     of the next step asks for an identical bind group. A bounded LRU keeps the cache from
 *     growing with one-off shapes.
 *
 * Every dispatch computes what it computed before (any free buffer of a size is as good as
 * another: kernels write their whole output): test/webgpu-host.test.ts compares the two paths and
 * the cpu backend on lavapipe; test/webgpu-dispatch-budget.test.ts counts the calls saved on
 * Dawn's null adapter. Switched by setWebGpuHostPath ('stock' restores tfjs's own path), so
 * the benchmark can compare both in one process; backend.ts turns it on when webgpu loads.
 */
import * as tf from '@tensorflow/tfjs';

/** `ours`: the cached path above; `stock`: tfjs's own. */
export type WebGpuHostPath = 'stock' | 'ours';

// The parts of the WebGPU API and of tfjs's WebGPUBackend used here, typed locally (the build
// needs no WebGPU types, and the optional packages may be missing).
interface BufferLike {
  readonly size: number;
}
interface LayoutLike {
  readonly label?: string;
}
interface PipelineLike {
  getBindGroupLayout: (index: number) => LayoutLike;
}
interface BindingLike {
  buffer?: BufferLike;
  offset?: number;
  size?: number;
}
interface BindGroupDescriptorLike {
  layout: LayoutLike;
  entries: { binding: number; resource: BindingLike }[];
}
interface DeviceLike {
  limits: { minUniformBufferOffsetAlignment: number; maxUniformBufferBindingSize: number };
  queue: QueueLike;
  createBuffer(d: { size: number; usage: number }): BufferLike;
  createBindGroup(d: BindGroupDescriptorLike): unknown;
}
interface QueueLike {
  writeBuffer(buffer: BufferLike, offset: number, data: ArrayBuffer, dataOffset?: number, size?: number): void;
}
type UniformBinding = { offset: number; size: number; buffer: BufferLike };
type MakeUniforms = (this: unknown, programUniform: unknown) => UniformBinding;
type UploadToGpu = (this: unknown, dataId: object) => void;
interface TensorDataLike {
  dtype: string;
  shape: number[];
  values: ArrayLike<number> | null;
  resource: unknown;
}
interface BackendLike {
  device: DeviceLike;
  queue: QueueLike;
  tensorMap: { get(dataId: object): TensorDataLike | undefined };
  bufferManager: {
    acquireBuffer(size: number, usage: number, mappedAtCreation?: boolean, reuse?: boolean): BufferLike;
    freeBuffers: Map<string, (BufferLike & { destroy(): void })[]>;
    numFreeBuffers: number;
    numBytesAllocated: number;
  };
  makeUniforms: MakeUniforms;
  uploadToGPU: UploadToGpu;
}

/** GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST (the constants are WebGPU's, fixed by the spec). */
const UNIFORM_COPY_DST = 0x0040 | 0x0008;
/** GPUBufferUsage.STORAGE | COPY_SRC | COPY_DST: what tfjs gives every tensor buffer (its pool's key). */
const TENSOR_USAGE = 0x0080 | 0x0004 | 0x0008;
/** Bytes per uniform buffer holding slots; a slot never crosses one. */
const SLAB_BYTES = 64 * 1024;
/** Past this many bytes of slots, new uniform contents take tfjs's own path (no unbounded growth). */
const MAX_SLOT_BYTES = 16 * 1024 * 1024;
/** Bind groups kept (least recently used dropped first). */
const MAX_BIND_GROUPS = 8192;

let path: WebGpuHostPath = 'stock';
/** The backend and device the cached path is installed on. */
let state: { backend: BackendLike; device: DeviceLike } | null = null;

// Caches: uniform slots by content, bind groups by their resources; the objects they refer to
// get small integer ids (a WeakMap, so an id never outlives its object).
const slots = new Map<string, UniformBinding>();
const slabs: { buffer: BufferLike; used: number }[] = [];
let slotBytes = 0;
const bindGroups = new Map<string, unknown>();
const layouts = new WeakMap<PipelineLike, LayoutLike>();
const ids = new WeakMap<object, number>();
let nextId = 1;

function idOf(o: object): number {
  let id = ids.get(o);
  if (id === undefined) {
    id = nextId++;
    ids.set(o, id);
  }
  return id;
}

/** The bytes tfjs's makeUniforms packs, captured instead of written to a pooled buffer. */
function packedUniformBytes(original: MakeUniforms, programUniform: unknown): Uint8Array {
  let captured: Uint8Array | null = null;
  const token: BufferLike = { size: 0 };
  const capture = {
    bufferManager: { acquireBuffer: () => token },
    queue: {
      writeBuffer: (_b: BufferLike, _o: number, data: ArrayBuffer, dataOffset = 0, size?: number) => {
        captured = new Uint8Array(data, dataOffset, size ?? data.byteLength - dataOffset);
      },
    },
    uniformPendingDisposal: { push: () => 0 },
  };
  original.call(capture, programUniform);
  if (!captured) throw new Error('webgpu-host: tfjs makeUniforms wrote no uniform bytes');
  return captured;
}

function contentKey(bytes: Uint8Array): string {
  // Uniform blocks are whole 4-byte words; 16-bit code units make a short, exact key.
  const units = new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >> 1);
  let key = '';
  for (let i = 0; i < units.length; i += 4096) key += String.fromCharCode(...units.subarray(i, i + 4096));
  return key;
}

/** A slot holding these bytes: found, or written once into a slab; null past the size cap. */
function slotFor(device: DeviceLike, bytes: Uint8Array): UniformBinding | null {
  const key = contentKey(bytes);
  const found = slots.get(key);
  if (found) return found;
  const align = device.limits.minUniformBufferOffsetAlignment;
  const size = bytes.byteLength;
  const footprint = Math.ceil(size / align) * align;
  if (footprint > SLAB_BYTES || slotBytes + footprint > MAX_SLOT_BYTES) return null;
  let slab = slabs[slabs.length - 1];
  if (!slab || slab.used + footprint > SLAB_BYTES) {
    slab = { buffer: device.createBuffer({ size: SLAB_BYTES, usage: UNIFORM_COPY_DST }), used: 0 };
    slabs.push(slab);
  }
  const slot: UniformBinding = { buffer: slab.buffer, offset: slab.used, size };
  // Queue-ordered before the submit that first uses the slot; never rewritten afterwards, so
  // earlier submits reading other slots of the slab are unaffected.
  device.queue.writeBuffer(slab.buffer, slot.offset, bytes.buffer as ArrayBuffer, bytes.byteOffset, size);
  slab.used += footprint;
  slotBytes += footprint;
  slots.set(key, slot);
  return slot;
}

let layoutMemoInstalled = false;

/**
 * Memoises GPUComputePipeline.getBindGroupLayout(0) for every pipeline while the cached path is
 * on (tfjs asks for it at every dispatch and gets a new wrapper object each time, which would
 * also defeat the bind-group cache's key). On the prototype, once: pipelines made anywhere
 * (tfjs's, or kernels recording their own dispatches) and at any time are covered. The layout
 * of an 'auto' pipeline is the same whichever wrapper is used.
 */
function installLayoutMemo(): void {
  if (layoutMemoInstalled) return;
  const cls = (globalThis as unknown as { GPUComputePipeline?: { prototype: PipelineLike } }).GPUComputePipeline;
  if (!cls) return;
  const proto = cls.prototype;
  const original = proto.getBindGroupLayout;
  proto.getBindGroupLayout = function (this: PipelineLike, index: number): LayoutLike {
    if (!state || index !== 0) return original.call(this, index);
    let layout = layouts.get(this);
    if (!layout) {
      layout = original.call(this, 0);
      layouts.set(this, layout);
    }
    return layout;
  };
  layoutMemoInstalled = true;
}

function bindGroupKey(d: BindGroupDescriptorLike): string | null {
  let key = String(idOf(d.layout));
  for (const e of d.entries) {
    const r = e.resource;
    // Buffers only (tfjs binds textures for pixel ops): anything else is not cached.
    if (!r || typeof r !== 'object' || !r.buffer) return null;
    key += `|${e.binding}:${idOf(r.buffer)}:${r.offset ?? 0}:${r.size ?? -1}`;
  }
  return key;
}

/**
 * Uploads a tensor's CPU values with one queue.writeBuffer into a pooled buffer. tfjs instead
 * creates a mapped staging buffer per upload (destroyed after the next submit) and records a copy,
 * ending the compute pass to do so: a VGG16-BN training step uploads ≈ 140 small tensors
 * (scalars of batch norm and the optimizer), each costing a buffer creation and a pass. The
 * pooled buffer is free, so no recorded-but-unsubmitted command uses it, and writeBuffer lands
 * before the submit that first reads it: the same bytes, in time.
 */
function uploadByWrite(backend: BackendLike, original: UploadToGpu, dataId: object): void {
  const data = backend.tensorMap.get(dataId);
  const values = data?.values;
  if (!data || data.resource != null || !values || !(data.dtype === 'float32' || data.dtype === 'int32' || data.dtype === 'bool') || values.length === 0) {
    original.call(backend, dataId);
    return;
  }
  // tfjs stores bool (and int32) as 32-bit integers on the GPU, float32 as is.
  const typed =
    data.dtype === 'float32' ? (values instanceof Float32Array ? values : Float32Array.from(values)) : values instanceof Int32Array ? values : Int32Array.from(values);
  const bytes = typed.byteLength;
  const buffer = backend.bufferManager.acquireBuffer(bytes, TENSOR_USAGE);
  backend.queue.writeBuffer(buffer, 0, typed.buffer as ArrayBuffer, typed.byteOffset, bytes);
  data.values = null;
  data.resource = buffer;
}

/**
 * Puts the free buffer made first last in its pool list, where tfjs's acquireBuffer pops. tfjs
 * hands out the buffer freed last, so which buffer a tensor gets depends on the order of earlier
 * releases, and in a training loop the buffers rotate through the pool with a long period: the
 * same dispatch of consecutive steps binds different buffers and misses the bind-group cache
 * (a quarter of LeNet's dispatches did). Taking the oldest free buffer makes the choice depend
 * only on which buffers are free, which repeats from step to step. Any free buffer of the
 * size is as good as another for the result: kernels write their whole output.
 */
function preferOldestFree(free: BufferLike[] | undefined): void {
  if (!free || free.length < 2) return;
  const last = free.length - 1;
  let best = last;
  let bestId = idOf(free[last]!);
  for (let i = 0; i < last; i++) {
    const id = idOf(free[i]!);
    if (id < bestId) {
      best = i;
      bestId = id;
    }
  }
  if (best !== last) [free[best], free[last]] = [free[last]!, free[best]!];
}

function install(backend: BackendLike): void {
  const device = backend.device;
  const originalMakeUniforms = backend.makeUniforms;
  const originalUpload = backend.uploadToGPU;
  // Check once that tfjs's makeUniforms still packs through the members captured above.
  packedUniformBytes(originalMakeUniforms, [{ type: 'int32', data: [1] }]);
  // The prototype's methods, looked up at each call: whatever wraps them later (the call counter
  // of webgpu-counter.ts) still sees every call made from here.
  const proto = Object.getPrototypeOf(device) as DeviceLike;
  backend.makeUniforms = function (this: unknown, programUniform: unknown): UniformBinding {
    return slotFor(device, packedUniformBytes(originalMakeUniforms, programUniform)) ?? originalMakeUniforms.call(this, programUniform);
  };
  backend.uploadToGPU = (dataId: object): void => uploadByWrite(backend, originalUpload, dataId);
  const pool = backend.bufferManager;
  const acquire = pool.acquireBuffer.bind(pool);
  pool.acquireBuffer = (size: number, usage: number, mappedAtCreation = false, reuse = true): BufferLike => {
    if (reuse) preferOldestFree(pool.freeBuffers.get(`${size}_${usage}`));
    return acquire(size, usage, mappedAtCreation, reuse);
  };
  // Own properties on the device object shadow its prototype's methods for tfjs's calls only.
  device.createBindGroup = function (this: DeviceLike, d: BindGroupDescriptorLike): unknown {
    const key = bindGroupKey(d);
    if (key === null) return proto.createBindGroup.call(this, d);
    const hit = bindGroups.get(key);
    if (hit !== undefined) {
      bindGroups.delete(key);
      bindGroups.set(key, hit);
      return hit;
    }
    const made = proto.createBindGroup.call(this, d);
    bindGroups.set(key, made);
    if (bindGroups.size > MAX_BIND_GROUPS) bindGroups.delete(bindGroups.keys().next().value!);
    return made;
  };
  installLayoutMemo();
  state = { backend, device };
}

function uninstall(): void {
  if (!state) return;
  const { backend, device } = state;
  const own = device as unknown as Record<string, unknown>;
  delete own.createBindGroup;
  // The prototype's methods are tfjs's; ours are own properties of the backend object.
  delete (backend as unknown as Record<string, unknown>).makeUniforms;
  delete (backend as unknown as Record<string, unknown>).uploadToGPU;
  delete (backend.bufferManager as unknown as Record<string, unknown>).acquireBuffer;
  bindGroups.clear();
  state = null;
}

/**
 * Switch the host path of the current webgpu backend (after it loaded; a no-op on any other
 * backend). Uniform slots survive a switch: their contents never change.
 */
export function setWebGpuHostPath(wanted: WebGpuHostPath): void {
  if (tf.getBackend() !== 'webgpu') return;
  const backend = tf.backend() as unknown as BackendLike;
  if (state && state.backend !== backend) {
    // A new backend (tf.removeBackend / re-registration): its device and pools are new.
    uninstall();
    slots.clear();
    slabs.length = 0;
    slotBytes = 0;
  }
  if (wanted === 'ours' && !state) install(backend);
  if (wanted === 'stock') uninstall();
  path = wanted;
}

/**
 * Destroys the buffers tfjs's pool keeps free for reuse (the pool never shrinks: after one model,
 * another's steps run beside all of the first one's buffers) and forgets the bind groups made on
 * them. For benchmarks and tests that run several models in one process, between models, once
 * their reads have completed; the pool refills as the next model runs.
 */
export function releaseFreeWebGpuBuffers(): void {
  if (tf.getBackend() !== 'webgpu') return;
  const pool = (tf.backend() as unknown as BackendLike).bufferManager;
  for (const free of pool.freeBuffers.values()) {
    for (const b of free.splice(0)) {
      b.destroy();
      pool.numFreeBuffers--;
      pool.numBytesAllocated -= b.size;
    }
  }
  // The keys stay: tfjs stops recycling released buffers when the map is empty.
  bindGroups.clear();
}

export function webGpuHostPath(): WebGpuHostPath {
  return path;
}
