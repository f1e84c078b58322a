/** One line per cell for the terminal: what it is, and (when finished) what it gave. */
import { describeDefense } from '../../defenses/spec.js';
import type { Cell } from '../plan/cell.js';
import type { CellRecord } from './cell-record.js';

export function describeCell(cell: Cell): string {
  const s = cell.settings;
  return `${cell.attackLabel} B=${s.budget} seed=${s.seed} vs ${describeDefense(s.defense)}`;
}

export function finishedLine(cell: Cell, record: CellRecord): string {
  const m = record.metrics;
  return (
    `${cell.id} ${describeCell(cell)}: attacker ${pct(m.attacker.accuracy)}, defender ${pct(m.defender.accuracyDefended)} ` +
    `(undefended ${pct(m.defender.accuracyUndefended)}), mean L1 ${m.defender.test.l1.mean.toFixed(3)} (${record.seconds.total.toFixed(1)} s)`
  );
}

function pct(x: number): string {
  return `${(100 * x).toFixed(2)}%`;
}
