/**
 * `poison sweep CONFIG --status`: what a running or finished sweep is doing, read from its output
 * folder alone (so it works from any machine sharing it): cells done (with when, where and how
 * long), running (the claim's holder: host, pid, Slurm job, since when), failed (the reason's first
 * line), pending; and an estimate of the time left from the finished cells' durations.
 */
import * as path from 'node:path';
import type { SweepPlan } from '../plan/plan.js';
import { describeCell } from '../run/cell-line.js';
import { listCellFiles, readCell, readFailures } from '../run/cell-store.js';
import { readHolder } from '../run/file-lock.js';
import { claimKey, LOCKS_DIR } from '../run/shared-work.js';

interface CellStatus {
  id: string;
  cell: string;
  state: 'done' | 'running' | 'failed' | 'pending';
  host?: string;
  pid?: number;
  slurmJob?: string;
  /** Done: the cell's own start and end; running: when its claim was taken. */
  startedAt?: string;
  finishedAt?: string;
  seconds?: number;
  /** Which process ran it (host pid, Slurm job), when the sweep recorded it. */
  task?: string;
  reason?: string;
}

interface SweepStatus {
  name: string;
  out: string;
  total: number;
  done: number;
  running: number;
  failed: number;
  pending: number;
  /** Seconds left: mean seconds of a finished cell × cells left ÷ cells running at once (at least 1); null before any cell finished. */
  estimatedSecondsLeft: number | null;
  cells: CellStatus[];
}

export async function sweepStatus(plan: SweepPlan): Promise<SweepStatus> {
  const files = await listCellFiles(plan.out);
  const failures = await readFailures(plan.out);
  const cells: CellStatus[] = [];
  for (const cell of plan.cells) {
    const base = { id: cell.id, cell: describeCell(cell) };
    if (files.has(cell.id)) {
      const read = await readCell(plan.out, cell.id);
      if (read.ok) {
        const p = read.record.provenance;
        cells.push({ ...base, state: 'done', host: p.host, startedAt: p.startedAt, finishedAt: p.finishedAt, seconds: read.record.seconds.total, ...(p.task ? { task: p.task } : {}) });
        continue;
      }
    }
    const holder = await readHolder(path.join(plan.out, LOCKS_DIR, `${claimKey(cell.id)}.lock`));
    if (holder) {
      cells.push({ ...base, state: 'running', host: holder.host, pid: holder.pid, startedAt: holder.since, ...(holder.slurmJob ? { slurmJob: holder.slurmJob } : {}) });
      continue;
    }
    const failure = failures.get(cell.id);
    if (failure) cells.push({ ...base, state: 'failed', host: failure.host, finishedAt: failure.at, reason: failure.reason });
    else cells.push({ ...base, state: 'pending' });
  }
  const count = (s: CellStatus['state']): number => cells.filter((c) => c.state === s).length;
  const durations = cells.filter((c) => c.state === 'done' && c.seconds !== undefined).map((c) => c.seconds!);
  const left = count('running') + count('pending') + count('failed');
  const mean = durations.length > 0 ? durations.reduce((a, b) => a + b, 0) / durations.length : null;
  return {
    name: plan.config.name,
    out: plan.out,
    total: cells.length,
    done: count('done'),
    running: count('running'),
    failed: count('failed'),
    pending: count('pending'),
    estimatedSecondsLeft: mean === null ? null : left === 0 ? 0 : Math.round((mean * left) / Math.max(1, count('running'))),
    cells,
  };
}

function duration(seconds: number): string {
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

export function statusText(s: SweepStatus, now = Date.now()): string {
  const lines = [
    `sweep ${s.name} (${s.out}): ${s.done} of ${s.total} cells done, ${s.running} running, ${s.failed} failed, ${s.pending} pending` +
      (s.estimatedSecondsLeft === null ? '' : s.estimatedSecondsLeft === 0 ? '' : `; about ${duration(s.estimatedSecondsLeft)} left`),
  ];
  for (const c of s.cells.filter((x) => x.state === 'running')) {
    const since = c.startedAt ? Date.parse(c.startedAt) : NaN;
    lines.push(`  running ${c.id} ${c.cell}: ${c.host ?? '?'} pid ${c.pid ?? '?'}${c.slurmJob ? `, Slurm job ${c.slurmJob}` : ''}${Number.isNaN(since) ? '' : `, for ${duration(Math.max(0, (now - since) / 1000))}`}`);
  }
  for (const c of s.cells.filter((x) => x.state === 'failed')) lines.push(`  failed  ${c.id} ${c.cell}: ${c.reason ?? '?'}`);
  return lines.join('\n') + '\n';
}
