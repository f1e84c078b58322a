/**
 * Config → cells: the cartesian product attacks × budgets × seeds × defenses × each defense's
 * parameter grid, every cell with its resolved settings and a content id.
 */
import type { AttackName } from '../../attacks/names.js';
import type { ArchName } from '../../models/types.js';
import { attackerTrainingDefaults, resolveTraining } from '../../train/defaults.js';
import { sharesTransferSet } from '../config/attack-catalog.js';
import { sideInfoIdentity } from '../config/defense-catalog.js';
import { shortHash } from './hash.js';
import type { Cell, CellSettings, VictimIdentity } from './cell.js';
import type { AttackEntry, SweepConfig } from '../config/config-types.js';

export function expandGrid(config: SweepConfig, victim: VictimIdentity): Cell[] {
  const attackerArch = config.attacker.arch ?? victim.arch;
  const labels = attackLabels(config.attacks);
  const cells: Cell[] = [];
  for (const attack of config.attacks) {
    const attacker = cellAttacker(config, attack.name, attackerArch);
    for (const budget of attack.budgets ?? config.budgets) {
      for (const seed of config.seeds) {
        for (const defense of config.defenses) {
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
            cells.push({
              id: shortHash(settings),
              settings,
              shared: sharedWork(settings),
              attackLabel: labels.get(attack.index) ?? attack.name,
            });
          }
        }
      }
    }
  }
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
 * The shared work a cell needs. A non-adaptive attack's transfer set (its images and the victim's clean
 * posteriors) depends on the victim, pool, budget and seed only, not on the defense or the label
 * mode; MAD's side information depends on that set and the surrogate.
 */
function sharedWork(settings: CellSettings): string[] {
  const attack = settings.attack;
  if (!sharesTransferSet(attack.name)) return [];
  const transfer = shortHash({
    victim: settings.victim,
    attack: attack.name,
    queryset: attack.queryset,
    querysetSplit: attack.querysetSplit,
    budget: settings.budget,
    seed: settings.seed,
  });
  const keys = [`transfer-${transfer}`];
  const side = sideInfoIdentity(settings.defense);
  if (side) keys.push(`side-${shortHash({ transfer, side })}`);
  return keys;
}

/**
 * Names for attack entries: the attack's name when it appears once, else the name with the
 * parameters that differ between its entries, e.g. "<attack> (labelMode=argmax)".
 */
export function attackLabels(attacks: readonly AttackEntry[]): Map<number, string> {
  const out = new Map<number, string>();
  const byName = new Map<string, AttackEntry[]>();
  for (const a of attacks) byName.set(a.name, [...(byName.get(a.name) ?? []), a]);
  for (const [name, entries] of byName) {
    if (entries.length === 1) {
      out.set(entries[0]!.index, name);
      continue;
    }
    const keys = Object.keys(entries[0]!.params).filter((k) => new Set(entries.map((e) => JSON.stringify(e.params[k]))).size > 1);
    for (const e of entries) {
      out.set(e.index, `${name} (${keys.map((k) => `${k}=${String(e.params[k])}`).join(', ')})`);
    }
  }
  return out;
}
