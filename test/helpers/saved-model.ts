/** A randomly initialised model saved as a model directory (params.json and all), without training: fast fixtures. */
import * as path from 'node:path';
import { buildModel } from '../../src/models/registry.js';
import { saveModel, type ModelParams } from '../../src/models/io.js';
import { PARAMS_FILE } from '../../src/models/files.js';
import type { ArchName } from '../../src/models/types.js';
import { writeJsonAtomic } from '../../src/util/atomic.js';
import { Rng } from '../../src/util/rng.js';

export async function saveRandomModel(
  dir: string,
  opts: { arch?: ArchName; numClasses?: number; seed?: number; kind?: ModelParams['kind'] } = {},
): Promise<void> {
  const arch = opts.arch ?? 'lenet';
  const numClasses = opts.numClasses ?? 10;
  const seed = opts.seed ?? 1;
  const model = buildModel(arch, { inputShape: [28, 28, 1], numClasses, rng: new Rng(seed) });
  try {
    await saveModel(model, dir);
  } finally {
    model.dispose();
  }
  const params: ModelParams = {
    kind: opts.kind ?? 'victim',
    arch,
    dataset: 'mnist',
    numClasses,
    input: { height: 28, width: 28, channels: 1, mean: [0.1307], std: [0.3081] },
    seed,
  };
  await writeJsonAtomic(path.join(dir, PARAMS_FILE), params);
}
