/**
 * Finished cells → result rows: each cell's record with what the merge derives from the grid as
 * a whole: its attack and defense labels for plots and the summary, its operating point, and
 * its error amplification against the undefended cell of the same attack, budget and seed.
 * Amplification is computed here, at merge time, from the `none` rows, so it needs no
 * ordering between cells and survives any resume.
 */
import type { Cell } from '../plan/cell.js';
import type { CellRecord } from '../run/cell-record.js';
import type { DefenseEntry } from '../config/config-types.js';
import { operatingAxis, specField, UNDEFENDED } from '../config/defense-catalog.js';
import { canonicalJson } from '../../cache/canonical-json.js';

export interface SweepRow {
  cell: Cell;
  record: CellRecord;
  /** Position of the attack entry and defense in the config, for a reader-friendly row order. */
  attackIndex: number;
  defenseIndex: number;
  /** The defense's line in plots: its name, plus non-axis parameters that vary in the grid. */
  series: string;
  /** The operating-point parameter (config key) and its value; null for single-point defenses. */
  axisKey: string | null;
  axisValue: number | null;
  /** (1 − acc_A) / (1 − acc_A undefended); null without an undefended cell or when that is 100%. */
  amplification: number | null;
}

export function buildRows(
  cells: readonly Cell[],
  records: ReadonlyMap<string, CellRecord>,
  defenses: readonly DefenseEntry[],
  attackOrder: ReadonlyMap<string, number>,
): SweepRow[] {
  const baselineKey = (c: Cell): string =>
    canonicalJson({ v: c.settings.victim, a: c.settings.attack, t: c.settings.attacker, b: c.settings.budget, s: c.settings.seed, l: c.settings.testLimit });
  const baselines = new Map<string, number>();
  for (const c of cells) {
    const r = records.get(c.id);
    if (r && c.settings.defense.name === UNDEFENDED) baselines.set(baselineKey(c), r.metrics.attacker.accuracy);
  }
  const rows: SweepRow[] = [];
  for (const cell of cells) {
    const record = records.get(cell.id);
    if (!record) continue;
    const spec = cell.settings.defense;
    const defenseIndex = defenses.findIndex((d) => d.name === spec.name);
    const entry = defenses[defenseIndex];
    const axis = operatingAxis(spec.name);
    const varying = entry
      ? Object.entries(entry.grid)
          .filter(([key, values]) => values.length > 1 && key !== axis?.key)
          .map(([key]) => `${key}=${String(spec[specField(spec.name, key)])}`)
      : [];
    const base = baselines.get(baselineKey(cell));
    const acc = record.metrics.attacker.accuracy;
    rows.push({
      cell,
      record,
      attackIndex: attackOrder.get(cell.attackLabel) ?? 0,
      defenseIndex,
      series: varying.length > 0 ? `${spec.name} (${varying.join(', ')})` : spec.name,
      axisKey: axis?.key ?? null,
      axisValue: axis ? Number(spec[axis.field]) : null,
      amplification: base === undefined || base >= 1 ? null : (1 - acc) / (1 - base),
    });
  }
  return rows.sort(compareRows);
}

/** Config order of attacks, then budget, seed, config order of defenses, operating point, settings, id. */
function compareRows(a: SweepRow, b: SweepRow): number {
  return (
    a.attackIndex - b.attackIndex ||
    a.cell.settings.budget - b.cell.settings.budget ||
    a.cell.settings.seed - b.cell.settings.seed ||
    a.defenseIndex - b.defenseIndex ||
    (a.axisValue ?? -Infinity) - (b.axisValue ?? -Infinity) ||
    cmp(canonicalJson(a.cell.settings.defense), canonicalJson(b.cell.settings.defense)) ||
    cmp(a.cell.id, b.cell.id)
  );
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
