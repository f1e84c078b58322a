/**
 * Which cell a free worker runs next. Cells are taken in order, except that a cell whose shared
 * work (see shared-work.ts) is neither ready nor leadable waits: the first cell of a transfer
 * set runs alone (preferably the undefended one), the others of that set follow once it is
 * cached, and meanwhile free workers take cells of other transfer sets.
 */
import type { Cell } from '../plan/cell.js';
import type { SharedWorkGate } from './shared-work.js';
import { UNDEFENDED } from '../config/defense-catalog.js';

export class CellScheduler {
  private pending: Cell[];
  private readonly ready = new Set<string>();
  /** Keys this process leads, by the id of the cell leading them. */
  private readonly leading = new Map<string, string>();
  /** True when the last next() found cells waiting on keys another process leads. */
  blockedElsewhere = false;

  constructor(
    cells: readonly Cell[],
    private readonly gate: SharedWorkGate,
  ) {
    this.pending = orderForSharing(cells);
  }

  get remaining(): number {
    return this.pending.length;
  }

  /** The next cell to start, or null when every pending cell waits on shared work. */
  async next(): Promise<Cell | null> {
    this.blockedElsewhere = false;
    // Per call: keys found ready on disk, and keys another process leads.
    const ledElsewhere = new Set<string>();
    for (let i = 0; i < this.pending.length; i++) {
      const cell = this.pending[i]!;
      const toLead: string[] = [];
      let blocked = false;
      for (const key of cell.shared) {
        if (this.ready.has(key)) continue;
        if (this.leading.has(key) || ledElsewhere.has(key)) {
          blocked = true;
          break;
        }
        if (await this.gate.isReady(key)) {
          this.ready.add(key);
          continue;
        }
        toLead.push(key);
      }
      if (blocked) continue;
      const got: string[] = [];
      for (const key of toLead) {
        if (await this.gate.tryLead(key)) {
          got.push(key);
          continue;
        }
        // Another process leads it, or finished it between our check and our try.
        if (await this.gate.isReady(key)) {
          this.ready.add(key);
          continue;
        }
        ledElsewhere.add(key);
        this.blockedElsewhere = true;
        blocked = true;
        break;
      }
      if (blocked) {
        for (const key of got) await this.gate.finish(key, false);
        continue;
      }
      for (const key of got) this.leading.set(key, cell.id);
      this.pending.splice(i, 1);
      return cell;
    }
    return null;
  }

  /** A started cell ended; the keys it led become ready (on success) or leaderless (on failure). */
  async finished(cell: Cell, succeeded: boolean): Promise<void> {
    for (const [key, leader] of [...this.leading]) {
      if (leader !== cell.id) continue;
      this.leading.delete(key);
      await this.gate.finish(key, succeeded);
      if (succeeded) this.ready.add(key);
    }
  }

  /** Drop every pending cell (after a fatal error) and let go of led keys. */
  async abort(): Promise<void> {
    this.pending = [];
    this.leading.clear();
    await this.gate.releaseAll();
  }
}

/**
 * Grid order, except that within cells sharing a transfer set the undefended cell comes first
 * (it builds the set without side information), then cells needing no more shared work, then
 * the rest.
 */
export function orderForSharing(cells: readonly Cell[]): Cell[] {
  const firstSeen = new Map<string, number>();
  cells.forEach((c, i) => {
    const k = c.shared[0];
    if (k !== undefined && !firstSeen.has(k)) firstSeen.set(k, i);
  });
  const rank = (c: Cell, i: number): [number, number, number] => {
    const k = c.shared[0];
    if (k === undefined) return [i, 0, i];
    return [firstSeen.get(k)!, c.settings.defense.name === UNDEFENDED ? 0 : c.shared.length, i];
  };
  return cells
    .map((c, i) => ({ c, r: rank(c, i) }))
    .sort((a, b) => a.r[0] - b.r[0] || a.r[1] - b.r[1] || a.r[2] - b.r[2])
    .map((x) => x.c);
}
