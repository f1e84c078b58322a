/**
 * Work several cells share (a non-adaptive attack's transfer set with its clean posteriors, MAD's side
 * information on it) is done by one cell, its "leader", while the others wait: two workers never
 * compute the same transfer set at once, on this machine or on another shard. A key is ready once
 * its marker file `locks/<key>.ready` exists; a leader holds `locks/<key>.lock` (file-lock.ts)
 * while it runs, and writes the marker when its cell succeeded.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../../util/atomic.js';
import { FileLock } from './file-lock.js';

export const LOCKS_DIR = 'locks';

/** What the scheduler needs to know and do about shared keys (injectable for tests). */
export interface SharedWorkGate {
  isReady(key: string): Promise<boolean>;
  /** Become the leader of `key`; false when another process leads it. */
  tryLead(key: string): Promise<boolean>;
  /** The leader's cell ended: mark the key ready if it succeeded, and let go of it. */
  finish(key: string, succeeded: boolean): Promise<void>;
  /** Let go of every key still led (on abort). */
  releaseAll(): Promise<void>;
  /** Lock files held now, for a signal handler that must remove them synchronously. */
  heldFiles(): string[];
  /**
   * Claim a cell for this process (its lock `locks/cell-<id>.lock`): 'mine', 'done' when its cell
   * file exists (another process finished it), 'elsewhere' while a live process holds it.
   * Optional: without it every cell handed to the scheduler is this process's.
   */
  claim?(cellId: string): Promise<'mine' | 'done' | 'elsewhere'>;
  /** Let go of a claim (the cell ended, or was not started after all). */
  unclaim?(cellId: string): Promise<void>;
}

const CLAIM_PREFIX = 'cell-';

/** The lock key of a cell claim. */
export function claimKey(cellId: string): string {
  return `${CLAIM_PREFIX}${cellId}`;
}

export class FileGate implements SharedWorkGate {
  private readonly held = new Map<string, FileLock>();
  /** Locks let go of but whose release (async) has not finished: a signal handler completes them. */
  private readonly releasing = new Set<FileLock>();

  constructor(
    private readonly out: string,
    /** Whether a cell's file exists (it is finished): checked after claiming, so a cell finished meanwhile is not run again. */
    private readonly cellFinished: (cellId: string) => Promise<boolean> = () => Promise.resolve(false),
  ) {}

  private file(key: string, ext: 'lock' | 'ready'): string {
    return path.join(this.out, LOCKS_DIR, `${key}.${ext}`);
  }

  async isReady(key: string): Promise<boolean> {
    try {
      await fs.access(this.file(key, 'ready'));
      return true;
    } catch {
      return false;
    }
  }

  async tryLead(key: string): Promise<boolean> {
    if (this.held.has(key)) return false;
    const got = await FileLock.tryAcquire(this.file(key, 'lock'));
    if (!(got instanceof FileLock)) return false;
    this.held.set(key, got);
    return true;
  }

  async finish(key: string, succeeded: boolean): Promise<void> {
    if (succeeded) await writeFileAtomic(this.file(key, 'ready'), `${new Date().toISOString()}\n`);
    const lock = this.held.get(key);
    this.held.delete(key);
    if (!lock) return;
    this.releasing.add(lock);
    try {
      await lock.release();
    } finally {
      this.releasing.delete(lock);
    }
  }

  /**
   * The key's work was deleted (nothing needs it any more): drop its marker, so that a cell
   * needing it after all (a grown grid) builds it again instead of waiting for it or reading nothing.
   */
  async forget(key: string): Promise<void> {
    await fs.rm(this.file(key, 'ready'), { force: true });
  }

  async claim(cellId: string): Promise<'mine' | 'done' | 'elsewhere'> {
    if (!(await this.tryLead(claimKey(cellId)))) return (await this.cellFinished(cellId)) ? 'done' : 'elsewhere';
    if (!(await this.cellFinished(cellId))) return 'mine';
    await this.unclaim(cellId);
    return 'done';
  }

  /**
   * Remove the locks a killed process left behind: a claim on a cell it had finished, or a shared
   * key it had marked ready (killed between the two writes), or one it was still working on. Only
   * locks whose holder is provably gone are taken (a live holder's lock is never stale on first
   * sight), then let go of at once; a key still needed is led again by whoever needs it.
   */
  async dropDeadHolders(): Promise<void> {
    const names = await fs.readdir(path.join(this.out, LOCKS_DIR)).catch(() => [] as string[]);
    for (const name of names) {
      if (!name.endsWith('.lock')) continue;
      const key = name.slice(0, -'.lock'.length);
      if (await this.tryLead(key)) await this.finish(key, false);
    }
  }

  async unclaim(cellId: string): Promise<void> {
    await this.finish(claimKey(cellId), false);
  }

  async releaseAll(): Promise<void> {
    for (const key of [...this.held.keys()]) await this.finish(key, false);
  }

  /**
   * Release every lock held, synchronously (token-checked): for a signal handler about to exit.
   * Releases in progress are finished too: the signal may have come between two of their awaits.
   */
  releaseAllSync(): void {
    for (const lock of [...this.held.values(), ...this.releasing]) lock.releaseSync();
    this.held.clear();
    this.releasing.clear();
  }

  heldFiles(): string[] {
    return [...this.held.values()].map((l) => l.file);
  }
}
