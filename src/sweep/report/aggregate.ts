/**
 * Rows averaged over seeds, per (attack, budget) and per defense operating point: what the
 * plots draw and the summary ranks. A point missing some seeds (an unfinished sweep) is averaged
 * over those it has; its `seeds` says how many.
 */
import type { SweepRow } from './rows.js';
import { UNDEFENDED } from '../config/defense-catalog.js';
import { adaptationOfAttackSettings } from '../../adaptations/registry.js';
import { threatModelOf, type ThreatModel } from '../../adaptations/threat-model.js';

export interface OperatingPoint {
  /** The defense's line (name, plus parameters that vary besides the axis). */
  series: string;
  defense: string;
  axisKey: string | null;
  axisValue: number | null;
  /** Means over seeds, as fractions. */
  defenderAccuracy: number;
  attackerAccuracy: number;
  /** Mean ‖y − ỹ‖₁ over the attacker's queries (the test set's when queries were not measured). */
  l1: number;
  /** Spread over seeds: sample standard deviations (0 with a single seed). */
  spread: { defenderAccuracy: number; attackerAccuracy: number; l1: number };
  seeds: number;
}

export interface AttackPanel {
  attackLabel: string;
  attackIndex: number;
  /** The naive attacker, or the entry's adaptation and what its attacker knows (an oracle one is an upper bound). */
  threatModel: ThreatModel;
  budget: number;
  dataset: string;
  victimArch: string;
  numClassesChance: number;
  /** The undefended cell (means over seeds); null when the `none` cells are not finished. */
  undefended: OperatingPoint | null;
  /** Defended points, by series then operating point. */
  points: OperatingPoint[];
  seeds: number[];
}

export function aggregate(rows: readonly SweepRow[], numClasses: number): AttackPanel[] {
  const panels = new Map<string, { rows: SweepRow[]; first: SweepRow }>();
  for (const row of rows) {
    const key = `${row.attackIndex}\u0000${row.cell.settings.budget}`;
    const p = panels.get(key);
    if (p) p.rows.push(row);
    else panels.set(key, { rows: [row], first: row });
  }
  const out: AttackPanel[] = [];
  for (const { rows: group, first } of panels.values()) {
    const bySeries = new Map<string, SweepRow[]>();
    for (const row of group) {
      const key = `${row.series}\u0000${row.axisValue ?? ''}\u0000${row.cell.settings.defense.name}`;
      bySeries.set(key, [...(bySeries.get(key) ?? []), row]);
    }
    let undefended: OperatingPoint | null = null;
    const points: OperatingPoint[] = [];
    for (const members of bySeries.values()) {
      const point = meanPoint(members);
      if (point.defense === UNDEFENDED) undefended = point;
      else points.push(point);
    }
    points.sort((a, b) => (a.series < b.series ? -1 : a.series > b.series ? 1 : (a.axisValue ?? 0) - (b.axisValue ?? 0)));
    out.push({
      attackLabel: first.cell.attackLabel,
      attackIndex: first.attackIndex,
      threatModel: threatModelOf(adaptationOfAttackSettings(first.cell.settings.attack)),
      budget: first.cell.settings.budget,
      dataset: first.cell.settings.victim.dataset,
      victimArch: first.cell.settings.victim.arch,
      numClassesChance: 1 / numClasses,
      undefended,
      points,
      seeds: [...new Set(group.map((r) => r.cell.settings.seed))].sort((a, b) => a - b),
    });
  }
  return out.sort((a, b) => a.attackIndex - b.attackIndex || a.budget - b.budget);
}

function meanPoint(rows: SweepRow[]): OperatingPoint {
  const mean = (f: (r: SweepRow) => number): number => rows.reduce((s, r) => s + f(r), 0) / rows.length;
  const sd = (f: (r: SweepRow) => number): number => {
    if (rows.length < 2) return 0;
    const m = mean(f);
    return Math.sqrt(rows.reduce((s, r) => s + (f(r) - m) ** 2, 0) / (rows.length - 1));
  };
  const defender = (r: SweepRow): number => r.record.metrics.defender.accuracyDefended;
  const attacker = (r: SweepRow): number => r.record.metrics.attacker.accuracy;
  const l1 = (r: SweepRow): number => (r.record.metrics.defender.queries ?? r.record.metrics.defender.test).l1.mean;
  const first = rows[0]!;
  return {
    series: first.series,
    defense: first.cell.settings.defense.name,
    axisKey: first.axisKey,
    axisValue: first.axisValue,
    defenderAccuracy: mean(defender),
    attackerAccuracy: mean(attacker),
    l1: mean(l1),
    spread: { defenderAccuracy: sd(defender), attackerAccuracy: sd(attacker), l1: sd(l1) },
    seeds: rows.length,
  };
}
