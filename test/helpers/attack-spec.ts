/**
 * A small `poison attack` request on a test workspace's victim, for tests that call runAttack
 * directly: knockoff from the MNIST test split, probabilities, no defense, one quick epoch, wasm,
 * quiet. Each call gets its own output folder in the workspace so runs never meet in one.
 */
import * as path from 'node:path';
import type { AttackSpec } from '../../src/attack-run/spec.js';
import { JACOBIAN_DEFAULTS } from '../../src/attacks/names.js';
import type { VictimWorkspace } from './victim-workspace.js';

let outCount = 0;

/**
 * The small request on `workspace`'s victim with `overrides` on top. Defaults: budget 32, seed 3,
 * scored on the first 64 test images, no cache (a test that checks caching names its folder).
 */
export function smallAttackSpec(workspace: VictimWorkspace, overrides: Partial<AttackSpec> = {}): AttackSpec {
  return {
    victim: workspace.victim,
    attack: 'knockoff',
    budgets: [32],
    labelMode: 'probs',
    defense: { name: 'none' },
    queryset: 'mnist',
    querysetSplit: 'test',
    jacobian: { ...JACOBIAN_DEFAULTS },
    training: { epochs: 1, lr: 0.1, momentum: 0.5, batchSize: 16, lrStep: 50, weightDecay: 0 },
    queryBatchSize: 16,
    seed: 3,
    out: path.join(workspace.root, `attack-${++outCount}`),
    force: false,
    cacheDir: null,
    testLimit: 64,
    backend: 'wasm',
    quiet: true,
    ...overrides,
  };
}
