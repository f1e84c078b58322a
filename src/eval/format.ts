/** The small table `poison eval` prints on stdout. */
import type { EvalReport } from './run.js';

const pct = (x: number): string => `${(100 * x).toFixed(2)}%`;
const num = (x: number): string => (Number.isFinite(x) ? x.toFixed(4) : String(x));

export function formatEvalTable(report: EvalReport): string {
  const r = report.results;
  const drop = 100 * (r.accuracyUndefended - r.accuracyDefended);
  const rows: [string, string][] = [
    ['defense', report.defense.description],
    ['victim', `${report.victim.arch} on ${report.victim.dataset} (${report.victim.dir})`],
    ['queries', `${r.queries} test images`],
    ['accuracy undefended', pct(r.accuracyUndefended)],
    ['accuracy defended', `${pct(r.accuracyDefended)} (${Math.abs(drop) < 0.005 ? '±' : drop > 0 ? '−' : '+'}${Math.abs(drop).toFixed(2)} points)`],
    ['L1 mean ± std', `${num(r.l1.mean)} ± ${num(r.l1.std)}`],
    ['L2 mean ± std', `${num(r.l2.mean)} ± ${num(r.l2.std)}`],
    ['KL mean ± std', `${num(r.kl.mean)} ± ${num(r.kl.std)}`],
    ['top-1 changed', `${pct(r.top1ChangeRate)} (${r.top1Changed})`],
    ['simplex violations', String(r.simplexViolations)],
    ['ε-ball violations', r.epsBallViolations === null ? 'n/a' : String(r.epsBallViolations)],
    ['speed', `${r.queriesPerSecond.toFixed(0)} queries/s (${report.provenance.engine.backend})`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n') + '\n';
}
