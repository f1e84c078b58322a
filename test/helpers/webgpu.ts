/**
 * For test files that load Dawn (the webgpu backend): why webgpu cannot run here, and the exit
 * that ends the file's process once its tests are done (Dawn keeps the event loop alive).
 */
import { after } from 'node:test';
import { initEngine } from '../../src/engine/backend.js';

/** Loads the webgpu backend (forced: a software adapter such as lavapipe counts): null, or why not in one line. */
export async function webgpuUnavailable(): Promise<string | null> {
  try {
    await initEngine({ backend: 'webgpu' });
    return null;
  } catch (err) {
    return (err as Error).message.split('\n')[0] ?? 'webgpu failed to load';
  }
}

/** After the file's tests: report their wall time on stderr and end the process. */
export function exitAfterTests(label: string): void {
  const started = performance.now();
  after(() => {
    process.stderr.write(`# ${label}: ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
    setTimeout(() => process.exit(), 100).unref();
    setTimeout(() => process.exit(), 2000);
  });
}
