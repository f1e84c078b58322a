import { after, before } from 'node:test';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { trainVictim } from '../../src/train/victim.js';
import { runCli, type CliRun } from './cli.js';

/** A temporary folder holding a tiny trained victim, in which tests run poison as a user does. */
export interface VictimWorkspace {
  /** The folder (the runs' working directory), made before the file's first test. */
  readonly root: string;
  /** The victim in it: MNIST LeNet, 1 epoch on 300 images, seed 1 (seconds to train). */
  readonly victim: string;
  /** Runs `poison ARGS` in the folder, with no time limit: these runs include whole sweeps. */
  readonly poison: (args: string[], env?: NodeJS.ProcessEnv) => CliRun;
}

/**
 * Registers the calling test file's before/after hooks: make the folder and train the victim
 * before its first test, delete the folder after its last. Call it at the file's top level.
 */
export function useVictimWorkspace(prefix: string): VictimWorkspace {
  let root: string | undefined;
  const ready = (): string => {
    if (root === undefined) throw new Error('the victim workspace is made in a before() hook: use it inside tests');
    return root;
  };
  before(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
    await trainVictim({
      dataset: 'mnist', arch: 'lenet', epochs: 1, lr: 0.1, momentum: 0.5, batchSize: 64, lrStep: 50, weightDecay: 0,
      seed: 1, out: path.join(root, 'victim'), force: false, limit: 300, backend: 'wasm', quiet: true,
    });
  });
  after(async () => {
    if (root !== undefined) await fs.rm(root, { recursive: true, force: true });
  });
  return {
    get root() { return ready(); },
    get victim() { return path.join(ready(), 'victim'); },
    poison: (args, env = process.env) => runCli(args, { cwd: ready(), env, timeoutMs: 0 }),
  };
}
