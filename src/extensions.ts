/**
 * Attacks, defenses and adaptations declared outside src/ (a test's stand-in, an experiment of one's own),
 * each in one file, loaded from the modules named in POISON_EXTENSION_MODULES (compiled JS paths,
 * separated by the platform's path delimiter) before a command or a sweep worker reads the
 * registries. A module exports `attacks`, an array of attack declarations (src/attacks/types.ts),
 * `defenses`, an array of defense declarations (src/defenses/definition.ts), and/or
 * `adaptations`, an array of adaptation declarations (src/adaptations/types.ts). Nothing in
 * src/ knows any of them: without the variable this loads nothing.
 */
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { UsageError } from './errors.js';
import { registerAttack } from './attacks/registry.js';
import type { AttackDefinition } from './attacks/types.js';
import { registerDefense } from './defenses/registry.js';
import type { DefenseDefinition } from './defenses/definition.js';
import { registerAdaptation } from './adaptations/registry.js';
import type { AdaptationDefinition } from './adaptations/types.js';

export const EXTENSIONS_ENV = 'POISON_EXTENSION_MODULES';

export async function loadExtensions(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const value = env[EXTENSIONS_ENV];
  if (!value) return;
  for (const entry of value.split(path.delimiter).filter((p) => p !== '')) {
    const file = path.resolve(entry);
    let loaded: unknown;
    try {
      loaded = await import(pathToFileURL(file).href);
    } catch (err) {
      throw new UsageError(`${EXTENSIONS_ENV}: cannot load ${file} (${err instanceof Error ? err.message : String(err)})`);
    }
    const { attacks, defenses, adaptations } = loaded as { attacks?: unknown; defenses?: unknown; adaptations?: unknown };
    const valid = (list: unknown, check: (v: unknown) => boolean): boolean => list === undefined || (Array.isArray(list) && list.every(check));
    if (
      (attacks === undefined && defenses === undefined && adaptations === undefined) ||
      !valid(attacks, isAttackDefinition) ||
      !valid(defenses, isDefenseDefinition) ||
      !valid(adaptations, isAdaptationDefinition)
    ) {
      throw new UsageError(
        `${EXTENSIONS_ENV}: ${file} does not export \`attacks\` (an array of attack declarations), \`defenses\` (an array of defense declarations) or \`adaptations\` (an array of adaptation declarations)`,
      );
    }
    for (const attack of (attacks ?? []) as AttackDefinition[]) registerAttack(attack);
    for (const defense of (defenses ?? []) as DefenseDefinition[]) registerDefense(defense);
    for (const adaptation of (adaptations ?? []) as AdaptationDefinition[]) registerAdaptation(adaptation);
  }
}

function isAttackDefinition(value: unknown): value is AttackDefinition {
  if (typeof value !== 'object' || value === null) return false;
  const a = value as Partial<Record<keyof AttackDefinition, unknown>>;
  const queries = a.queries as { kind?: unknown; load?: unknown } | string | undefined;
  const ownSource = typeof queries === 'object' && queries !== null && typeof queries.kind === 'string' && typeof queries.load === 'function';
  return typeof a.name === 'string' && (queries === 'pool' || queries === 'seed-set' || ownSource) && typeof a.adaptive === 'boolean' && Array.isArray(a.params) && typeof a.run === 'function';
}

function isDefenseDefinition(value: unknown): value is DefenseDefinition {
  if (typeof value !== 'object' || value === null) return false;
  const d = value as Partial<Record<keyof DefenseDefinition, unknown>>;
  return (
    typeof d.name === 'string' && typeof d.summary === 'string' && Array.isArray(d.params) && (d.operatingAxis === null || typeof d.operatingAxis === 'string') &&
    typeof d.drawsRandomness === 'function' && typeof d.sideInfoIdentity === 'function' && typeof d.create === 'function'
  );
}

function isAdaptationDefinition(value: unknown): value is AdaptationDefinition {
  if (typeof value !== 'object' || value === null) return false;
  const a = value as Partial<Record<keyof AdaptationDefinition, unknown>>;
  return (
    typeof a.name === 'string' && Array.isArray(a.params) && typeof a.attackerKnows === 'function' && typeof a.queriesPerImage === 'function' && typeof a.wrap === 'function'
  );
}
