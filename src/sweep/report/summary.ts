/**
 * summary.md: for each attack (and budget) and each defense, the lowest attacker accuracy the
 * defense reaches while the defender's accuracy stays within 1 and within 5 percentage points of
 * the undefended victim's, with the operating point that reaches it: the paper's "how much does
 * the attacker lose at a given utility cost" reading of figure 3. Means over seeds.
 */
import type { AttackPanel, OperatingPoint } from './aggregate.js';
import { threatModelLine, UPPER_BOUND_MARK } from '../../adaptations/threat-model.js';

export const SUMMARY_FILE = 'summary.md';

/** What every output of a fake-runner sweep says first. */
export const FAKE_NOTICE =
  'NOT A MEASUREMENT: made by the fake runner (POISON_SWEEP_FAKE_RUNNER=1); every number is a fixed function of its cell settings, for testing the sweep machinery';

/** Utility costs the summary reports, in accuracy points. */
const TOLERANCES = [0.01, 0.05] as const;

interface SummaryHeader {
  name: string;
  victim: string;
  finished: number;
  total: number;
  /** Made from the fake runner's cells: the title and first line say these are no measurements. */
  fake?: boolean;
}

export function sweepSummary(header: SummaryHeader, panels: readonly AttackPanel[]): string {
  const lines: string[] = [
    `# Sweep ${header.name}${header.fake ? ': NOT A MEASUREMENT (fake runner)' : ''}`,
    '',
    ...(header.fake ? [`${FAKE_NOTICE}.`, ''] : []),
    `Victim: ${header.victim}. ${header.finished} of ${header.total} cells finished${header.finished < header.total ? ' (an unfinished sweep: numbers below use the finished cells only)' : ''}.`,
    '',
    'For each defense: the lowest attacker accuracy among its operating points whose defender accuracy stays within',
    '1 (and 5) percentage points of the undefended victim, the point that reaches it, and the error amplification',
    '(1 − attacker accuracy) / (1 − undefended attacker accuracy) there. Accuracies are means over seeds.',
  ];
  if (panels.some((p) => p.threatModel.upperBound)) {
    lines.push(
      '',
      `Entries marked ${UPPER_BOUND_MARK} adapt with what only the defender has (attackerKnows oracle): no real attacker reaches their`,
      'accuracies, which bound from above what a realistic adaptive attacker could.',
    );
  }
  for (const panel of panels) {
    lines.push('', `## ${panel.attackLabel}, budget ${panel.budget}`, '', `Attacker: ${threatModelLine(panel.threatModel)}.`, '');
    const u = panel.undefended;
    const mark = panel.threatModel.upperBound ? ` ${UPPER_BOUND_MARK}` : '';
    if (!u) {
      lines.push('The undefended cells are not finished yet: nothing to compare against.');
      continue;
    }
    lines.push(
      `Undefended: attacker ${pct(u.attackerAccuracy)}, defender ${pct(u.defenderAccuracy)} (${panel.seeds.length === 1 ? `seed ${panel.seeds[0]}` : `seeds ${panel.seeds.join(', ')}`}).`,
      '',
      // An oracle attacker's accuracies bound a real one's from above: the table says so too.
      `| defense | defender within 1 pt: lowest attacker acc${mark} | at | defender within 5 pt: lowest attacker acc${mark} | at |`,
      '|---|---|---|---|---|',
    );
    const series = [...new Set(panel.points.map((p) => p.series))];
    if (series.length === 0) lines.push('| (no defended cells finished) | | | | |');
    for (const s of series) {
      const pts = panel.points.filter((p) => p.series === s);
      const cols = TOLERANCES.flatMap((tol) => {
        const best = lowestAttacker(pts, u, tol);
        if (!best) return ['—', 'no operating point stays within'];
        return [`${pct(best.attackerAccuracy)} (${amplification(best, u)})`, `${pointName(best)}: defender ${pct(best.defenderAccuracy)}`];
      });
      lines.push(`| ${s} | ${cols.join(' | ')} |`);
    }
  }
  return lines.join('\n') + '\n';
}

/** The point with the lowest attacker accuracy whose defender accuracy is within `tol` of undefended. */
export function lowestAttacker(points: readonly OperatingPoint[], undefended: OperatingPoint, tol: number): OperatingPoint | null {
  let best: OperatingPoint | null = null;
  for (const p of points) {
    // 1e-9: accuracies are means of shares; "within 1 point" includes exactly 1 point.
    if (p.defenderAccuracy < undefended.defenderAccuracy - tol - 1e-9) continue;
    if (!best || p.attackerAccuracy < best.attackerAccuracy) best = p;
  }
  return best;
}

function pointName(p: OperatingPoint): string {
  return p.axisKey === null ? p.defense : `${p.axisKey} = ${p.axisValue}`;
}

function amplification(p: OperatingPoint, u: OperatingPoint): string {
  if (u.attackerAccuracy >= 1) return 'amplification undefined';
  return `${((1 - p.attackerAccuracy) / (1 - u.attackerAccuracy)).toFixed(2)}× error`;
}

function pct(x: number): string {
  return `${(100 * x).toFixed(2)}%`;
}
