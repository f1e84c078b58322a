/** A randomly initialised model saved as a model directory (params.json and all), without training: fast fixtures. */
import { after, before } from 'node:test';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initEngine } from '../../src/engine/backend.js';
import type { DefenseContext } from '../../src/defenses/types.js';
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

/** What useRandomVictimAndHelper gives a test file (read it inside tests: set by its before hook). */
export interface RandomVictimAndHelper {
  /** The temporary folder, removed after the file's tests. */
  readonly root: string;
  readonly victimDir: string;
  /** The defense's helper model (a misinformation model, a surrogate). */
  readonly helperDir: string;
  /** The defense context of the victim (10 classes, 28×28×1, LeNet, seed 1). */
  readonly ctx: DefenseContext;
}

/**
 * A random LeNet victim (seed 1) and a random helper model of a defense (seed 2) saved at
 * `helperDir(victimDir, root)`, in a temporary folder, on the wasm engine: the fixture of the
 * tests of a defense that needs a model beside the victim. Call it at the top level of a test
 * file: it registers that file's before and after hooks.
 */
export function useRandomVictimAndHelper(
  prefix: string,
  helper: { kind: ModelParams['kind']; dir: (victimDir: string, root: string) => string },
): RandomVictimAndHelper {
  let state: RandomVictimAndHelper | null = null;
  before(async () => {
    await initEngine({ backend: 'wasm' });
    const root = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
    const victimDir = path.join(root, 'victim');
    await saveRandomModel(victimDir, { seed: 1 });
    const helperDir = helper.dir(victimDir, root);
    await saveRandomModel(helperDir, { seed: 2, kind: helper.kind });
    state = { root, victimDir, helperDir, ctx: { numClasses: 10, inputShape: [28, 28, 1], arch: 'lenet', seed: 1, victimDir } };
  });
  after(async () => {
    if (state) await fs.rm(state.root, { recursive: true, force: true });
  });
  const get = (): RandomVictimAndHelper => {
    if (!state) throw new Error('useRandomVictimAndHelper: read inside a test, after its before hook');
    return state;
  };
  return {
    get root() {
      return get().root;
    },
    get victimDir() {
      return get().victimDir;
    },
    get helperDir() {
      return get().helperDir;
    },
    get ctx() {
      return get().ctx;
    },
  };
}
