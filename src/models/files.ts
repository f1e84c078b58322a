/**
 * The files of a saved model directory, and whether one is there. Free of TensorFlow.js (io.ts
 * loads it), so declarations read by `--help` and the sweep's parent process can look for a
 * model without loading it.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

export const MODEL_FILE = 'model.json';
export const WEIGHTS_FILE = 'weights.bin';
export const PARAMS_FILE = 'params.json';

/** Whether `dir` holds a finished saved model: its params.json is written last (atomically). */
export async function hasSavedModel(dir: string): Promise<boolean> {
  try {
    await fs.access(path.join(dir, PARAMS_FILE));
    return true;
  } catch {
    return false;
  }
}
