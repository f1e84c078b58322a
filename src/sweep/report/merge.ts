/**
 * Gather the finished cells of the grid into sweep.csv, the plots and summary.md. Runs at the end
 * of every sweep and on `--merge`; it reads only cells/ and the config, so it gives the same
 * files whichever process, shard or rerun produced the cells. Cell files of other grids (an
 * earlier version of the config) are left alone and counted.
 */
import * as path from 'node:path';
import { promises as fs } from 'node:fs';
import { datasetInfo } from '../../data/catalog.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { aggregate } from './aggregate.js';
import type { CellRecord } from '../run/cell-record.js';
import { listCellFiles, readCell } from '../run/cell-store.js';
import { attackLabels } from '../plan/grid.js';
import type { SweepPlan } from '../plan/plan.js';
import { panelSpec, plotFileName, PLOTS_DIR, renderSvg } from './plots.js';
import { buildRows } from './rows.js';
import { CSV_FILE, sweepCsv } from './sweep-csv.js';
import { SUMMARY_FILE, sweepSummary } from './summary.js';
import { describeVictim } from '../plan/victim-identity.js';
import { makeDirs } from '../../util/safe-fs.js';

interface FinishedCells {
  records: Map<string, CellRecord>;
  /** Cell files of this grid that cannot be trusted (unreadable, or holding other settings). */
  damaged: { id: string; problem: string }[];
  /** Cell files that belong to no cell of this grid. */
  orphans: number;
}

/** Read every finished cell of the grid from `<out>/cells/`. */
export async function readFinishedCells(plan: SweepPlan): Promise<FinishedCells> {
  const present = await listCellFiles(plan.out);
  const records = new Map<string, CellRecord>();
  const damaged: FinishedCells['damaged'] = [];
  let matched = 0;
  for (const cell of plan.cells) {
    if (!present.has(cell.id)) continue;
    matched++;
    const r = await readCell(plan.out, cell.id);
    if (r.ok) records.set(cell.id, r.record);
    else damaged.push({ id: cell.id, problem: r.problem });
  }
  return { records, damaged, orphans: present.size - matched };
}

export interface MergeReport {
  total: number;
  finished: number;
  orphans: number;
  damaged: FinishedCells['damaged'];
  csv: string;
  summary: string;
  plots: string[];
}

export async function mergeSweep(plan: SweepPlan): Promise<MergeReport> {
  const finished = await readFinishedCells(plan);
  const labels = attackLabels(plan.config.attacks);
  const attackOrder = new Map<string, number>();
  for (const [index, label] of labels) attackOrder.set(label, index);
  const rows = buildRows(plan.cells, finished.records, plan.config.defenses, attackOrder);
  const panels = aggregate(rows, datasetInfo(plan.victim.identity.dataset).numClasses);
  // Any cell from the fake runner makes every output say it is not a measurement.
  const fake = [...finished.records.values()].some((r) => r.provenance.runner === 'fake');
  const csvFile = path.join(plan.out, CSV_FILE);
  const summaryFile = path.join(plan.out, SUMMARY_FILE);
  const plotsDir = path.join(plan.out, PLOTS_DIR);
  const svgs = await Promise.all(panels.map(async (p) => ({ name: plotFileName(p), svg: await renderSvg(panelSpec(p, { fake })) })));
  await makeDirs(plan.out, 'sweep output');
  await writeFileAtomic(csvFile, sweepCsv(rows, { fake }));
  await writeFileAtomic(
    summaryFile,
    sweepSummary({ name: plan.config.name, victim: describeVictim(plan.victim.identity), finished: finished.records.size, total: plan.cells.length, fake }, panels),
  );
  // File by file (shards finishing together may merge at the same moment), then drop plots of
  // attacks or budgets no longer in the grid.
  for (const { name, svg } of svgs) await writeFileAtomic(path.join(plotsDir, name), svg);
  const keep = new Set(svgs.map((s) => s.name));
  for (const name of await fs.readdir(plotsDir).catch(() => [] as string[])) {
    if (name.endsWith('.svg') && !keep.has(name)) await fs.rm(path.join(plotsDir, name), { force: true });
  }
  return {
    total: plan.cells.length,
    finished: finished.records.size,
    orphans: finished.orphans,
    damaged: finished.damaged,
    csv: csvFile,
    summary: summaryFile,
    plots: svgs.map((s) => path.join(plotsDir, s.name)),
  };
}
