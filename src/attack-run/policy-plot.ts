/**
 * The record of an adaptive pool attack's choices (result.json's queryPolicy) and its figure
 * (policy.svg beside result.json): π per pool class over the queries, and the queries per class
 * at each budget. Rendered like the sweep's figures (vega-lite → SVG, headless).
 */
import type { TopLevelSpec } from 'vega-lite';
import type { PolicyTrace } from '../attacks/transfer-set.js';
import { renderSvg } from '../sweep/report/plots.js';
import { POLICY_PLOT_FILE, type QueryPolicyReport } from './result.js';

/** The report of a trace for the run's budgets (ascending, each at most the trace's length). */
export function queryPolicyReport(trace: PolicyTrace, budgets: readonly number[]): QueryPolicyReport {
  const largest = budgets[budgets.length - 1] ?? 0;
  const counts = budgets.map((budget) => {
    if (budget > trace.actions.length) throw new Error(`the policy trace holds ${trace.actions.length} queries, budget ${budget}`);
    const perClass = new Array<number>(trace.labels.length).fill(0);
    for (let i = 0; i < budget; i++) perClass[trace.actions[i]!]! += 1;
    return { budget, perClass };
  });
  return {
    labels: trace.labels,
    counts,
    // A query phase longer than this run's largest budget (a sweep serving several budgets) says
    // nothing about this run beyond it.
    policy: trace.snapshots.filter((s) => s.queries <= largest).map((s) => ({ queries: s.queries, pi: s.policy })),
    plot: POLICY_PLOT_FILE,
  };
}

/** Two panels: π(class) against queries, and queries per class at the largest budget. */
function policySpec(report: QueryPolicyReport, title: string): TopLevelSpec {
  const lines = report.policy.flatMap((s) => s.pi.map((pi, a) => ({ queries: s.queries, pi, label: String(report.labels[a]) })));
  const last = report.counts[report.counts.length - 1];
  const bars = last ? last.perClass.map((count, a) => ({ label: String(report.labels[a]), count })) : [];
  const order = report.labels.map(String);
  const color = { field: 'label', type: 'nominal', title: 'pool class', sort: order } as const;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: title, subtitle: 'gradient-bandit policy over the query pool classes', anchor: 'start' },
    background: 'white',
    hconcat: [
      {
        width: 330,
        height: 220,
        data: { values: lines },
        mark: { type: 'line', point: true },
        encoding: {
          x: { field: 'queries', type: 'quantitative', title: 'queries sent' },
          y: { field: 'pi', type: 'quantitative', title: 'π(class)', scale: { domain: [0, 1] } },
          color,
        },
      },
      {
        width: 330,
        height: 220,
        data: { values: bars },
        mark: 'bar',
        encoding: {
          x: { field: 'label', type: 'ordinal', title: 'pool class', sort: order },
          y: { field: 'count', type: 'quantitative', title: `queries of the first ${last?.budget ?? 0}` },
          color: { ...color, legend: null },
        },
      },
    ],
  };
}

export async function policyPlotSvg(report: QueryPolicyReport, title: string): Promise<string> {
  return renderSvg(policySpec(report, title));
}
