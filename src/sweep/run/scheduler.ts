/**
 * Which cell a free worker runs next. Cells are taken in order, except that a cell whose shared
 * work (see shared-work.ts) is neither ready nor leadable waits: the first cell of a transfer
 * set runs alone (preferably the undefended one), the others of that set follow once it is
 * cached, and meanwhile free workers take cells of other transfer sets.
 * What a defense builds beside the victim (its `prepare-` key) is a task of its own, offered
 * before any cell (nextPrepare): a free worker builds it while the others run cells that do not
 * need it. Should that task fail, the first cell needing the key leads it and builds it itself.
 */
import type { Cell, CellSettings } from '../plan/cell.js';
import type { SharedWorkGate } from './shared-work.js';
import { UNDEFENDED } from '../config/defense-catalog.js';
import { PREPARE_KEY_PREFIX } from '../plan/grid.js';

/** A defense's prepare() for the cells sharing its key, run by a worker ahead of them. */
export interface PrepareTask {
  /** The `prepare-` key; also the task's id as a leader. */
  readonly key: string;
  /** A cell's defense and seed: what prepare() is called with. */
  readonly settings: Pick<CellSettings, 'defense' | 'seed'>;
}

/** One task per distinct `prepare-` key of the cells, in the cells' order. */
export function prepareTasksOf(cells: readonly Cell[]): PrepareTask[] {
  const tasks = new Map<string, PrepareTask>();
  for (const cell of cells) {
    for (const key of cell.shared) {
      if (key.startsWith(PREPARE_KEY_PREFIX) && !tasks.has(key)) tasks.set(key, { key, settings: { defense: cell.settings.defense, seed: cell.settings.seed } });
    }
  }
  return [...tasks.values()];
}

export class CellScheduler {
  private pending: Cell[];
  private prepares: PrepareTask[];
  private readonly ready = new Set<string>();
  /** Keys this process leads, by the id of the cell (or the key of the prepare task) leading them. */
  private readonly leading = new Map<string, string>();
  /** True when the last next() found cells waiting on keys another process leads. */
  blockedElsewhere = false;
  /** Cells the last next() found held by another live process (left to it). */
  claimedElsewhere = 0;

  constructor(
    cells: readonly Cell[],
    private readonly gate: SharedWorkGate,
    prepares: readonly PrepareTask[] = [],
  ) {
    this.pending = orderForSharing(cells);
    this.prepares = [...prepares];
  }

  /**
   * The next prepare task to run, or null when none is left. A task whose key is ready already, or
   * is led here or by another process, is dropped: the cells needing that key wait for it as usual.
   */
  async nextPrepare(): Promise<PrepareTask | null> {
    for (let task = this.prepares.shift(); task; task = this.prepares.shift()) {
      if (this.ready.has(task.key) || this.leading.has(task.key)) continue;
      if (await this.gate.isReady(task.key)) {
        this.ready.add(task.key);
        continue;
      }
      if (!(await this.gate.tryLead(task.key))) continue;
      this.leading.set(task.key, task.key);
      return task;
    }
    return null;
  }

  /** A prepare task ended: its key becomes ready (on success) or leaderless (on failure). */
  async prepared(task: PrepareTask, succeeded: boolean): Promise<void> {
    await this.release(task.key, succeeded);
  }

  get remaining(): number {
    return this.pending.length;
  }

  /** The next cell to start, or null when every pending cell waits on shared work. */
  async next(): Promise<Cell | null> {
    this.blockedElsewhere = false;
    this.claimedElsewhere = 0;
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
      if (this.gate.claim) {
        const claim = await this.gate.claim(cell.id);
        if (claim === 'done') {
          this.pending.splice(i--, 1);
          continue;
        }
        if (claim === 'elsewhere') {
          this.claimedElsewhere++;
          continue;
        }
      }
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
        await this.gate.unclaim?.(cell.id);
        continue;
      }
      for (const key of got) this.leading.set(key, cell.id);
      this.pending.splice(i, 1);
      return cell;
    }
    return null;
  }

  /** A started cell ended; the keys it led become ready (on success) or leaderless (on failure), and its claim goes. */
  async finished(cell: Cell, succeeded: boolean): Promise<void> {
    await this.release(cell.id, succeeded);
    await this.gate.unclaim?.(cell.id);
  }

  /** True when every cell still pending is held by another live process: nothing is left to pull here. */
  get onlyClaimedElsewhere(): boolean {
    return this.pending.length > 0 && this.claimedElsewhere === this.pending.length;
  }

  private async release(leaderId: string, succeeded: boolean): Promise<void> {
    for (const [key, leader] of [...this.leading]) {
      if (leader !== leaderId) continue;
      this.leading.delete(key);
      await this.gate.finish(key, succeeded);
      if (succeeded) this.ready.add(key);
    }
  }

  /** Drop every pending cell and prepare task (after a fatal error) and let go of led keys. */
  async abort(): Promise<void> {
    this.pending = [];
    this.prepares = [];
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
  // A cell's group: its query work (transfer set or query phase), not what its defense prepares.
  const groupOf = (c: Cell): string | undefined => c.shared.find((k) => !k.startsWith(PREPARE_KEY_PREFIX));
  const firstSeen = new Map<string, number>();
  cells.forEach((c, i) => {
    const k = groupOf(c);
    if (k !== undefined && !firstSeen.has(k)) firstSeen.set(k, i);
  });
  const rank = (c: Cell, i: number): [number, number, number] => {
    const k = groupOf(c);
    if (k === undefined) return [i, 0, i];
    return [firstSeen.get(k)!, c.settings.defense.name === UNDEFENDED ? 0 : c.shared.length, i];
  };
  return cells
    .map((c, i) => ({ c, r: rank(c, i) }))
    .sort((a, b) => a.r[0] - b.r[0] || a.r[1] - b.r[1] || a.r[2] - b.r[2])
    .map((x) => x.c);
}
