/**
 * Everything a sweep command needs before it touches the output directory: the validated
 * config, the victim, the cells and the sweep's fingerprint.
 */
import type { BackendName } from '../../engine/backend-names.js';
import type { Cell } from './cell.js';
import type { SweepConfig } from '../config/config-types.js';
import { expandGrid } from './grid.js';
import { shortHash } from './hash.js';
import { loadSweepConfig } from '../config/parse-config.js';
import { resolveVictim, type ResolvedVictim } from './victim-identity.js';

export interface SweepPlan {
  config: SweepConfig;
  out: string;
  backend: BackendName | null;
  /** The config's cacheDir unless --cache-dir overrides it. */
  cacheDir: string | null;
  victim: ResolvedVictim;
  /** In grid order (attacks × budgets × seeds × defenses × operating points). */
  cells: Cell[];
  /**
   * What must match for two runs to share an output directory: the victim. A grid may grow or
   * shrink between runs (cells are content-addressed); the victim in `<out>/victim/` may not.
   */
  fingerprint: string;
}

interface PlanOverrides {
  out?: string;
  backend?: BackendName;
  cacheDir?: string;
}

export async function planSweep(file: string, overrides: PlanOverrides = {}): Promise<SweepPlan> {
  const config = loadSweepConfig(file);
  const out = overrides.out ?? config.out;
  const victim = await resolveVictim(config, out);
  const cells = expandGrid(config, victim.identity);
  return {
    config,
    out,
    backend: overrides.backend ?? config.backend,
    cacheDir: overrides.cacheDir ?? config.cacheDir,
    victim,
    cells,
    fingerprint: shortHash({ format: 1, victim: victim.identity }, 16),
  };
}
