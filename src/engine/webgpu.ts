/**
 * The webgpu backend in Node: Dawn (the npm package `webgpu`, whose dawn.node ships in the npm
 * tarball) installed as `navigator.gpu` before `@tensorflow/tfjs-backend-webgpu` is imported —
 * that package looks for `navigator.gpu` once, when it loads, and registers its backend only if
 * it is there. Both packages are optional dependencies: where they cannot load, the backend
 * reports why and the next one is tried.
 *
 * In Node, synchronous reads (`dataSync`, `arraySync`) throw on this backend; the project reads
 * with `await t.data()` everywhere. Dawn keeps the event loop alive: the CLI exits explicitly
 * once it has loaded (see dawn-state.ts).
 */
import { readdirSync } from 'node:fs';
import { markDawnLoaded } from './dawn-state.js';

/** What provenance records about the adapter tfjs runs on. */
export interface WebGpuAdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  /** Dawn's adapter description: the driver's name and version (e.g. "NVIDIA: 580.159.04 …"). */
  driver: string;
  /** A software adapter such as Mesa's lavapipe (llvmpipe). */
  software: boolean;
  /** Whether the device was created with timestamp queries (per-kernel GPU times in tf.profile). */
  timestampQuery: boolean;
}

// The few parts of the WebGPU API used here, typed locally so the build needs no WebGPU types
// (and does not break where the optional packages are missing).
interface AdapterInfoLike {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}
interface AdapterLike {
  info?: AdapterInfoLike;
  isFallbackAdapter?: boolean;
  features: { has(name: string): boolean };
  requestDevice(descriptor?: { requiredFeatures?: unknown[] }): Promise<unknown>;
}
interface GpuLike {
  requestAdapter(options?: { powerPreference?: string }): Promise<AdapterLike | null>;
}
interface DawnModule {
  create(flags: string[]): GpuLike;
  globals: Record<string, unknown>;
}

let gpu: GpuLike | null = null;
let lastAdapter: AdapterLike | null = null;

function summarise(a: AdapterLike): WebGpuAdapterInfo {
  const i = a.info ?? {};
  return {
    vendor: i.vendor ?? '',
    architecture: i.architecture ?? '',
    device: i.device ?? '',
    driver: i.description ?? '',
    software: isSoftware(a),
    timestampQuery: a.features.has('timestamp-query'),
  };
}

function isSoftware(a: AdapterLike): boolean {
  const i = a.info ?? {};
  return i.isFallbackAdapter === true || a.isFallbackAdapter === true || i.architecture === 'software';
}

/** Extra Dawn flags, e.g. `backend=vulkan` or `adapter=…`: POISON_DAWN_FLAGS, space-separated. */
function dawnFlags(): string[] {
  return (process.env.POISON_DAWN_FLAGS ?? '').split(/\s+/).filter(Boolean);
}

/**
 * Loads dawn.node and installs it as `navigator.gpu` (once). Wraps requestAdapter so the adapter
 * tfjs picks is recorded, and flattens tfjs 4.22's `requiredFeatures` (it pushes
 * `['bgra8unorm-storage']` as a nested array, which Dawn rejects).
 */
async function installDawn(hardwareOnly: boolean): Promise<GpuLike> {
  if (gpu) return gpu;
  const name: string = 'webgpu';
  const dawn = (await import(name)) as DawnModule;
  Object.assign(globalThis, dawn.globals);
  // The automatic choice never takes a software Vulkan driver: keep the loader from loading
  // lavapipe / SwiftShader at all (Dawn prints warnings about their limits on stderr).
  const disable = hardwareOnly && process.platform === 'linux' && process.env.VK_LOADER_DRIVERS_DISABLE === undefined;
  if (disable) process.env.VK_LOADER_DRIVERS_DISABLE = '*lvp*,*swiftshader*';
  let created: GpuLike;
  try {
    created = dawn.create(dawnFlags());
    // Dawn creates its Vulkan instance when it first enumerates adapters.
    await created.requestAdapter({ powerPreference: 'high-performance' });
  } finally {
    if (disable) delete process.env.VK_LOADER_DRIVERS_DISABLE;
  }
  const requestAdapter = created.requestAdapter.bind(created);
  created.requestAdapter = async (options) => {
    const adapter = await requestAdapter(options);
    if (adapter) {
      lastAdapter = adapter;
      const requestDevice = adapter.requestDevice.bind(adapter);
      adapter.requestDevice = (descriptor) =>
        requestDevice(descriptor?.requiredFeatures ? { ...descriptor, requiredFeatures: descriptor.requiredFeatures.flat() } : descriptor);
    }
    return adapter;
  };
  const g = globalThis as { navigator?: object };
  if (g.navigator && typeof g.navigator === 'object') {
    // Node ≥ 21 has a navigator without gpu.
    Object.defineProperty(g.navigator, 'gpu', { value: created, configurable: true, writable: true });
  } else {
    Object.defineProperty(globalThis, 'navigator', { value: { gpu: created }, configurable: true, writable: true });
  }
  markDawnLoaded();
  gpu = created;
  return created;
}

/**
 * Makes the webgpu backend available: null on success, else why not (one line). Without
 * `allowSoftware`, a software adapter (lavapipe, SwiftShader) counts as no adapter: the
 * automatic choice must not land on a CPU emulating a GPU, slower than wasm.
 */
export async function loadWebGpu(allowSoftware: boolean): Promise<string | null> {
  if (!allowSoftware && process.platform === 'linux' && !hasGpuDeviceNode()) {
    // Without a GPU device node Dawn can only find a software adapter: do not even load it.
    return 'no GPU device (/dev/nvidia*, /dev/dri/renderD*); a software adapter needs --backend webgpu';
  }
  let created: GpuLike;
  try {
    created = await installDawn(!allowSoftware);
  } catch (err) {
    return `the webgpu package (Dawn) cannot load: ${firstLine(err)}`;
  }
  let adapter: AdapterLike | null;
  try {
    adapter = await created.requestAdapter({ powerPreference: 'high-performance' });
  } catch (err) {
    return `Dawn could not query adapters: ${firstLine(err)}`;
  }
  if (!adapter) return 'Dawn found no WebGPU adapter (no Vulkan/Metal/D3D12 driver?)';
  if (!allowSoftware && isSoftware(adapter)) {
    return `Dawn found only a software adapter (${adapter.info?.description ?? 'unknown'}); force it with --backend webgpu`;
  }
  try {
    const pkg: string = '@tensorflow/tfjs-backend-webgpu';
    await import(pkg);
  } catch (err) {
    return `@tensorflow/tfjs-backend-webgpu cannot load: ${firstLine(err)}`;
  }
  return null;
}

/** The adapter tfjs's webgpu backend was created on (after a successful setBackend). */
export function webGpuAdapter(): WebGpuAdapterInfo | null {
  return lastAdapter ? summarise(lastAdapter) : null;
}

/** Linux: an NVIDIA device or a DRM render node (AMD, Intel, virtio GPUs) exists. */
function hasGpuDeviceNode(): boolean {
  const has = (dir: string, re: RegExp): boolean => {
    try {
      return readdirSync(dir).some((n) => re.test(n));
    } catch {
      return false;
    }
  };
  return has('/dev', /^nvidia\d+$/) || has('/dev/dri', /^renderD\d+$/);
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? 'failed';
}
