/** `poison sweep FILE --dry-run`: the cells of the grid (or of one shard) and which are finished. Writes nothing. */
import { describeDefense } from '../../defenses/spec.js';
import { readFinishedCells } from '../report/merge.js';
import type { SweepPlan } from './plan.js';
import { shardOf, type Shard } from './shard.js';
import type { DirState } from '../run/sweep-dir.js';
import { describeVictim } from './victim-identity.js';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

export async function dryRunListing(plan: SweepPlan, state: DirState, shard: Shard): Promise<string> {
  const finished = state.kind === 'resume' ? await readFinishedCells(plan) : null;
  const done = (id: string): boolean => finished?.records.has(id) ?? false;
  const damaged = new Set(finished?.damaged.map((d) => d.id) ?? []);
  const mine = shardOf(plan.cells, shard);
  const mineIds = new Set(mine.map((c) => c.id));
  const listed = plan.cells.filter((c) => mineIds.has(c.id));
  const doneCount = plan.cells.filter((c) => done(c.id)).length;
  const lines: string[] = [];
  lines.push(`sweep ${plan.config.name} (${plan.config.file}) → ${plan.out}`);
  let victimState = '';
  if (plan.victim.trained) {
    const trained = await fs.access(path.join(plan.victim.dir, 'params.json')).then(() => true, () => false);
    victimState = state.kind === 'resume' && trained ? ' (trained)' : ' (to be trained first)';
  }
  lines.push(`victim: ${describeVictim(plan.victim.identity)}${victimState}`);
  if (state.kind === 'replace') lines.push(`--force: ${state.reason}; it would be deleted first`);
  lines.push(
    `${plan.cells.length} cells: ${doneCount} finished, ${plan.cells.length - doneCount} to run` +
      (shard.count > 1 ? `; shard ${shard.index}/${shard.count} has ${mine.length}, ${mine.filter((c) => !done(c.id)).length} to run` : ''),
  );
  if (finished && finished.orphans > 0) lines.push(`(${finished.orphans} cell files in ${plan.out}/cells belong to no cell of this grid: kept, not merged)`);
  const table = [['CELL', 'STATUS', 'ATTACK', 'BUDGET', 'SEED', 'DEFENSE']];
  for (const c of listed) {
    const status = done(c.id) ? 'done' : damaged.has(c.id) ? 'damaged' : 'todo';
    table.push([c.id, status, c.attackLabel, String(c.settings.budget), String(c.settings.seed), describeDefense(c.settings.defense)]);
  }
  const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
  for (const r of table) lines.push(r.map((v, i) => (i === r.length - 1 ? v : v.padEnd(widths[i]!))).join('  '));
  return lines.join('\n') + '\n';
}
