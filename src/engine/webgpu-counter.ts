/**
 * Counts WebGPU API calls, for the host-cost benchmark (`npm run bench -- gpu-host`) and the
 * dispatch-budget test: how many kernels a training step dispatches, in how many compute passes
 * and submits, how many buffer writes, bind groups, buffers and GPU→CPU reads (mapAsync) it needs.
 * Each is a count, deterministic for a given model and kernel set, so it can be held to a budget
 * in a test; times never are.
 *
 * The methods are wrapped on the prototypes of Dawn's classes (the `webgpu` package's globals,
 * installed on globalThis when Dawn loads), so every device and backend in the process is
 * counted, including calls tfjs makes internally.
 */

/** Calls counted since the counter was installed. */
export interface WebGpuCounts {
  dispatches: number;
  computePasses: number;
  submits: number;
  writeBuffers: number;
  mapAsyncs: number;
  bindGroups: number;
  createBuffers: number;
}

const counts: WebGpuCounts = {
  dispatches: 0,
  computePasses: 0,
  submits: 0,
  writeBuffers: 0,
  mapAsyncs: 0,
  bindGroups: 0,
  createBuffers: 0,
};

/** Which method of which class (a global after Dawn loaded) feeds which count. */
const WRAPPED: [className: string, method: string, count: keyof WebGpuCounts][] = [
  ['GPUComputePassEncoder', 'dispatchWorkgroups', 'dispatches'],
  ['GPUCommandEncoder', 'beginComputePass', 'computePasses'],
  ['GPUQueue', 'submit', 'submits'],
  ['GPUQueue', 'writeBuffer', 'writeBuffers'],
  ['GPUBuffer', 'mapAsync', 'mapAsyncs'],
  ['GPUDevice', 'createBindGroup', 'bindGroups'],
  ['GPUDevice', 'createBuffer', 'createBuffers'],
];

let installed = false;

/**
 * Wraps the counted methods (once). Call after Dawn has loaded (after `initEngine({ backend:
 * 'webgpu' })`); returns false when its classes are not there.
 */
export function installWebGpuCounter(): boolean {
  if (installed) return true;
  const g = globalThis as unknown as Record<string, { prototype: Record<string, unknown> } | undefined>;
  if (!WRAPPED.every(([cls, method]) => typeof g[cls]?.prototype[method] === 'function')) return false;
  for (const [cls, method, count] of WRAPPED) {
    const proto = g[cls]!.prototype;
    const original = proto[method] as (...args: unknown[]) => unknown;
    proto[method] = function (this: unknown, ...args: unknown[]): unknown {
      counts[count]++;
      return original.apply(this, args);
    };
  }
  installed = true;
  return true;
}

/** A copy of the counts so far (subtract two with countsBetween). */
export function webGpuCounts(): WebGpuCounts {
  return { ...counts };
}

/** What happened between two snapshots. */
export function countsBetween(before: WebGpuCounts, after: WebGpuCounts): WebGpuCounts {
  const d = { ...after };
  for (const k of Object.keys(d) as (keyof WebGpuCounts)[]) d[k] -= before[k];
  return d;
}
