/**
 * Whether Dawn (the webgpu backend's WebGPU implementation) was loaded in this process. Dawn
 * keeps Node's event loop alive, so a process that loaded it must end with process.exit. Kept
 * apart from webgpu.ts so the CLI's entry point can ask without loading anything.
 */
let loaded = false;

export function markDawnLoaded(): void {
  loaded = true;
}

export function dawnLoaded(): boolean {
  return loaded;
}
