/**
 * Config → cells: the cartesian product attacks × budgets × seeds × defenses × each defense's
 * parameter grid, every cell with its resolved settings and a content id, and the work it
 * shares with other cells: cells that differ only in budget share one query phase, run up to
 * the largest of their budgets, each serving its budget from the prefix.
 */
import type { AttackName } from '../../attacks/names.js';
import type { ArchName } from '../../models/types.js';
import { attackerTrainingDefaults, resolveTraining } from '../../train/defaults.js';
import { attackDefinition } from '../../attacks/registry.js';
import { adaptationDefinition, adaptationOfAttackSettings } from '../../adaptations/registry.js';
import { sharesTransferSet } from '../config/attack-catalog.js';
import { preparedIdentity, sideInfoIdentity } from '../config/defense-catalog.js';
import { canonicalJson } from '../../cache/canonical-json.js';
import { CACHE_FORMATS } from '../../cache/formats.js';
import { cacheKey } from '../../cache/key.js';
import { shortHash } from './hash.js';
import type { Cell, CellSettings, VictimIdentity } from './cell.js';
import type { AttackEntry, SweepConfig } from '../config/config-types.js';

export function expandGrid(config: SweepConfig, victim: VictimIdentity): Cell[] {
  const attackerArch = config.attacker.arch ?? victim.arch;
  const labels = attackLabels(config.attacks);
  const grid: { settings: CellSettings; attackLabel: string }[] = [];
  for (const attack of config.attacks) {
    const attacker = cellAttacker(config, attack.name, attackerArch);
    for (const budget of attack.budgets ?? config.budgets) {
      for (const seed of config.seeds) {
        for (const defense of config.defenses) {
          if (attack.defenses && !attack.defenses.some((d) => d.name === defense.name)) continue;
          for (const point of defense.points) {
            const settings: CellSettings = {
              victim,
              attack: { name: attack.name, ...attack.params },
              attacker,
              defense: point,
              budget,
              seed,
              testLimit: config.testLimit,
            };
            grid.push({ settings, attackLabel: labels.get(attack.index) ?? attack.name });
          }
        }
      }
    }
  }
  // The longest query phase each group needs: the largest budget among its cells.
  const longest = new Map<string, number>();
  for (const { settings } of grid) {
    const group = queryGroup(settings);
    if (group) longest.set(group, Math.max(longest.get(group) ?? 0, settings.budget));
  }
  const cells = grid.map(({ settings, attackLabel }): Cell => {
    const group = queryGroup(settings);
    const queryBudget = group ? longest.get(group)! : settings.budget;
    return { id: shortHash(settings), settings, ...sharedWork(settings, queryBudget), queryBudget, attackLabel };
  });
  const ids = new Set(cells.map((c) => c.id));
  if (ids.size !== cells.length) throw new Error('two cells of the grid have the same settings: the config validation let a duplicate through');
  return cells;
}

/**
 * A cell's attacker training, resolved by the same function as `poison attack`'s flags. The
 * preset is named only when it is not the paper's, so paper cells keep the ids they always had.
 */
export function cellAttacker(config: Pick<SweepConfig, 'attacker'>, attack: AttackName, arch: ArchName): CellSettings['attacker'] {
  const { preset, overrides } = config.attacker;
  const training = resolveTraining(attackerTrainingDefaults(arch, attack, preset), overrides);
  return { arch, ...training, ...(preset === 'paper' ? {} : { preset }) };
}

/**
 * What the cells sharing one query phase have in common (null: the cell shares none). A
 * non-adaptive attack's transfer set (its images and the victim's clean posteriors) depends on
 * the victim, pool and seed only, not on the defense or the label mode; an adaptive attack's
 * queries depend on everything but the budget. Attacks whose queries depend on the budget
 * (servesPrefixes: false) add it, so each budget is its own group.
 */
function queryGroup(settings: CellSettings): string | null {
  const attack = settings.attack;
  // An adapted cell queries live (src/attack-run/query-stage.ts): it shares no query phase.
  if (attack.adapt !== undefined) return null;
  const definition = attackDefinition(attack.name);
  const perBudget = definition.servesPrefixes === false ? { budget: settings.budget } : {};
  if (sharesTransferSet(attack.name)) {
    return canonicalJson({ victim: settings.victim, attack: transferSettings(settings), seed: settings.seed, ...perBudget });
  }
  return canonicalJson({ adaptive: withoutBudget(settings), ...perBudget });
}

/**
 * What of a non-adaptive attack's settings its transfer set depends on: its name and every
 * setting it declares (pool, split, its own knobs), not the label mode the attacker trains on.
 */
function transferSettings(settings: CellSettings): Record<string, unknown> {
  return Object.fromEntries(Object.entries(settings.attack).filter(([key]) => key !== 'labelMode'));
}

function withoutBudget(settings: CellSettings): Omit<CellSettings, 'budget'> {
  const rest: Partial<CellSettings> = { ...settings };
  delete rest.budget;
  return rest as Omit<CellSettings, 'budget'>;
}

