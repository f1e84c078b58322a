/**
 * Picks the compute backend at start-up: the fastest that loads, in the order
 * tfjs-node-gpu (CUDA), webgpu (Dawn, on a hardware adapter only), tfjs-node, wasm. `--backend`
 * forces one (`--backend webgpu` also accepts a software adapter such as lavapipe); a forced
 * backend that cannot load is an error, never a silent fallback. The pure-JS cpu backend is only ever used when
 * forced (reference checks in tests): it is hundreds of times too slow for convolutions.
 */
import * as tf from '@tensorflow/tfjs';
import { RuntimeFailure } from '../errors.js';
import { installedVersion } from '../util/package-info.js';
import { registerWasmKernels, type WasmKernelSet } from './wasm-kernels.js';
import type { BackendName } from './backend-names.js';
import { loadWebGpu, webGpuAdapter, type WebGpuAdapterInfo } from './webgpu.js';
import { installedWebGpuKernels, registerWebGpuKernels, type WebGpuKernelSet } from './webgpu-kernels.js';
import { setWebGpuHostPath } from './webgpu-host.js';
import { setMeanGradient } from './mean-gradient.js';

export type { BackendName };

export interface EngineInfo {
  backend: BackendName;
  /** tfjs's own name for it ('tensorflow', 'wasm', 'cpu'). */
  tfjsBackend: string;
  tfjsVersion: string;
  /** Version of the package that provides the backend. */
  backendPackage: string;
  backendVersion: string;
  /** wasm only: which feature build was loaded. */
  wasmSimd?: boolean;
  wasmThreads?: boolean;
  /** wasm only: which gradient kernels of the project are installed. */
  wasmKernels?: WasmKernelSet;
  /** webgpu only: the adapter (vendor, device, driver) the backend runs on. */
  webgpuAdapter?: WebGpuAdapterInfo;
  /** webgpu only: which of the project's webgpu kernels are installed. */
  webgpuKernels?: WebGpuKernelSet;
}

let current: EngineInfo | null = null;

/** The engine chosen by initEngine, for provenance. */
export function engineInfo(): EngineInfo {
  if (!current) throw new Error('initEngine() has not run');
  return current;
}

async function tryNode(pkg: '@tensorflow/tfjs-node-gpu' | '@tensorflow/tfjs-node'): Promise<string | null> {
  try {
    // The import registers the 'tensorflow' backend with the shared tfjs-core.
    await import(pkg);
  } catch (err) {
    return (err as Error).message.split('\n')[0] ?? 'failed to load';
  }
  try {
    if (!(await tf.setBackend('tensorflow'))) return 'the tensorflow backend did not initialise';
  } catch (err) {
    return (err as Error).message.split('\n')[0] ?? 'failed to initialise';
  }
  return null;
}

async function tryWasm(kernels: WasmKernelSet): Promise<string | null> {
  try {
    await import('@tensorflow/tfjs-backend-wasm');
    if (!(await tf.setBackend('wasm'))) return 'the wasm backend did not initialise';
  } catch (err) {
    return (err as Error).message.split('\n')[0] ?? 'failed to load';
  }
  registerWasmKernels(kernels);
  return null;
}

async function tryWebGpu(forced: boolean): Promise<string | null> {
  const failure = await loadWebGpu(forced);
  if (failure) return failure;
  try {
    if (!(await tf.setBackend('webgpu'))) return 'the webgpu backend did not initialise';
  } catch (err) {
    return (err as Error).message.split('\n')[0] ?? 'failed to initialise';
  }
  registerWebGpuKernels();
  setWebGpuHostPath('ours');
  return null;
}

interface EngineOptions {
  backend?: BackendName;
  /** For benchmarks only: which of the project's wasm kernels to install. */
  wasmKernels?: WasmKernelSet;
}

export async function initEngine(opts: EngineOptions = {}): Promise<EngineInfo> {
  // Keeps tfjs from printing its "install tfjs-node" banner and debug checks on every run.
  tf.env().set('PROD', true);
  tf.env().set('IS_TEST', false);
  setMeanGradient('broadcast');
  const kernels = opts.wasmKernels ?? 'all';
  const order: BackendName[] = opts.backend ? [opts.backend] : ['tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm'];
  const failures: string[] = [];
  for (const name of order) {
    let failure: string | null;
    if (name === 'tensorflow-gpu') failure = await tryNode('@tensorflow/tfjs-node-gpu');
    else if (name === 'webgpu') failure = await tryWebGpu(opts.backend === 'webgpu');
    else if (name === 'tensorflow') failure = await tryNode('@tensorflow/tfjs-node');
    else if (name === 'wasm') failure = await tryWasm(kernels);
    else failure = (await tf.setBackend('cpu')) ? null : 'the cpu backend did not initialise';
    if (failure === null) {
      current = describe(name, kernels);
      return current;
    }
    failures.push(`${name}: ${failure}`);
  }
  if (opts.backend) {
    const hint =
      opts.backend === 'wasm' || opts.backend === 'cpu'
        ? 'reinstall with `npm ci`'
        : opts.backend === 'webgpu'
          ? 'needs the optional packages webgpu and @tensorflow/tfjs-backend-webgpu and a Vulkan (Linux), Metal or D3D12 driver, or choose --backend wasm'
          : `install ${opts.backend === 'tensorflow-gpu' ? '@tensorflow/tfjs-node-gpu (needs CUDA)' : '@tensorflow/tfjs-node'} or choose --backend wasm`;
    throw new RuntimeFailure(`backend '${opts.backend}' cannot load (${failures.join('; ')}): ${hint}`);
  }
  throw new RuntimeFailure(`no compute backend could load (${failures.join('; ')}): reinstall with \`npm ci\``);
}

function describe(name: BackendName, kernels: WasmKernelSet): EngineInfo {
  const pkg =
    name === 'tensorflow-gpu'
      ? '@tensorflow/tfjs-node-gpu'
      : name === 'webgpu'
        ? '@tensorflow/tfjs-backend-webgpu'
        : name === 'tensorflow'
        ? '@tensorflow/tfjs-node'
        : name === 'wasm'
          ? '@tensorflow/tfjs-backend-wasm'
          : '@tensorflow/tfjs-backend-cpu';
  const info: EngineInfo = {
    backend: name,
    tfjsBackend: tf.getBackend(),
    tfjsVersion: tf.version.tfjs,
    backendPackage: pkg,
    backendVersion: installedVersion(pkg) ?? 'unknown',
  };
  if (name === 'wasm') {
    info.wasmSimd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT');
    info.wasmThreads = tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT');
    info.wasmKernels = kernels;
  }
  if (name === 'webgpu') {
    const adapter = webGpuAdapter();
    if (adapter) info.webgpuAdapter = adapter;
    // Which filter-gradient kernel ran is part of how a number was made.
    const webgpuKernels = installedWebGpuKernels();
    if (webgpuKernels) info.webgpuKernels = webgpuKernels;
  }
  return info;
}