/** Keys of what a defense's prepare() builds beside the victim (see prepareKeyOf). */
export const PREPARE_KEY_PREFIX = 'prepare-';

/**
 * The key of what the cell's defense builds beside the victim before its first query (a trained
 * f̂, a distilled surrogate), shared by every cell whose defense has the same prepared identity;
 * null when the defense builds nothing.
 *
 * The sweep's keys (transfer-, side-, queries-, prepare-) name work for its locks and ready
 * markers, so two workers never build the same thing at once. They are not what makes a reuse
 * correct: every cached row a cell reads is found under a key of the content it was computed
 * from (src/cache/key.ts), so a marker left from other inputs only means the cell computes it
 * again. All go through cacheKey (canonical JSON, format versions).
 */
function prepareKeyOf(settings: CellSettings): string | null {
  const identity = preparedIdentity(settings.defense, settings.seed);
  return identity === null ? null : `${PREPARE_KEY_PREFIX}${sweepKey('prepared', CACHE_FORMATS.prepared, { victim: settings.victim, prepared: identity })}`;
}

/** A sweep's work key: the first 16 hex digits of the cache key (readable lock file names). */
function sweepKey(kind: string, format: number, identity: unknown): string {
  return cacheKey(`sweep-${kind}`, format, identity).slice(0, 16);
}

/**
 * The shared work a cell needs, in the order it is built. A non-adaptive attack's transfer set
 * lives in the posterior cache (`transfer-` key), MAD's side information on it beside it
 * (`side-`); an adaptive attack's query phase is kept in the sweep's `queries/<key>/`
 * (`queries-` key, also the cell's queryStore). What the defense builds beside the victim comes
 * last (`prepare-`): the sweep runs it ahead of the cells as a task of its own (run-sweep.ts).
 */
function sharedWork(settings: CellSettings, queryBudget: number): Pick<Cell, 'shared' | 'queryStore'> {
  const prepared = prepareKeyOf(settings);
  const work = queryWork(settings, queryBudget);
  return prepared === null ? work : { ...work, shared: [...work.shared, prepared] };
}

function queryWork(settings: CellSettings, queryBudget: number): Pick<Cell, 'shared' | 'queryStore'> {
  const attack = settings.attack;
  if (attack.adapt !== undefined) return { shared: [], queryStore: null };
  if (!sharesTransferSet(attack.name)) {
    const key = `queries-${sweepKey('queries', CACHE_FORMATS.queries, { cell: withoutBudget(settings), queries: queryBudget })}`;
    return { shared: [key], queryStore: key };
  }
  const transfer = sweepKey('transfer', CACHE_FORMATS.transfer, {
    victim: settings.victim,
    attack: transferSettings(settings),
    budget: queryBudget,
    seed: settings.seed,
  });
  const keys = [`transfer-${transfer}`];
  const side = sideInfoIdentity(settings.defense);
  if (side) keys.push(`side-${sweepKey('side', CACHE_FORMATS.side, { transfer, side })}`);
  return { shared: keys, queryStore: null };
}

/**
 * The cell as it runs without a posterior cache: it shares no transfer set (each cell queries
 * its own, up to its own budget); an adaptive query phase is still shared (the sweep keeps it),
 * and so is what its defense builds beside the victim.
 */
export function withoutCache(cell: Cell): Cell {
  if (cell.queryStore) return cell;
  return { ...cell, shared: cell.shared.filter((k) => k.startsWith(PREPARE_KEY_PREFIX)), queryBudget: cell.settings.budget };
}

/**
 * Names for attack entries: the attack's name (with ` + <adaptation>` for an entry that adapts)
 * when it appears once, else that with the parameters that differ between its entries, e.g.
 * "<attack> (labelMode=argmax)". An adaptation whose attacker reads the defender's private data
 * (attackerKnows `oracle`) is marked as the upper bound it is.
 */
export function attackLabels(attacks: readonly AttackEntry[]): Map<number, string> {
  const out = new Map<number, string>();
  const byBase = new Map<string, AttackEntry[]>();
  for (const a of attacks) {
    const base = typeof a.params.adapt === 'string' ? `${a.name} + ${a.params.adapt}` : a.name;
    byBase.set(base, [...(byBase.get(base) ?? []), a]);
  }
  for (const [base, entries] of byBase) {
    const keys = Object.keys(entries[0]!.params).filter((k) => new Set(entries.map((e) => JSON.stringify(e.params[k]))).size > 1);
    for (const e of entries) {
      const adaptation = adaptationOfAttackSettings(e.params);
      const upperBound = adaptation && adaptationDefinition(adaptation.name).attackerKnows(adaptation.settings) === 'oracle' ? ' [oracle: upper bound]' : '';
      out.set(e.index, `${entries.length === 1 ? base : `${base} (${keys.map((k) => `${k}=${String(e.params[k])}`).join(', ')})`}${upperBound}`);
    }
  }
  return out;
}
